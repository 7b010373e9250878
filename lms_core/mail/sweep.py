"""The ``mail.sweep`` job (every five minutes, jobs/schedule.py): what no single job does.

* **Mails left waiting.** A mail whose job finished without sending it (mail was not
  configured: the job succeeds with ``not configured: left queued``), or died (an SMTP server
  down for more than a day), is still ``queued`` with no job that will send it. Once SMTP is
  configured, the sweep queues a new ``mail.send`` job for each (key
  ``mail:<mail key>:<sweep job id>``: a sweep run twice after a lost lease queues each once).
  A row is left alone while a live job (queued, running or waiting for a retry) names it.
* **No working link at rest.** Finished rows (sent, failed, cancelled) lose their bodies:
  the delivery does it as it finishes a row; the sweep catches rows finished another way.
* **Pruning.** Finished rows older than ``keep_days`` (30) are deleted. Queued rows are never
  pruned: they wait for SMTP.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from lms_core.mail.delivery import BLANK_BODIES, DONE
from lms_core.mail.outbox import SEND_KIND, SEND_MANY_KIND
from lms_core.models import MailStatus, OutboxMail, utcnow
from lms_core.models.jobs import Job, JobStatus

#: Finished mails are kept this long (their subject, address and status) for ``email outbox``.
KEEP_DAYS = 30
#: Mails queued again per sweep; the rest wait for the next one (five minutes later).
REQUEUE_LIMIT = 5000
_LIVE = (JobStatus.queued.value, JobStatus.running.value, JobStatus.failed.value)


def covered(session: Session) -> set[int]:
    """Ids of the outbox rows a live mail job will still try to send."""
    ids: set[int] = set()
    stmt = select(Job.args).where(Job.kind.in_((SEND_KIND, SEND_MANY_KIND)), Job.status.in_(_LIVE))
    for args in session.scalars(stmt):
        if "outbox_id" in args:
            ids.add(int(args["outbox_id"]))
        ids.update(int(i) for i in args.get("outbox_ids", ()))
    return ids


def requeue_waiting(session: Session, *, sweep_id: int, limit: int = REQUEUE_LIMIT) -> int:
    """A new ``mail.send`` job for each queued row no live job covers; flushes. How many."""
    from lms_core.jobs.ledger import enqueue

    live = covered(session)
    stmt = (
        select(OutboxMail.id, OutboxMail.key)
        .where(OutboxMail.status == MailStatus.queued.value)
        .order_by(OutboxMail.id)
    )
    queued = 0
    for outbox_id, key in session.execute(stmt):
        if outbox_id in live:
            continue
        enqueue(session, SEND_KIND, {"outbox_id": outbox_id}, key=f"mail:{key}:{sweep_id}")
        queued += 1
        if queued >= limit:
            break
    return queued


def blank_finished(session: Session) -> int:
    """Empty the bodies of finished rows that still have them; how many."""
    result = session.execute(
        update(OutboxMail)
        .where(
            OutboxMail.status.in_(DONE),
            or_(OutboxMail.body_text != "", OutboxMail.body_html.is_not(None)),
        )
        .values(**BLANK_BODIES)
    )
    return int(getattr(result, "rowcount", 0))


def prune(session: Session, *, keep_days: int = KEEP_DAYS) -> int:
    """Delete finished rows created more than ``keep_days`` ago; how many."""
    cutoff = utcnow() - timedelta(days=keep_days)
    result = session.execute(
        delete(OutboxMail).where(OutboxMail.status.in_(DONE), OutboxMail.created_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0))


def sweep_summary(
    pruned: int, blanked: int, requeued: int | None, *, configured: bool
) -> dict[str, Any]:
    summary: dict[str, Any] = {"pruned": pruned, "blanked": blanked, "requeued": requeued or 0}
    if not configured:
        summary["skipped"] = "not configured: mails left queued"
    return summary
