"""``lmsctl jobs worker``: Huey's consumer plus a poller that wakes due jobs every few seconds.

Huey's periodic tasks have a one-minute grain, too coarse to pick up a lost wake-up or an
expired lease promptly, so the worker's main process runs one extra thread that calls
:func:`jobs.dispatch.wake_due` every ``settings.jobs_poll_seconds``. It only sends wake-ups
(the consumer's workers run the jobs), and only as many as the workers can take, so a slow
queue is not flooded with duplicates (a duplicate is harmless: the claim decides).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from huey.consumer import Consumer

from jobs.dispatch import queue_periodic, wake_due
from jobs.schedule import SCHEDULE
from jobs.tasks import Tasks
from jobs.wakeup import CHUNK_MAX
from lms_core.workers import die_with_parent

log = logging.getLogger(__name__)

#: The longest an idle worker thread waits before looking at a SQLite queue again. Huey's
#: consumer backs off to ``max_delay`` (a second here) while the queue is empty, so wake-ups
#: sent after a long transaction (a service recording 10,000 events) waited up to a second
#: for a thread that had dozed off; a look at an empty SqliteHuey table costs a few
#: microseconds. (RedisHuey reads block until a message comes: no waiting there.)
IDLE_POLL_SECONDS = 0.1


class Poller(threading.Thread):
    def __init__(self, tasks: Tasks, *, interval: float, workers: int, catch_up: bool) -> None:
        super().__init__(name="lms-jobs-poller", daemon=True)
        self.tasks, self.interval, self.workers = tasks, interval, workers
        self.catch_up = catch_up
        self.stopping = threading.Event()

    def _catch_up(self) -> None:
        """Queue each periodic entry's latest slot: one missed while no worker ran."""
        factory = self.tasks.database.session_factory()
        for entry in SCHEDULE:
            try:
                queue_periodic(factory, entry)
            except Exception:
                log.warning("could not queue periodic job %s", entry.name, exc_info=True)

    def run(self) -> None:
        if self.catch_up:
            self._catch_up()
        while not self.stopping.is_set():
            try:
                room = self.workers * 2 - self.tasks.huey.pending_count()
                if room > 0:  # messages the workers can take now, of up to CHUNK_MAX jobs
                    factory = self.tasks.database.session_factory()
                    wake_due(factory, self.tasks.wake, limit=room * CHUNK_MAX)
            except Exception:  # the database restarting: try again next time
                log.warning("polling for due jobs failed", exc_info=True)
            self.stopping.wait(self.interval)


class LedgerConsumer(Consumer):  # type: ignore[misc]  # huey ships no type hints
    """The consumer, with the poller started after the workers (so after any fork)."""

    def __init__(self, tasks: Tasks, *, poll_seconds: float, **options: Any) -> None:
        options["max_delay"] = min(options.get("max_delay", IDLE_POLL_SECONDS), IDLE_POLL_SECONDS)
        super().__init__(tasks.huey, **options)
        self.poller = Poller(
            tasks,
            interval=poll_seconds,
            workers=options.get("workers", 1),
            catch_up=options.get("periodic", True),
        )

    def _create_process(self, process: Any, name: str) -> Any:
        """Process workers (and the scheduler) die with this process: a kill -9 of the worker
        must not leave orphans taking jobs (lms_core.workers.die_with_parent)."""
        if self.worker_type == "process":
            parent, initialize = os.getpid(), process.initialize

            def die_with_us_then_initialize() -> None:
                die_with_parent(parent, "fork")
                initialize()

            process.initialize = die_with_us_then_initialize
        return super()._create_process(process, name)

    def start(self) -> None:
        super().start()
        self.poller.start()

    def stop(self, graceful: bool = False) -> None:
        self.poller.stopping.set()
        super().stop(graceful=graceful)
