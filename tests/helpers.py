"""Helpers shared by the service tests: actors, audit-log reads, error fields, progress."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.catalog import enrollments
from lms_core.models import AuditEntry, Course, Enrollment, User


def as_(user: User) -> Actor:
    """The actor of a logged-in user, with that user's rights."""
    return Actor.for_user(user)


def audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def audit_log(
    session: Session, action: str | None = None, *, entity_id: int | None = None
) -> list[AuditEntry]:
    """Audit entries as stored (not as cached in the session), in the order written."""
    session.flush()
    session.expire_all()
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    return list(session.scalars(stmt))


def audit_json(entry: AuditEntry) -> str:
    """An entry's before/after as one JSON text, for 'never contains' checks."""
    return json.dumps({"before": entry.before, "after": entry.after}, default=str)


def fields_of(exc: Any) -> set[str | None]:
    """The fields named by an LmsError or by each member of an ErrorList."""
    return {e.field for e in getattr(exc, "errors", [exc])}


def complete_lessons(
    session: Session, actor: Actor, student: User, course: Course, *slugs: str
) -> tuple[Enrollment, bool] | None:
    """``student`` completes each lesson in turn, recorded by ``actor`` through
    ``enrollments.complete_lesson``; the last call's (enrollment, completed the course now),
    None when no lesson is named."""
    result = None
    for slug in slugs:
        result = enrollments.complete_lesson(
            session, actor=actor, email=student.email, course_slug=course.slug, lesson_slug=slug
        )
    return result
