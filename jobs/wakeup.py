"""Wake a worker when a transaction that queued jobs commits (never before: the outbox rule).

:func:`lms_core.jobs.ledger.enqueue` notes each new job's id in ``session.info``; a session
factory given to :func:`attach` then hands them all to ``send`` after the commit (the
worker's ``Tasks.wake``: one ``run_jobs`` message per :func:`chunks` of them, so 10,000 jobs
queued together cost 200 messages, not 10,000), and forgets them after a rollback. A wake-up lost on the way (Huey down, process
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

#: The most job ids in one wake-up message.
CHUNK_MAX = 50
#: Jobs queued together go in at least this many messages (when there are as many jobs), so
#: that several workers share them.
SPREAD = 8


def chunks(job_ids: list[int]) -> list[list[int]]:
    """``job_ids`` cut into wake-up messages: at most :data:`CHUNK_MAX` ids each, and
    :data:`SPREAD` messages or more when there are enough ids (a worker runs one message's
    jobs one after the other; the others take the next messages)."""
    size = max(1, min(CHUNK_MAX, -(-len(job_ids) // SPREAD)))
    return [job_ids[i : i + size] for i in range(0, len(job_ids), size)]


def attach(factory: sessionmaker[Session], send: Callable[[list[int]], Any]) -> None:
    """After each commit of a session from ``factory`` that queued jobs, ``send(job_ids)``."""

    def after_commit(session: Session) -> None:
        job_ids = session.info.pop(QUEUED_INFO_KEY, [])
        if not job_ids:
            return
        try:
            send(job_ids)
        except Exception:  # the poll finds them; a commit must not look failed
            log.warning("could not wake a worker for %d job(s)", len(job_ids), exc_info=True)

    def after_rollback(session: Session) -> None:
        session.info.pop(QUEUED_INFO_KEY, None)

    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_soft_rollback", lambda session, _tx: after_rollback(session))
