"""Lease renewal: while a handler runs, its claim keeps extending ``lease_until``.

A lease is how long a claim holds a job before another worker may take it (its worker is
presumed dead). Without renewal a handler that outlives its lease runs twice at once; with
it, the lease only has to outlast a *missed renewal*, and a worker that really died (kill -9,
power loss) still loses the job one lease after its last renewal.

One daemon thread per process renews every job the process is running, each every third of
its lease, fenced by the claim's token (and the status ``running``): a claim that was taken
over, cancelled or finished renews nothing, and is dropped. Holding a job costs a dict
insert, not a thread start (a drain runs thousands of jobs a second). The thread is started
on first use, not at import, and again in a forked child (threads do not survive ``fork``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update

from lms_core.db import SessionFactory, unit_of_work
from lms_core.models import utcnow
from lms_core.models.jobs import Job, JobStatus

log = logging.getLogger(__name__)


@dataclass
class _Held:
    factory: SessionFactory
    job_id: int
    lease: float
    #: time.monotonic() of the next renewal.
    due: float


def renew(factory: SessionFactory, job_id: int, token: str, lease: float) -> bool:
    """Extend the lease of the claim ``token`` of job ``job_id`` to now + ``lease``; False
    when that claim no longer holds the job."""
    with unit_of_work(factory) as session:
        result = session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.status == JobStatus.running.value,
                Job.claim_token == token,
            )
            .values(lease_until=utcnow() + timedelta(seconds=lease))
        )
        return bool(getattr(result, "rowcount", 0))


class Renewer:
    """The process's lease renewer (see the module docstring); use :data:`RENEWER`."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._held: dict[str, _Held] = {}
        self._thread: threading.Thread | None = None

    def hold(self, factory: SessionFactory, job_id: int, token: str, lease: float) -> None:
        """Renew the claim ``token`` every ``lease / 3`` seconds until :meth:`release`."""
        if os.getpid() != self._pid:  # a forked worker: the parent's thread is not here
            self._reset()
        with self._cond:
            self._held[token] = _Held(factory, job_id, lease, time.monotonic() + lease / 3)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="lms-jobs-lease-renewer", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def release(self, token: str) -> None:
        """Stop renewing (the handler returned); a renewal under way finishes harmlessly,
        since the outcome's write ends the ``running`` status it is fenced on."""
        with self._cond:
            self._held.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [(t, h) for t, h in self._held.items() if h.due <= now]
                if not due:
                    wait = min((h.due for h in self._held.values()), default=now + 60) - now
                    self._cond.wait(timeout=max(wait, 0.01))
                    continue
                for _token, held in due:
                    held.due = now + held.lease / 3
            for token, held in due:
                try:
                    kept = renew(held.factory, held.job_id, token, held.lease)
                except Exception:  # the database restarting: the next tick tries again
                    log.warning("job %s: could not renew its lease", held.job_id, exc_info=True)
                    continue
                if not kept:
                    log.warning("job %s: its claim was lost; lease no longer renewed", held.job_id)
                    self.release(token)


#: The one renewer of this process.
RENEWER = Renewer()
