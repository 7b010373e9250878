"""The job ledger: one row per background job, the record of what must run and what ran.

Huey carries only wake-ups ("look at job 42"); this table is the truth. A job's key makes
enqueueing idempotent (the same e-mail, delivery, file or scheduled slot is queued once), and
its lease makes a job whose worker died run again (docs/jobs.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.models.base import Base, utcnow
from lms_core.models.users import _in


class JobStatus(StrEnum):
    #: Waiting for ``run_at``.
    queued = "queued"
    #: Claimed by a worker until ``lease_until``; an expired lease makes it claimable again.
    running = "running"
    succeeded = "succeeded"
    #: The last attempt failed; it runs again at ``run_at`` (exponential backoff with jitter).
    failed = "failed"
    #: Gave up after ``max_attempts``; ``error`` says why. ``jobs retry`` queues it again.
    dead = "dead"
    #: Cancelled by an administrator before it succeeded.
    cancelled = "cancelled"


#: Statuses a worker may claim (``running`` only once its lease has expired).
CLAIMABLE = (JobStatus.queued, JobStatus.failed)
#: Statuses that never change again by themselves.
FINISHED = (JobStatus.succeeded, JobStatus.dead, JobStatus.cancelled)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_in("status", JobStatus), name="status_valid"),
        CheckConstraint("attempts >= 0", name="attempts_positive"),
        CheckConstraint("max_attempts >= 1", name="max_attempts_positive"),
        # What a claim looks through, one status at a time: due jobs, oldest run_at first,
        # read in index order (no sort of every due row per claim).
        Index("ix_jobs_status_run_at", "status", "run_at", "id"),
        # Running jobs whose lease has expired (their worker died).
        Index("ix_jobs_status_lease_until", "status", "lease_until"),
        Index("ix_jobs_kind_status", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The handler's name, ``area.action`` (``maintenance.ping``, ``mail.send``).
    kind: Mapped[str] = mapped_column(String(100))
    #: The handler's arguments: ids and plain values, never ORM objects.
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Idempotency key: enqueueing the same key again returns the existing job.
    key: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.queued.value)
    #: Attempts started so far (a claim counts one, even if its worker then dies).
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    #: Not before: when it was queued, or when its next retry is due.
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: While running: the worker holds it until then, after which another worker may take it.
    lease_until: Mapped[datetime | None]
    #: ``host:pid`` of the worker that claimed it last.
    worker: Mapped[str | None] = mapped_column(String(255))
    #: A fresh random token per claim: the outcome and lease renewals are written only by the
    #: claim that holds it (worker and attempts can repeat after ``jobs retry``).
    claim_token: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: The last error (bounded); for a dead job, why it gave up.
    error: Mapped[str | None] = mapped_column(Text)
    #: The handler's summary of what it did (bounded JSON).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
