"""Wake a worker when a transaction that queued jobs commits (never before: the outbox rule).

:func:`lms_core.jobs.ledger.enqueue` notes each new job's id in ``session.info``; a session
factory given to :func:`attach` then sends one Huey ``run_job`` message per id after the
commit, and forgets them after a rollback. A wake-up lost on the way (Huey down, process
killed between commit and send) only delays the job until a worker's next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from lms_core.jobs.ledger import QUEUED_INFO_KEY

log = logging.getLogger(__name__)


def attach(factory: sessionmaker[Session], send: Callable[[int], Any]) -> None:
    """After each commit of a session from ``factory``, ``send(job_id)`` for each job queued."""

    def after_commit(session: Session) -> None:
        for job_id in session.info.pop(QUEUED_INFO_KEY, []):
            try:
                send(job_id)
            except Exception:  # the poll finds it; a commit must not look failed
                log.warning("could not wake a worker for job %s", job_id, exc_info=True)

    def after_rollback(session: Session) -> None:
        session.info.pop(QUEUED_INFO_KEY, None)

    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_soft_rollback", lambda session, _tx: after_rollback(session))
