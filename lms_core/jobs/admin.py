"""Administrators' view of the ledger: list, show, retry, cancel (services: flush only).

Retry and cancel are audited (``job.retry``, ``job.cancel``). A running job cannot be
cancelled while its worker holds it: the handler is already under way and may finish its
effect; once its lease has expired (the worker died) it can.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.errors import Conflict, NotFound, ValidationError
from lms_core.models import utcnow
from lms_core.models.jobs import Job, JobStatus
from lms_core.pagination import Page, paginate
from lms_core.permissions import require_admin

ROW_FIELDS = (
    "id",
    "kind",
    "key",
    "status",
    "attempts",
    "max_attempts",
    "run_at",
    "lease_until",
    "worker",
    "created_at",
    "started_at",
    "finished_at",
    "error",
)


def job_row(job: Job, *, detail: bool = False) -> dict[str, Any]:
    """A job as ``jobs list`` and ``jobs show`` print it (``detail``: with args and result)."""
    row: dict[str, Any] = {name: getattr(job, name) for name in ROW_FIELDS}
    if detail:
        row["args"] = job.args
        row["result"] = job.result
    return row


def get_job(session: Session, *, actor: Actor, job_id: int) -> Job:
    require_admin(actor, "see background jobs")
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job #{job_id}", field="id", value=job_id)
    return job


def list_jobs(
    session: Session,
    *,
    actor: Actor,
    status: str | None = None,
    kind: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Job]:
    """One page of :func:`jobs_query`."""
    stmt = jobs_query(session, actor=actor, status=status, kind=kind)
    return paginate(session, stmt, page=page, per_page=per_page)


def jobs_query(
    session: Session, *, actor: Actor, status: str | None = None, kind: str | None = None
) -> Select[Any]:
    """Jobs, newest first, optionally of one status and one kind."""
    require_admin(actor, "list background jobs")
    stmt = select(Job).order_by(Job.id.desc())
    if status is not None:
        if status not in JobStatus.__members__:
            choices = ", ".join(JobStatus.__members__)
            raise ValidationError(f"must be one of {choices}", field="status", value=status)
        stmt = stmt.where(Job.status == status)
    if kind is not None:
        stmt = stmt.where(Job.kind == kind)
    return stmt


def retry(session: Session, *, actor: Actor, job_id: int) -> Job:
    """Run a dead, failed or cancelled job again now; a dead one gets its attempts back."""
    job = get_job(session, actor=actor, job_id=job_id)
    require_admin(actor, "retry background jobs")
    if job.status not in (JobStatus.dead, JobStatus.failed, JobStatus.cancelled):
        raise Conflict(
            f"job #{job.id} is {job.status}: only a dead, failed or cancelled job can be retried",
            field="id",
            value=job_id,
        )
    before = {"status": job.status, "attempts": job.attempts}
    if job.status != JobStatus.failed:
        job.attempts = 0
    job.status = JobStatus.queued.value
    job.run_at = utcnow()
    job.finished_at = None
    job.lease_until = None
    job.claim_token = None  # a late worker of an earlier claim can no longer record anything
    session.flush()
    audit.record(session, actor, "job.retry", job, before=before, after={"status": job.status})
    return job


def cancel(session: Session, *, actor: Actor, job_id: int) -> Job:
    """Cancel a job that has not succeeded; a running one only once its lease has expired."""
    job = get_job(session, actor=actor, job_id=job_id)
    if job.status in (JobStatus.succeeded, JobStatus.dead, JobStatus.cancelled):
        raise Conflict(
            f"job #{job.id} is {job.status} already: nothing to cancel", field="id", value=job_id
        )
    if (
        job.status == JobStatus.running
        and job.lease_until is not None
        and job.lease_until > utcnow()
    ):
        raise Conflict(
            f"job #{job.id} is running on {job.worker} (held until "
            f"{job.lease_until:%Y-%m-%d %H:%M:%S} UTC); cancel it after that if it is stuck",
            field="id",
            value=job_id,
        )
    before = {"status": job.status}
    job.status = JobStatus.cancelled.value
    job.finished_at = utcnow()
    job.lease_until = None
    session.flush()
    audit.record(session, actor, "job.cancel", job, before=before, after={"status": job.status})
    return job
