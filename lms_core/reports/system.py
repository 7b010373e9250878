"""The site's figures, for administrators: users, activity, enrollments and completions per
week, certificates per month, imports and their failures, dead jobs (docs/reports.md)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.models import (
    Attempt,
    Certificate,
    Course,
    Enrollment,
    ImportRun,
    Job,
    LessonProgress,
    Role,
    Submission,
    User,
)
from lms_core.models.imports import ImportStatus
from lms_core.models.jobs import JobStatus
from lms_core.permissions import require_admin
from lms_core.reports.base import Period, Report, Section
from lms_core.reports.prepared import Frame, Shape
from lms_core.reports.sql import month_of, week_key, week_label

#: The longest job error shown (the whole one: ``lmsctl jobs show``).
ERROR_CHARS = 200


def users() -> Select[*tuple[Any, ...]]:
    state = case(
        (User.deleted_at.is_not(None), "deleted"),
        (User.is_active.is_(True), "active"),
        else_="inactive",
    )
    return (
        select(User.role, state.label("state"), func.count())
        .group_by(User.role, state)
        .order_by(User.role, state)
    )


def totals() -> Select[*tuple[Any, ...]]:
    def count(stmt: Select[*tuple[Any, ...]]) -> ScalarSelect[Any]:
        return stmt.scalar_subquery()

    valid = Certificate.revoked_at.is_(None) & Certificate.superseded_at.is_(None)
    return select(
        count(select(func.count()).select_from(User).where(User.deleted_at.is_(None))),
        count(select(func.count()).select_from(Course)),
        count(select(func.count()).select_from(Course).where(Course.is_published.is_(True))),
        count(select(func.count()).select_from(Enrollment)),
        count(select(func.count()).select_from(Certificate).where(valid)),
    )


def active_learners(period: Frame) -> Select[*tuple[Any, ...]]:
    """Learners (role student) with activity in the 7 and 30 days before "now": a login, a
    lesson completed, a quiz attempt started or submitted, an assignment submitted.

    A report as of the present (no ``until``, or one not before the clock) counts the
    learners whose kept latest activity (``users.last_activity_at``,
    lms_core/accounts/activity.py) falls in ``[now - 30 days, now)``: one range of the index
    ``(role, last_activity_at)``, where scanning every event of the 30 days took ~500 ms on
    a million-enrollment site. Nothing has happened after the clock, so a learner with an
    event in the window has their latest one there too: the same learners. A report as of a
    past date cannot use it (a later activity replaced the time that counted then) and
    scans the events (:func:`active_learners_from_events`): so do the scheduled runs, whose
    ``until`` is their slot, already past when they run.
    """
    if period.past:
        return active_learners_from_events(period)
    since, week, now = period.month_ago, period.week_ago, period.now
    return select(
        func.coalesce(func.sum(case((User.last_activity_at >= week, 1), else_=0)), 0),
        func.count(),
    ).where(
        User.role == Role.student.value,
        User.last_activity_at >= since,
        User.last_activity_at < now,
    )


def active_learners_from_events(period: Frame) -> Select[*tuple[Any, ...]]:
    """:func:`active_learners` as of any "now", from the events themselves: distinct
    learners (role student) with an event in the 7 and 30 days before it.

    Lesson and attempt times are first reduced to one latest time per enrollment, then
    joined to enrollments once for the learner: joining each source to enrollments made
    PostgreSQL hash every enrollment three times.
    """
    since, now = period.month_ago, period.now

    def within(column: Any) -> ColumnElement[bool]:
        return and_(column >= since, column < now)

    by_enrollment = union_all(
        select(LessonProgress.enrollment_id, LessonProgress.completed_at.label("at")).where(
            within(LessonProgress.completed_at)
        ),
        select(Attempt.enrollment_id, Attempt.started_at).where(within(Attempt.started_at)),
        select(Attempt.enrollment_id, Attempt.submitted_at).where(within(Attempt.submitted_at)),
    ).subquery("by_enrollment")
    latest = (
        select(by_enrollment.c.enrollment_id, func.max(by_enrollment.c.at).label("at"))
        .group_by(by_enrollment.c.enrollment_id)
        .subquery("latest")
    )
    events = union_all(
        select(Enrollment.student_id.label("user_id"), latest.c.at.label("at")).join(
            Enrollment, Enrollment.id == latest.c.enrollment_id
        ),
        select(User.id, User.last_login_at).where(within(User.last_login_at)),
        select(Submission.student_id, Submission.submitted_at).where(
            within(Submission.submitted_at)
        ),
    ).subquery("events")
    week = period.week_ago
    recent = (
        select(events.c.user_id, func.max(events.c.at).label("at"))
        .group_by(events.c.user_id)
        .subquery("recent")
    )
    return (
        select(
            func.coalesce(func.sum(case((recent.c.at >= week, 1), else_=0)), 0),
            func.count(),
        )
        .select_from(recent)
        .join(User, User.id == recent.c.user_id)
        .where(User.role == Role.student.value)
    )


def enrollment_weeks(period: Frame, *where: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """``(week, enrollments, completions)`` in the period, of the enrollments ``where`` keeps
    (a course's: the course report's series), weeks with nothing left out.

    Each side is counted per week on its own (an index range, a cheap truncation per row),
    and the week's text is made once per week: the union of every event formatted row by
    row took 265 ms for 12 weeks of a million-enrollment site on PostgreSQL."""
    enrolled_key = week_key(Enrollment.enrolled_at)
    completed_key = week_key(Enrollment.completed_at)
    weeks = union_all(
        select(
            enrolled_key.label("week"),
            func.count().label("enrolled"),
            literal(0, Integer).label("completed"),
        )
        .where(*where, period.holds(Enrollment.enrolled_at))
        .group_by(enrolled_key),
        select(completed_key, literal(0, Integer), func.count())
        .where(*where, Enrollment.completed_at.is_not(None), period.holds(Enrollment.completed_at))
        .group_by(completed_key),
    ).subquery("weeks")
    return (
        select(
            week_label(weeks.c.week),
            cast(func.sum(weeks.c.enrolled), Integer),
            cast(func.sum(weeks.c.completed), Integer),
        )
        .group_by(weeks.c.week)
        .order_by(weeks.c.week)
    )


def per_week(period: Frame) -> Select[*tuple[Any, ...]]:
    return enrollment_weeks(period)


def certificates_per_month(period: Frame) -> Select[*tuple[Any, ...]]:
    month = month_of(Certificate.issued_at)
    return (
        select(
            month,
            func.count(),
            func.sum(case((Certificate.revoked_at.is_not(None), 1), else_=0)),
        )
        .where(period.holds(Certificate.issued_at))
        .group_by(month)
        .order_by(month)
    )


def imports(period: Frame) -> Select[*tuple[Any, ...]]:
    def of(status: ImportStatus) -> ColumnElement[int]:
        return func.sum(case((ImportRun.status == status.value, 1), else_=0))

    return (
        select(
            ImportRun.entity,
            func.count(),
            of(ImportStatus.applied),
            of(ImportStatus.refused),
            of(ImportStatus.failed),
            of(ImportStatus.undone),
            func.max(ImportRun.started_at),
        )
        .where(period.holds(ImportRun.started_at))
        .group_by(ImportRun.entity)
        .order_by(ImportRun.entity)
    )


def dead_jobs() -> Select[*tuple[Any, ...]]:
    return (
        select(
            Job.id,
            Job.kind,
            Job.attempts,
            Job.finished_at,
            func.substr(Job.error, 1, ERROR_CHARS, type_=String()),
        )
        .where(Job.status == JobStatus.dead.value)
        .order_by(Job.id)
    )


@cache
def _statements(shape: Shape) -> dict[str, Select[*tuple[Any, ...]]]:
    """The report's statements for periods of ``shape``, built once (prepared.py says why)."""
    period = Frame(shape)
    return {
        "totals": totals(),
        "users": users(),
        "active_learners": active_learners(period),
        "enrollments_per_week": per_week(period),
        "certificates_per_month": certificates_per_month(period),
        "imports": imports(period),
        "dead_jobs": dead_jobs(),
    }


def system_report(session: Session, *, actor: Actor, period: Period) -> Report:
    """The site's report; administrators only (it counts every user and course)."""
    require_admin(actor, "see the system report")
    del session  # every figure is a statement; nothing to look up first
    kept, values = _statements(period.shape), period.values()
    return Report(
        "system",
        "site",
        period,
        [
            Section(
                "totals",
                ("users", "courses", "published_courses", "enrollments", "valid_certificates"),
                kept["totals"],
            ),
            Section("users", ("role", "state", "count"), kept["users"]),
            Section(
                "active_learners", ("last_7_days", "last_30_days"), kept["active_learners"], values
            ),
            Section(
                "enrollments_per_week",
                ("week", "enrollments", "completions"),
                kept["enrollments_per_week"],
                values,
            ),
            Section(
                "certificates_per_month",
                ("month", "issued", "revoked"),
                kept["certificates_per_month"],
                values,
            ),
            Section(
                "imports",
                ("entity", "runs", "applied", "refused", "failed", "undone", "last_started_at"),
                kept["imports"],
                values,
            ),
            Section(
                "dead_jobs",
                ("id", "kind", "attempts", "finished_at", "error"),
                # Not streamed: the ledger keeps finished jobs 30 days (the daily
                # prune-jobs), and a server-side cursor's three round trips made this
                # list of a few rows 3x its query on PostgreSQL.
                kept["dead_jobs"],
            ),
        ],
    )
