"""What a worker does besides running a woken job: find due jobs, queue periodic slots, drain.

* :func:`wake_due` sends a wake-up for each due job (the poll that makes lost wake-ups and
  expired leases harmless);
* :func:`periodic_runner` is the body of each :mod:`jobs.schedule` entry's Huey task: queue
  the entry's latest slot (once, by key) and run it here;
* :func:`drain` is ``lmsctl jobs run-due``: empty the Huey queue (refusing forged entries),
  queue every periodic slot that is due, run every due job once, and report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobs.schedule import SCHEDULE, Periodic, latest_slot
from jobs.signing import ForgedEntry
from lms_core.db import SessionFactory, unit_of_work
from lms_core.jobs import ledger
from lms_core.jobs.groups import run_due as run_due_groups
from lms_core.settings import Settings

if TYPE_CHECKING:
    from jobs.tasks import Tasks

log = logging.getLogger(__name__)


def wake_due(factory: SessionFactory, wake: Callable[[list[int]], Any], *, limit: int = 100) -> int:
    """Send ``wake(job_ids)`` for up to ``limit`` due jobs, oldest first; returns how many."""
    with unit_of_work(factory, write=False) as session:
        ids = ledger.due_ids(session, limit=limit)
    if ids:
        wake(ids)
    return len(ids)


def queue_periodic(
    factory: SessionFactory, entry: Periodic, now: datetime | None = None
) -> int | None:
    """Queue ``entry``'s latest slot (a no-op when that slot's job exists); its job id."""
    slot = latest_slot(entry, now)
    if slot is None:
        return None
    with unit_of_work(factory) as session:
        job = ledger.enqueue(session, entry.kind, entry.args, key=entry.key(slot))
        return job.id


def periodic_runner(
    entry: Periodic, factory: Callable[[], SessionFactory], settings: Settings
) -> Callable[[], None]:
    """The Huey periodic task of ``entry``: queue its slot, run it if still due."""

    def run() -> None:  # None: Huey keeps nothing in its result store
        job_id = queue_periodic(factory(), entry)
        if job_id is not None:
            ledger.run_job(factory(), settings, job_id)

    run.__name__ = f"schedule_{entry.name.replace('-', '_')}"
    return run


@dataclass
class DrainReport:
    """What one ``run-due`` did: queue entries run or refused, and every job's outcome."""

    messages: int = 0
    refused: list[str] = field(default_factory=list)
    periodic: dict[str, int | None] = field(default_factory=dict)
    outcomes: list[ledger.Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[ledger.Outcome]:
        return [o for o in self.outcomes if o.status != "succeeded"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.refused

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "queue_messages": self.messages,
            "refused_entries": self.refused,
            "periodic": self.periodic,
            "jobs": [
                {
                    "id": o.job_id,
                    "kind": o.kind,
                    "status": o.status,
                    "attempt": o.attempt,
                    "error": o.error,
                }
                for o in self.outcomes
            ],
        }


def _drain_queue(tasks: Tasks, report: DrainReport) -> None:
    """Run or refuse every message now in the Huey queue (wake-ups run their job here)."""
    queue = tasks.huey
    for _ in range(queue.pending_count() + 1):
        try:
            message = queue.dequeue()
        except ForgedEntry as exc:
            report.refused.append(str(exc))
            continue
        except Exception as exc:
            # Signed but unreadable (a pickle naming a module this version lacks, a corrupt
            # entry): huey has already taken it off the queue. Say so, and read the next.
            log.error("dropped a queue entry that could not be read", exc_info=True)
            report.refused.append(
                f"queue entry dropped: it could not be read ({type(exc).__name__}: {exc})"
            )
            continue
        if message is None:
            break
        report.messages += 1
        if message.name in (tasks.run_job.name, tasks.run_jobs.name, tasks.dispatch_due.name):
            # Wake-ups: the drain below runs every due job, with its outcome reported.
            continue
        try:
            queue.execute(message)
        except Exception:  # huey logs it; the ledger is what run-due answers for
            log.exception("queue task %s failed", message.name)


def drain(tasks: Tasks, factory: SessionFactory, *, worker: str | None = None) -> DrainReport:
    """Run: ``lmsctl jobs run-due`` (see the module docstring)."""
    report = DrainReport()
    _drain_queue(tasks, report)
    for entry in SCHEDULE:
        report.periodic[entry.name] = queue_periodic(factory, entry)
    report.outcomes = run_due_groups(factory, tasks.settings, worker=worker)
    return report
