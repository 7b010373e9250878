"""Jobs claimed, run and recorded in groups: short jobs share their transactions.

Why: one claim and one record per job are two write transactions (``BEGIN IMMEDIATE`` on
SQLite, a commit each); for a job that takes a fraction of a millisecond (a no-op, a cached
look-up) they are nearly all of its cost, and a worker ran four times fewer jobs a second
than bare Huey. Grouped, a no-op costs a share of two transactions.

* :func:`run_jobs` (a wake-up naming job ids) and :func:`run_due` (every due job, ``run-due``)
  claim a group of due jobs in one transaction (:func:`ledger.claim_group_in`: each job its
  own claim, token and lease, attempts + 1, as when claimed alone), run them one after the
  other, and write their outcomes in the transaction that claims the next group. Each
  outcome is fenced by its claim's token as before (:func:`ledger._record`).
* Every job of a group is held by the lease renewer from its claim until its outcome is
  written, so a job waiting its turn in the group keeps its claim however long the others take.
* The group's size follows the process's recent pace (:class:`Pace`): as many jobs as take
  about :data:`GROUP_SECONDS` by the recent average duration, at most :data:`GROUP_MAX`, one
  while nothing has been timed. Slow jobs (a mail, a webhook batch, a file import) therefore
  still go one per claim, and a kill -9 costs them what it always did: the job it was running.
  For short jobs a kill -9 leaves its whole group ``running`` until the leases expire, each
  job counting the attempt (a claim counts one); their effects are idempotent by key like
  every job's (docs/jobs.md, "Exactly once"), so nothing is done twice, only tried again.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from lms_core.db import SessionFactory, unit_of_work
from lms_core.jobs import ledger
from lms_core.models.jobs import Job, JobStatus
from lms_core.settings import Settings

#: The most jobs one claim takes.
GROUP_MAX = 64
#: How long a group should take by the recent pace: the most a finished outcome waits to be
#: written, and about the most work a kill -9 sends back to the queue.
GROUP_SECONDS = 0.02
#: Weight of the latest job in the running average of durations.
_WEIGHT = 0.2

Done = list[tuple[Job, dict[str, Any]]]


class Pace:
    """The recent average duration of a job in this process, and the group size it gives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.average: float | None = None

    def size(self, room: int | None = None) -> int:
        """Jobs to claim next: about :data:`GROUP_SECONDS` of work, 1 to :data:`GROUP_MAX`
        (and at most ``room``)."""
        cap = GROUP_MAX if room is None else max(0, min(room, GROUP_MAX))
        average = self.average
        if average is None:
            return min(1, cap)
        return max(min(1, cap), min(cap, int(GROUP_SECONDS / max(average, 1e-6))))

    def note(self, seconds: float) -> None:
        """One job took ``seconds``: a slow one shrinks the next group at once."""
        with self._lock:
            average = self.average
            self.average = (
                seconds if average is None else (1 - _WEIGHT) * average + _WEIGHT * seconds
            )


#: The pace of this process's jobs (every worker thread's).
PACE = Pace()


def _run(factory: SessionFactory, settings: Settings, jobs: list[Job], pace: Pace) -> Done:
    """Run claimed ``jobs`` in order; their outcomes' values, to record."""
    done: Done = []
    for job in jobs:
        started = time.monotonic()
        done.append((job, ledger._attempt(factory, settings, job, None)))
        pace.note(time.monotonic() - started)
    return done


def run_jobs(
    factory: SessionFactory,
    settings: Settings,
    job_ids: list[int],
    *,
    worker: str | None = None,
    pace: Pace = PACE,
) -> list[ledger.Outcome]:
    """Run those of ``job_ids`` that are due (a wake-up's jobs), in groups; their outcomes.
    A job not due (done, held by another worker, not due yet) is left alone."""
    who = worker or ledger.worker_name()
    todo = list(dict.fromkeys(job_ids))
    outcomes: list[ledger.Outcome] = []
    done: Done = []
    try:
        while todo or done:
            size = pace.size(len(todo))
            batch, todo = todo[:size], todo[size:]
            with unit_of_work(factory) as session:
                outcomes.extend(ledger._record(session, job, values) for job, values in done)
                jobs = ledger.claim_group_in(session, settings, who, ids=batch, limit=len(batch))
            ledger.release([job for job, _ in done])
            done = []
            ledger.hold(factory, settings, jobs)
            done = _run(factory, settings, jobs, pace)
    finally:  # an error writing outcomes: the leases expire and the jobs run again
        ledger.release([job for job, _ in done])
    return outcomes


def run_due(
    factory: SessionFactory,
    settings: Settings,
    *,
    worker: str,
    limit: int | None = None,
    pace: Pace = PACE,
) -> list[ledger.Outcome]:
    """Run every job due now, oldest first, in groups, until none is (or ``limit`` ran).

    A job that fails and is due again at once (no backoff left) is not run twice in one
    drain: each job runs at most once per call.
    """
    outcomes: list[ledger.Outcome] = []
    # Only a job that failed can be due again in this drain (succeeded and dead are final, and
    # one taken over by another worker is held): those are left out, not every job seen.
    failed: set[int] = set()
    done: Done = []
    try:
        while True:
            room = None if limit is None else limit - len(outcomes) - len(done)
            size = pace.size(room)
            with unit_of_work(factory) as session:
                recorded = [ledger._record(session, job, values) for job, values in done]
                failed.update(o.job_id for o in recorded if o.status == JobStatus.failed)
                jobs = (
                    ledger.claim_group_in(
                        session, settings, worker, limit=size, exclude=frozenset(failed)
                    )
                    if size > 0
                    else []
                )
            outcomes.extend(recorded)
            ledger.release([job for job, _ in done])
            done = []
            if not jobs:
                return outcomes
            ledger.hold(factory, settings, jobs)
            done = _run(factory, settings, jobs, pace)
    finally:
        ledger.release([job for job, _ in done])
