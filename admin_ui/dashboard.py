"""The dashboard's figures (``/admin/``): one SQL query per figure, scoped to the viewer.

Administrators see the whole school; instructors the figures of their own courses (the
learners enrolled in them, their enrollments and certificates, their own audit entries)
through the same clauses as every list (:mod:`lms_core.scopes`). Counts are computed by the
database (``COUNT`` with ``CASE``, ``GROUP BY``), never by looping over rows in Python, so
the page costs the same with ten users or a hundred thousand. Imports and jobs are
administrators' business: instructors get neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from lms_core import scopes
from lms_core.actor import Actor
from lms_core.models import (
    AuditEntry,
    Certificate,
    Course,
    Enrollment,
    ImportRun,
    Role,
    User,
    utcnow,
)
from lms_core.models.jobs import Job, JobStatus

#: Rows in each "recent" table.
RECENT = 8


def _where(stmt: Any, clause: ColumnElement[bool] | None) -> Any:
    return stmt if clause is None else stmt.where(clause)


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s month, in its zone (UTC)."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.count(case((condition, 1)))


def dashboard(session: Session, actor: Actor, *, now: datetime | None = None) -> dict[str, Any]:
    """Every figure of the dashboard for ``actor``, as plain values for the template."""
    now = now or utcnow()
    by_role = dict.fromkeys((r.value for r in Role), 0)
    stmt = _where(select(User.role, func.count()).group_by(User.role), scopes.users(actor))
    by_role.update({role: n for role, n in session.execute(stmt)})

    stmt = _where(
        select(func.count(), _count_if(Course.is_published.is_(True))), scopes.courses(actor)
    )
    courses, published = session.execute(stmt).one()

    stmt = _where(
        select(
            _count_if(Enrollment.status == "active"), _count_if(Enrollment.status == "completed")
        ),
        scopes.enrollments(actor),
    )
    active, completed = session.execute(stmt).one()

    stmt = _where(
        select(func.count()).where(Certificate.issued_at >= month_start(now)),
        scopes.certificates(actor),
    )
    certificates_month = session.scalar(stmt) or 0

    data: dict[str, Any] = {
        "users_by_role": by_role,
        "courses": courses,
        "published_courses": published,
        "active_enrollments": active,
        "completed_enrollments": completed,
        "certificates_this_month": certificates_month,
        "recent_audit": _recent_audit(session, actor),
        "recent_imports": [],
        "failed_jobs": 0,
        "dead_jobs": 0,
        "recent_failed_jobs": [],
        "is_admin": actor.is_admin,
    }
    if actor.is_admin:
        data.update(_admin_only(session, actor))
    return data


def _recent_audit(session: Session, actor: Actor) -> list[dict[str, Any]]:
    stmt = _where(
        select(
            AuditEntry.id,
            AuditEntry.created_at,
            AuditEntry.actor_label,
            AuditEntry.action,
            AuditEntry.entity_type,
            AuditEntry.entity_id,
        )
        .order_by(AuditEntry.id.desc())
        .limit(RECENT),
        scopes.audit_entries(actor),
    )
    return [dict(row._mapping) for row in session.execute(stmt)]


def _admin_only(session: Session, actor: Actor) -> dict[str, Any]:
    """Recent imports (with why a run was refused) and jobs that failed or gave up."""
    stmt = _where(
        select(
            ImportRun.id,
            ImportRun.started_at,
            ImportRun.finished_at,
            ImportRun.actor_label,
            ImportRun.entity,
            ImportRun.mode,
            ImportRun.file_name,
            ImportRun.status,
            ImportRun.counts,
            ImportRun.message,
        )
        .order_by(ImportRun.id.desc())
        .limit(RECENT),
        scopes.import_runs(actor),
    )
    imports = [dict(row._mapping) for row in session.execute(stmt)]
    failing = (JobStatus.failed.value, JobStatus.dead.value)
    failed, dead = session.execute(
        select(
            _count_if(Job.status == JobStatus.failed.value),
            _count_if(Job.status == JobStatus.dead.value),
        ).where(Job.status.in_(failing))
    ).one()
    recent_jobs = (
        select(Job.id, Job.kind, Job.status, Job.attempts, Job.finished_at, Job.run_at, Job.error)
        .where(Job.status.in_(failing))
        .order_by(Job.id.desc())
        .limit(RECENT)
    )
    jobs = [dict(row._mapping) for row in session.execute(recent_jobs)]
    return {
        "recent_imports": imports,
        "failed_jobs": failed,
        "dead_jobs": dead,
        "recent_failed_jobs": jobs,
    }
