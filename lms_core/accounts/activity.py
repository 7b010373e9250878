"""A user's last activity: the latest login, lesson completed, quiz attempt started or
submitted, or assignment submitted, kept on the user (``users.last_activity_at``).

Why a kept column: the system report's "active learners in the last 7 and 30 days" counted
the distinct learners behind every event of the last 30 days; on a million-enrollment site
(~73,000 of 100,000 learners active) that scan took 240-500 ms on PostgreSQL whatever the
indexes, and grows with the events. With the latest time on the user the figure is one
range over the index ``(role, last_activity_at)`` (docs/reports.md, "Performance").

Every writer of one of the five sources calls :func:`note_activity` (one learner) or
:func:`note_activity_of_enrollments` (set-based: a regrade or a grading import completing a
lesson for many); bulk loads that write the sources with their own SQL (the bench's fill)
call :func:`recompute_last_activity` once after. The time only moves forward: a later
deletion of an event (a reset progress, a removed submission) leaves it as it was, since
the activity did happen then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select, union_all, update
from sqlalchemy.orm import Session

from lms_core.models import Attempt, Enrollment, LessonProgress, Submission, User

#: Enrollment ids per ``IN`` list (SQLite's default limit on bound values is 999 on old builds).
_CHUNK = 900


def _later(at: Any) -> Any:
    """The kept time is unset or earlier than ``at``: the update never moves it backwards."""
    return or_(User.last_activity_at.is_(None), User.last_activity_at < at)


def _set(at: Any) -> dict[Any, Any]:
    """The new time, ``updated_at`` kept as it is: activity is no change to the account (the
    column's ``onupdate`` would otherwise stamp the learner's row at each lesson or attempt)."""
    return {User.last_activity_at: at, User.updated_at: User.updated_at}


def note_activity(session: Session, user_id: int, at: datetime) -> None:
    """Record that user ``user_id`` was active at ``at`` (a single ``UPDATE``; no commit).

    ``synchronize_session=False``: the statement compares in SQL, and a ``User`` already
    loaded in the session is refreshed from the row when it is next read (expired below)."""
    session.execute(
        update(User)
        .where(User.id == user_id, _later(at))
        .values(_set(at))
        .execution_options(synchronize_session=False)
    )
    loaded = session.identity_map.get(session.identity_key(User, user_id))
    if loaded is not None:
        session.expire(loaded, ["last_activity_at"])


def note_activity_of_enrollments(
    session: Session, enrollment_ids: Sequence[int], at: datetime
) -> None:
    """:func:`note_activity` for the learners of these enrollments, one ``UPDATE`` per chunk."""
    ids = sorted(set(enrollment_ids))
    for i in range(0, len(ids), _CHUNK):
        learners = select(Enrollment.student_id).where(Enrollment.id.in_(ids[i : i + _CHUNK]))
        session.execute(
            update(User)
            .where(User.id.in_(learners), _later(at))
            .values(_set(at))
            .execution_options(synchronize_session=False)
        )
    for user in list(session.identity_map.values()):
        if isinstance(user, User):
            session.expire(user, ["last_activity_at"])


def latest_activity() -> Any:
    """``(user_id, at)``: each user's latest time over the five sources (users with none are
    absent). Progress and attempt times are first reduced to one per enrollment, then joined
    to enrollments once for the learner, as the report's event scan does."""
    by_enrollment = union_all(
        select(LessonProgress.enrollment_id, LessonProgress.completed_at.label("at")),
        select(Attempt.enrollment_id, Attempt.started_at),
        select(Attempt.enrollment_id, Attempt.submitted_at).where(
            Attempt.submitted_at.is_not(None)
        ),
    ).subquery("by_enrollment")
    per_enrollment = (
        select(by_enrollment.c.enrollment_id, func.max(by_enrollment.c.at).label("at"))
        .group_by(by_enrollment.c.enrollment_id)
        .subquery("per_enrollment")
    )
    events = union_all(
        select(Enrollment.student_id.label("user_id"), per_enrollment.c.at.label("at")).join(
            Enrollment, Enrollment.id == per_enrollment.c.enrollment_id
        ),
        select(User.id, User.last_login_at).where(User.last_login_at.is_not(None)),
        select(Submission.student_id, Submission.submitted_at),
    ).subquery("events")
    return (
        select(events.c.user_id, func.max(events.c.at).label("at"))
        .group_by(events.c.user_id)
        .subquery("latest")
    )


def recompute_last_activity(bind: Session | Connection) -> int:
    """Set every user's ``last_activity_at`` from the five sources, set-based (one
    ``UPDATE ... FROM``), never moving a kept time backwards; returns the rows changed.

    For bulk loads that write the sources with their own SQL; migration ``a76b140908e4``
    runs the same statement (written out there) to fill the column the first time."""
    latest = latest_activity()
    stmt = (
        update(User)
        .where(User.id == latest.c.user_id, _later(latest.c.at))
        .values(_set(latest.c.at))
        .execution_options(synchronize_session=False)
    )
    result: Any = bind.execute(stmt)
    if isinstance(bind, Session):
        for user in list(bind.identity_map.values()):
            if isinstance(user, User):
                bind.expire(user, ["last_activity_at"])
    return int(result.rowcount or 0)
