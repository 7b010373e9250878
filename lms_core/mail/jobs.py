"""The ``mail.send``, ``mail.send_many`` and ``mail.sweep`` jobs.

``mail.send``/``mail.send_many`` send outbox rows (``delivery.deliver``). Twenty attempts
with the ledger's backoff (capped at six hours) span more than a day: an SMTP server down for
a night delays mail without losing it, and after that the sweep queues the row again. A
refusal for good (5xx) is not an error of the job: the row records it as ``failed`` and the
job succeeds, with the answer in its result. Mail not configured is not an error either: the
job succeeds, leaving the row queued for the sweep (:mod:`lms_core.mail.sweep`).
"""

from __future__ import annotations

from typing import Any

from lms_core.jobs.registry import JobContext, handler

#: Longer than the SMTP timeout times the commands of one conversation.
LEASE_SECONDS = 300
#: A batch (``lms_core.mail.outbox.BATCH`` rows) may take one conversation per row.
BATCH_LEASE_SECONDS = 1800
MAX_ATTEMPTS = 20


@handler("mail.send", max_attempts=MAX_ATTEMPTS, lease_seconds=LEASE_SECONDS)
def send_mail(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    from lms_core.mail.delivery import deliver

    return deliver(ctx.session_factory, ctx.settings, int(args["outbox_id"]))


@handler("mail.send_many", max_attempts=MAX_ATTEMPTS, lease_seconds=BATCH_LEASE_SECONDS)
def send_many(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Each row in turn; the first that a retry may fix stops the batch (the server is
    likely down for the rest too) and fails the job: its retry skips the rows already sent
    or refused."""
    from lms_core.mail.delivery import LEFT_QUEUED, deliver
    from lms_core.mail.smtp import smtp_config

    if smtp_config(ctx.settings) is None:
        return {"skipped": LEFT_QUEUED, "mails": len(args["outbox_ids"])}
    counts: dict[str, int] = {}
    for outbox_id in args["outbox_ids"]:
        result = deliver(ctx.session_factory, ctx.settings, int(outbox_id))
        outcome = str(result.get("status") or "skipped")
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@handler("mail.sweep", max_attempts=3, lease_seconds=BATCH_LEASE_SECONDS)
def sweep(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Prune and blank finished rows; once SMTP is configured, queue the mails left waiting."""
    from lms_core.db import unit_of_work
    from lms_core.mail import sweep as sweeping
    from lms_core.mail.smtp import smtp_config

    keep_days = int(args.get("keep_days", sweeping.KEEP_DAYS))
    with unit_of_work(ctx.session_factory) as session:
        pruned = sweeping.prune(session, keep_days=keep_days)
        blanked = sweeping.blank_finished(session)
    configured = smtp_config(ctx.settings) is not None
    requeued = None
    if configured:
        with unit_of_work(ctx.session_factory) as session:
            requeued = sweeping.requeue_waiting(session, sweep_id=ctx.job_id)
    return sweeping.sweep_summary(pruned, blanked, requeued, configured=configured)


@handler("mail.notify", max_attempts=5, lease_seconds=LEASE_SECONDS)
def notify(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Render and queue the enrollment or completion mails of ``enrollment_ids`` (once each:
    the outbox keys decide), unless notifications are off (``LMS_MAIL_NOTIFICATIONS``)."""
    from lms_core.db import unit_of_work
    from lms_core.mail.notify import mail_enrollments

    template = str(args["template"])
    if not ctx.settings.mail_notifications:
        return {"template": template, "skipped": "notifications off (LMS_MAIL_NOTIFICATIONS)"}
    ids = [int(i) for i in args["enrollment_ids"]]
    with unit_of_work(ctx.session_factory) as session:
        queued = mail_enrollments(session, ctx.settings, template, ids)
    return {"template": template, "queued": queued}
