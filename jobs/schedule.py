"""Every periodic job, in one table: name, cron expression (UTC), job kind and arguments.

A periodic entry does not run its work in the scheduler: it queues a ledger job whose key is
the entry's name and its slot (``schedule:prune-jobs:2026-12-06T03:17``), so several workers
(or a worker and a cron ``lmsctl jobs run-due``) queue each slot once, and a slot missed while
nothing ran is caught up by the next look (:func:`latest_slot`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lms_core.jobs import cron

#: How far back :func:`latest_slot` looks for an entry's last slot.
CATCH_UP = timedelta(days=8)


@dataclass(frozen=True)
class Periodic:
    name: str
    #: Five cron fields, UTC: minute hour day-of-month month day-of-week (0 = Sunday).
    cron: str
    kind: str
    args: dict[str, Any] = field(default_factory=dict)

    def matcher(self) -> Callable[[datetime], bool]:
        """Whether a minute matches (what Huey's periodic task asks; naive = UTC)."""
        return cron.parse(self.cron).matches

    def key(self, slot: datetime) -> str:
        return f"schedule:{self.name}:{slot:%Y-%m-%dT%H:%M}"


SCHEDULE: tuple[Periodic, ...] = (
    # The ledger keeps finished jobs 30 days (maintenance.KEEP_FINISHED_DAYS).
    Periodic("prune-jobs", "17 3 * * *", "maintenance.prune_jobs"),
    # Automatic work (docs/jobs.md "Automatic work"; lms_core/dropfolder, lms_core/automation).
    Periodic("drop-folder", "* * * * *", "dropfolder.scan"),
    Periodic("close-overdue-attempts", "*/5 * * * *", "quizzes.close_overdue"),
    Periodic("clean-tokens", "41 3 * * *", "accounts.clean_tokens"),
    Periodic("reconcile-files", "53 3 * * *", "files.reconcile"),
    # Queues the slot of each export schedule that is due (lms_core/exports/jobs.py).
    Periodic("export-schedules", "* * * * *", "exports.dispatch"),
    # Deliveries whose job died on its last attempt become dead (lms_core/webhooks/delivery.py).
    Periodic("webhook-sweep", "*/10 * * * *", "webhooks.sweep"),
    # A nightly backup where LMS_BACKUP_DIR is set (lms_core/backups/jobs.py), then retention.
    Periodic("backup", "30 2 * * *", "backup.create", {"keep_daily": 7, "keep_weekly": 4}),
    # Mails left queued (SMTP configured late, a job dead) queued again; finished mails
    # blanked and pruned after 30 days (lms_core/mail/sweep.py).
    Periodic("mail-sweep", "*/5 * * * *", "mail.sweep", {"keep_days": 30}),
)

#: How often a worker's scheduler looks for due jobs without a wake-up (Huey's periodic
#: tasks have a one-minute grain; ``lmsctl jobs worker`` also polls every
#: ``jobs_poll_seconds``).
DISPATCH_CRON = "* * * * *"


def latest_slot(entry: Periodic, now: datetime | None = None) -> datetime | None:
    """The last minute at or before ``now`` (UTC) that ``entry.cron`` matches, within
    :data:`CATCH_UP`; None if there is none (:meth:`lms_core.jobs.cron.Cron.previous` walks
    days, hours and minutes, a few steps, not every minute of the window)."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return cron.latest_slot(entry.cron, moment, since=moment - CATCH_UP)
