"""Tasks, registered on a Huey instance by a factory instead of on an import-time global.

huey's ``docs/imports.rst`` puts the instance in one module and has ``tasks.py`` import it.
We keep its point (the producer and the consumer register the same tasks under the same
names, ``jobs.tasks.<function>``) without the import-time instance: whoever built the queue
with :func:`jobs.huey_app.make_huey` calls :func:`register_tasks` once on it.

The job ledger (``lms_core.jobs``) is the record of work; Huey carries wake-ups only:
``run_jobs(job_ids)`` runs those jobs that are still due (in groups:
:mod:`lms_core.jobs.groups`), ``run_job(job_id)`` one (entries queued by an earlier
version), ``dispatch_due()`` (every minute) wakes every due job, and one periodic task per entry of :mod:`jobs.schedule` queues its slot's job.
Tasks take ids, never ORM objects, and open their own unit of work.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import huey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from jobs import schedule
from lms_core.db import SessionFactory, make_engine, make_session_factory
from lms_core.jobs.cron import parse as parse_cron
from lms_core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class _Database:
    """The engine of one queue's tasks, built on first use (so after a consumer forks)."""

    settings: Settings
    factory: SessionFactory | None = None
    engine: Engine | None = field(default=None, repr=False)
    #: Called with each new sessionmaker (to wake workers after commits: jobs.wakeup).
    on_factory: Any = field(default=None, repr=False)

    def session_factory(self) -> SessionFactory:
        if self.factory is None:
            self.engine = make_engine(self.settings)
            made = make_session_factory(self.engine)
            if self.on_factory is not None:
                self.on_factory(made)
            self.factory = made
        return self.factory

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
            self.engine, self.factory = None, None


@dataclass(frozen=True)
class Tasks:
    """The task wrappers of one Huey instance; call one to enqueue it, ``.call_local`` to run it."""

    huey: huey.Huey
    settings: Settings
    ping: Any
    recompute_course_progress: Any
    run_job: Any
    run_jobs: Any
    #: ``wake(job_ids)``: queue wake-ups for those jobs (:func:`jobs.wakeup.chunks` of them).
    wake: Any
    dispatch_due: Any
    #: schedule entry name -> its periodic task.
    periodic: dict[str, Any]
    database: _Database = field(repr=False)

    def close(self) -> None:
        """Release the database connections the tasks opened (the consumer does it on shutdown)."""
        self.database.dispose()


def register_tasks(
    queue: huey.Huey, settings: Settings, *, session_factory: SessionFactory | None = None
) -> Tasks:
    """Define the tasks on ``queue``; ``session_factory`` replaces the one built from settings."""
    from jobs import dispatch, wakeup

    database = _Database(settings, factory=session_factory)

    def ping(echo: str = "pong") -> dict[str, Any]:
        """Prove the pipeline: returns ``echo`` and the id of the process that ran it."""
        return {"echo": echo, "pid": os.getpid()}

    def recompute_course_progress(course_id: int) -> int:
        """Recompute the progress of every active enrollment of a course; returns how many.

        The ledger's ``catalog.recompute_progress`` job (queued by lesson changes) runs the
        same function; this task stays for callers that enqueue it on Huey directly."""
        from lms_core.automation.jobs import recompute_course_by_id

        return recompute_course_by_id(database.session_factory(), course_id)

    # These return None: Huey would keep any other value in its result store, forever; the
    # ledger is where outcomes are kept.
    def run_job(job_id: int) -> None:
        """Run ledger job ``job_id`` if it is still due (else nothing)."""
        from lms_core.jobs.ledger import run_job as run

        run(database.session_factory(), settings, job_id)

    def run_jobs(job_ids: list[int]) -> None:
        """Run those of ledger jobs ``job_ids`` that are still due, in groups."""
        from lms_core.jobs.groups import run_jobs as run

        run(database.session_factory(), settings, [int(i) for i in job_ids])

    def dispatch_due() -> None:
        """Wake every due job (a lost wake-up, an expired lease, a retry now due)."""
        dispatch.wake_due(database.session_factory(), wake)

    # huey ships no type hints: calling its decorators keeps these functions typed for mypy.
    run_job_task = queue.task(retries=0)(run_job)
    run_jobs_task = queue.task(retries=0)(run_jobs)

    def wake(job_ids: list[int]) -> None:
        for chunk in wakeup.chunks(job_ids):
            run_jobs_task(chunk)

    if session_factory is None:

        def on_factory(made: sessionmaker[Session]) -> None:
            wakeup.attach(made, wake)

        database.on_factory = on_factory
    periodic = {
        entry.name: queue.periodic_task(_crontab(entry.cron), retries=0)(
            dispatch.periodic_runner(entry, database.session_factory, settings)
        )
        for entry in schedule.SCHEDULE
    }
    queue.on_shutdown("lms_dispose_engine")(database.dispose)
    return Tasks(
        queue,
        settings,
        ping=queue.task(retries=0)(ping),
        # Retried for transient failures (database restarting, lock timeout); it is idempotent.
        recompute_course_progress=queue.task(retries=3, retry_delay=10)(recompute_course_progress),
        run_job=run_job_task,
        run_jobs=run_jobs_task,
        wake=wake,
        dispatch_due=queue.periodic_task(_crontab(schedule.DISPATCH_CRON), retries=0)(dispatch_due),
        periodic=periodic,
        database=database,
    )


def _crontab(cron: str) -> Any:
    """Huey's periodic test for ``cron``, in the toolkit's own dialect (lms_core.jobs.cron)."""
    return parse_cron(cron).matches
