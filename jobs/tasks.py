"""Tasks, registered on a Huey instance by a factory instead of on an import-time global.

huey's ``docs/imports.rst`` puts the instance in one module and has ``tasks.py`` import it.
We keep its point (the producer and the consumer register the same tasks under the same
names, ``jobs.tasks.<function>``) without the import-time instance: whoever built the queue
with :func:`jobs.huey_app.make_huey` calls :func:`register_tasks` once on it.

Tasks take ids, never ORM objects, and open their own unit of work: a task may run in
another process, minutes later, after the row changed or disappeared.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import huey
from sqlalchemy import Engine

from lms_core.db import SessionFactory, make_engine, make_session_factory, unit_of_work
from lms_core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class _Database:
    """The engine of one queue's tasks, built on first use (so after a consumer forks)."""

    settings: Settings
    factory: SessionFactory | None = None
    engine: Engine | None = field(default=None, repr=False)

    def session_factory(self) -> SessionFactory:
        if self.factory is None:
            self.engine = make_engine(self.settings)
            self.factory = make_session_factory(self.engine)
        return self.factory

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
            self.engine, self.factory = None, None


@dataclass(frozen=True)
class Tasks:
    """The task wrappers of one Huey instance; call one to enqueue it, ``.call_local`` to run it."""

    huey: huey.Huey
    ping: Any
    recompute_course_progress: Any
    database: _Database = field(repr=False)

    def close(self) -> None:
        """Release the database connections the tasks opened (the consumer does it on shutdown)."""
        self.database.dispose()


def register_tasks(
    queue: huey.Huey, settings: Settings, *, session_factory: SessionFactory | None = None
) -> Tasks:
    """Define the tasks on ``queue``; ``session_factory`` replaces the one built from settings."""
    database = _Database(settings, factory=session_factory)

    def ping(echo: str = "pong") -> dict[str, Any]:
        """Prove the pipeline: returns ``echo`` and the id of the process that ran it."""
        return {"echo": echo, "pid": os.getpid()}

    def recompute_course_progress(course_id: int) -> int:
        """Recompute the progress of every active enrollment of a course; returns how many."""
        from lms_core.catalog.progress import recompute_course
        from lms_core.models import Course

        with unit_of_work(database.session_factory()) as session:
            course = session.get(Course, course_id)
            if course is None:
                log.info("recompute_course_progress: course %s no longer exists", course_id)
                return 0
            return recompute_course(session, course)

    # huey ships no type hints: calling its decorators keeps these functions typed for mypy.
    queue.on_shutdown("lms_dispose_engine")(database.dispose)
    return Tasks(
        queue,
        ping=queue.task(retries=0)(ping),
        # Retried for transient failures (database restarting, lock timeout); it is idempotent.
        recompute_course_progress=queue.task(retries=3, retry_delay=10)(recompute_course_progress),
        database=database,
    )
