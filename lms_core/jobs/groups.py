"""Jobs claimed, run and recorded in groups: short jobs share their transactions.

Why: one claim and one record per job are two write transactions (``BEGIN IMMEDIATE`` on
SQLite, a commit each); for a job that takes a fraction of a millisecond (a no-op, a cached
look-up) they are nearly all of its cost, and a worker ran four times fewer jobs a second
than bare Huey. Grouped, a no-op costs a share of two transactions.

* :func:`run_jobs` (a wake-up naming job ids) and :func:`run_due` (every due job, ``run-due``)
  claim a group in one transaction (:func:`ledger.claim_group_in`): the oldest due job, and
  when its handler opted in (``@handler(..., groupable=True)``: trivially short, idempotent
  kinds) the next due jobs of the same kind. They run one after the other, and their
  outcomes are written in the transaction that claims the next group, each fenced by its
  own claim's token (:func:`ledger._record`). Every other kind goes one job per claim.
* Every job of a group is held by the lease renewer from its claim until its outcome is
  written (or the run stops, whatever stops it), so a job waiting its turn keeps its claim.
* The group's size follows the recent pace of its kind in this process (:class:`Pace`): as
  many jobs as take about :data:`GROUP_SECONDS`, and never more than a tenth of the kind's
  lease, by their recent average duration; at most :data:`GROUP_MAX`; one while the kind
  has not been timed.
* A kill -9 during a group leaves its jobs ``running`` until the leases expire; only the
  group's first job has counted the attempt (:func:`claims._take`), so jobs that waited
  behind it and never started lose nothing. Their effects are idempotent by key like every
  job's (docs/jobs.md, "Exactly once"): nothing is done twice, only tried again.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy.orm import Session

from lms_core.db import SessionFactory, unit_of_work
from lms_core.jobs import ledger
from lms_core.models.jobs import Job, JobStatus
from lms_core.settings import Settings

#: The most jobs one claim takes.
GROUP_MAX = 64
#: How long a group should take by the recent pace: the most a finished outcome waits to be
#: written, and about the most work a kill -9 sends back to the queue.
GROUP_SECONDS = 0.02
#: A group is expected to take at most this share of its kind's lease.
LEASE_SHARE = 0.1
#: Weight of the latest job in the running average of durations.
_WEIGHT = 0.2

Done = list[tuple[Job, dict[str, Any]]]


class Pace:
    """The recent average duration of each kind's jobs in this process, and the group sizes
    they give (one kind's pace says nothing of another's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.averages: dict[str, float] = {}

    def size(self, kind: str, room: int | None = None, lease: float | None = None) -> int:
        """Jobs of ``kind`` to claim next: about :data:`GROUP_SECONDS` of work (at most
        :data:`LEASE_SHARE` of ``lease``), 1 to :data:`GROUP_MAX` (and at most ``room``)."""
        cap = GROUP_MAX if room is None else max(0, min(room, GROUP_MAX))
        average = self.averages.get(kind)
        if average is None:
            return min(1, cap)
        seconds = GROUP_SECONDS if lease is None else min(GROUP_SECONDS, lease * LEASE_SHARE)
        return max(min(1, cap), min(cap, int(seconds / max(average, 1e-6))))

    def most(self, room: int | None = None) -> int:
        """The largest group any kind timed here may get: how many due jobs a claim reads."""
        kinds = list(self.averages)
        return max((self.size(kind, room) for kind in kinds), default=self.size("", room))

    def note(self, kind: str, seconds: float) -> None:
        """A job of ``kind`` took ``seconds``: a slow one shrinks its kind's next group."""
        with self._lock:
            average = self.averages.get(kind)
            self.averages[kind] = (
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
        pace.note(job.kind, time.monotonic() - started)
    return done


def _claim(
    session: Session,
    settings: Settings,
    worker: str,
    pace: Pace,
    room: int | None,
    **kw: Any,
) -> list[Job]:
    """The next group: as many of the oldest due jobs as the pace of their kind allows."""
    limit = pace.most(room)
    if limit < 1:
        return []

    def group_size(kind: str) -> int:
        return pace.size(kind, room, ledger.lease_for(settings, kind))

    return ledger.claim_group_in(
        session, settings, worker, limit=limit, group_size=group_size, **kw
    )


def run_jobs(
    factory: SessionFactory,
    settings: Settings,
    job_ids: list[int],
    *,
    worker: str | None = None,
    pace: Pace = PACE,
) -> list[ledger.Outcome]:
    """Run those of ``job_ids`` that are due (a wake-up's jobs), in groups; their outcomes.
    A job not due (done, held by another worker, not due yet) is left alone; each runs at
    most once per call."""
    who = worker or ledger.worker_name()
    todo = list(dict.fromkeys(job_ids))
    outcomes: list[ledger.Outcome] = []
    done: Done = []
    held: list[Job] = []  # claimed, outcome not written yet: the renewer holds them
    try:
        while True:
            with unit_of_work(factory) as session:
                outcomes.extend(ledger._record(session, job, values) for job, values in done)
                jobs = _claim(session, settings, who, pace, None, ids=todo) if todo else []
            ledger.release(held)
            done, held = [], jobs
            if not jobs:
                return outcomes
            taken = {job.id for job in jobs}
            todo = [i for i in todo if i not in taken]
            ledger.hold(factory, settings, jobs)
            done = _run(factory, settings, jobs, pace)
    finally:  # an error writing outcomes, or a BaseException out of a handler: the leases
        ledger.release(held)  # are no longer renewed, they expire and the jobs run again


def run_due(
    factory: SessionFactory,
    settings: Settings,
    *,
    worker: str | None = None,
    limit: int | None = None,
    pace: Pace = PACE,
) -> list[ledger.Outcome]:
    """Run: every job due now, oldest first, in groups, until none is (or ``limit`` ran);
    the loop ``lmsctl jobs run-due`` runs (``worker`` defaults to this process's name).

    A job that fails and is due again at once (no backoff left) is not run twice in one
    drain: each job runs at most once per call.
    """
    worker = worker or ledger.worker_name()
    outcomes: list[ledger.Outcome] = []
    # Only a job that failed can be due again in this drain (succeeded and dead are final, and
    # one taken over by another worker is held): those are left out, not every job seen.
    failed: set[int] = set()
    done: Done = []
    held: list[Job] = []  # claimed, outcome not written yet: the renewer holds them
    try:
        while True:
            room = None if limit is None else limit - len(outcomes) - len(done)
            with unit_of_work(factory) as session:
                recorded = [ledger._record(session, job, values) for job, values in done]
                failed.update(o.job_id for o in recorded if o.status == JobStatus.failed)
                jobs = _claim(session, settings, worker, pace, room, exclude=frozenset(failed))
            outcomes.extend(recorded)
            ledger.release(held)
            done, held = [], jobs
            if not jobs:
                return outcomes
            ledger.hold(factory, settings, jobs)
            done = _run(factory, settings, jobs, pace)
    finally:
        ledger.release(held)
