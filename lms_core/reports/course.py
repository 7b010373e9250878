"""A course's figures: enrollments, completion, the drop-off funnel, quiz scores, item
analysis, ratings and learners at risk (definitions: docs/reports.md).

The period picks the course's *cohort*: the enrollments made in it (every enrollment without
a period); the weekly series counts enrollments and completions that happened in it.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    Subquery,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.errors import ValidationError
from lms_core.models import (
    Enrollment,
    EnrollmentStatus,
    Lesson,
    LessonProgress,
    Quiz,
    User,
)
from lms_core.permissions import require_course_manager
from lms_core.reports.base import Period, Report, Section, among
from lms_core.reports.grades import counted_quiz, course_grades, final_scores
from lms_core.reports.item_analysis import (
    QUESTION_COLUMNS,
    RESPONSE_COLUMNS,
    questions,
    responses,
)
from lms_core.reports.prepared import Frame, Shape, at, placeholder
from lms_core.reports.sql import seconds_between
from lms_core.reports.student import last_activity
from lms_core.reports.system import enrollment_weeks

DAY = 86400.0
#: "No progress for N days" of the at-risk list, unless the caller says otherwise.
INACTIVE_DAYS = 14
#: The longest inactivity the at-risk list takes (10 years): its cutoff stays a valid date.
MAX_INACTIVE_DAYS = 3650
ACTIVE = EnrollmentStatus.active.value
COMPLETED = EnrollmentStatus.completed.value
DROPPED = EnrollmentStatus.dropped.value


def numbers(values: range) -> Subquery:
    """A one-column table ``n`` of small integers (buckets, ratings): no database function."""
    return union_all(*(select(literal(v, Integer).label("n")) for v in values)).subquery("n")


def median(values: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """The median of a one-column select, NULL when empty: the middle value, or the mean of
    the two middle ones, found by rank (window functions), the same on both databases."""
    inner = values.subquery("v")
    [column] = inner.c
    ranked = select(
        column.label("x"),
        func.row_number().over(order_by=column).label("k"),
        func.count().over().label("n"),
    ).subquery("ranked")
    return select(func.avg(ranked.c.x)).where(
        or_(ranked.c.k == (ranked.c.n + 1) // 2, ranked.c.k == (ranked.c.n + 2) // 2)
    )


def share(part: Any, whole: Any) -> ColumnElement[float]:
    """``100 x part / whole`` as a double, NULL when ``whole`` is 0."""
    result: ColumnElement[float] = literal(100.0, Float) * part / func.nullif(whole, 0)
    return result


def summary(cohort: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    counts = (
        select(
            func.count().label("enrollments"),
            func.sum(case((Enrollment.status == ACTIVE, 1), else_=0)).label("active"),
            func.sum(case((Enrollment.status == COMPLETED, 1), else_=0)).label("completed"),
            func.sum(case((Enrollment.status == DROPPED, 1), else_=0)).label("dropped"),
            func.avg(cast(Enrollment.rating, Float)).label("rating_average"),
            func.count(Enrollment.rating).label("rating_count"),
        )
        .where(among(cohort))
        .subquery("counts")
    )
    days = median(
        select(seconds_between(Enrollment.completed_at, Enrollment.enrolled_at) / DAY).where(
            among(cohort),
            Enrollment.status == COMPLETED,
            Enrollment.completed_at.is_not(None),
        )
    ).scalar_subquery()
    staying = cohort.where(Enrollment.status != DROPPED)
    grades = course_grades(staying)
    average_grade = select(func.avg(grades.c.grade)).scalar_subquery()
    return select(
        counts.c.enrollments,
        func.coalesce(counts.c.active, 0),
        func.coalesce(counts.c.completed, 0),
        func.coalesce(counts.c.dropped, 0),
        share(counts.c.completed, counts.c.active + counts.c.completed),
        days,
        average_grade,
        counts.c.rating_average,
        counts.c.rating_count,
    )


def per_week(course_id: Any, period: Frame) -> Select[*tuple[Any, ...]]:
    return enrollment_weeks(period, Enrollment.course_id == course_id)


def funnel(
    course_id: Any, cohort: Select[*tuple[Any, ...]], period: Frame
) -> Select[*tuple[Any, ...]]:
    total = select(func.count()).where(among(cohort)).scalar_subquery()
    # Progress is read through the course's lessons (an index each); the cohort filter is
    # needed only when a period narrows it: every progress row of a course's lesson belongs
    # to an enrollment in that course.
    done_stmt = (
        select(LessonProgress.lesson_id, func.count().label("learners"))
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(Lesson.course_id == course_id)
        .group_by(LessonProgress.lesson_id)
    )
    if period.since is not None or period.until is not None:
        done_stmt = done_stmt.where(LessonProgress.enrollment_id.in_(cohort))
    done = done_stmt.subquery("done")
    learners = func.coalesce(done.c.learners, 0)
    return (
        select(
            Lesson.order_index,
            Lesson.slug,
            Lesson.title,
            Lesson.is_required,
            learners,
            share(learners, total),
        )
        .outerjoin(done, done.c.lesson_id == Lesson.id)
        .where(Lesson.course_id == course_id)
        .order_by(Lesson.order_index, Lesson.id)
    )


def score_distribution(
    course_id: Any, cohort: Select[*tuple[Any, ...]]
) -> Select[*tuple[Any, ...]]:
    """Learners per 10-point band of final score, per quiz (100 falls in 90-100)."""
    scores = final_scores(cohort)
    band = case((scores.c.final_cents >= 9000, 9), else_=scores.c.final_cents // 1000)
    counts = (
        select(scores.c.quiz_id, band.label("band"), func.count().label("learners"))
        .group_by(scores.c.quiz_id, band)
        .subquery("bands")
    )
    bands = numbers(range(10))
    return (
        select(
            Quiz.title,
            bands.c.n * 10,
            bands.c.n * 10 + 10,
            func.coalesce(counts.c.learners, 0),
        )
        .select_from(Quiz)
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .join(bands, literal(True))
        .outerjoin(counts, and_(counts.c.quiz_id == Quiz.id, counts.c.band == bands.c.n))
        .where(Lesson.course_id == course_id)
        .order_by(Lesson.order_index, Quiz.id, bands.c.n)
    )


def rating_distribution(cohort: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    counts = (
        select(Enrollment.rating, func.count().label("n"))
        .where(among(cohort), Enrollment.rating.is_not(None))
        .group_by(Enrollment.rating)
        .subquery("ratings")
    )
    stars = numbers(range(1, 6))
    return (
        select(stars.c.n, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.rating == stars.c.n)
        .order_by(stars.c.n)
    )


def at_risk(cohort: Select[*tuple[Any, ...]], period: Frame) -> Select[*tuple[Any, ...]]:
    """Active learners with no activity since the placeholder ``idle_since`` (the report's
    "now" less its ``inactive_days``), or failing: a final score below the passing score in
    a graded, published quiz."""
    # Nothing after "now" counts: with a period ending before today, later activity and
    # attempts have not happened yet (days_inactive never negative).
    activity = last_activity(cohort, period.now).subquery("activity")
    scores = final_scores(cohort, period.now)
    failing = (
        select(scores.c.enrollment_id, func.count().label("quizzes"))
        .join(Quiz, Quiz.id == scores.c.quiz_id)
        .where(counted_quiz(), scores.c.final_cents < func.round(Quiz.passing_score * 100))
        .group_by(scores.c.enrollment_id)
        .subquery("failing")
    )
    now = period.now
    idle = activity.c.at < at("idle_since")
    failed = func.coalesce(failing.c.quizzes, 0)
    reason = case(
        (and_(idle, failed > 0), "inactive, failing"),
        (idle, "inactive"),
        else_="failing",
    )
    return (
        select(
            User.email,
            User.full_name,
            Enrollment.enrolled_at,
            cast(Enrollment.progress_percentage, Float),
            activity.c.at,
            seconds_between(now, activity.c.at) / DAY,
            failed,
            reason,
        )
        .join(User, User.id == Enrollment.student_id)
        .join(activity, activity.c.enrollment_id == Enrollment.id)
        .outerjoin(failing, failing.c.enrollment_id == Enrollment.id)
        .where(among(cohort), Enrollment.status == ACTIVE, or_(idle, failed > 0))
        .order_by(activity.c.at, Enrollment.id)
    )


def course_report(
    session: Session,
    *,
    actor: Actor,
    slug: str,
    period: Period,
    inactive_days: int = INACTIVE_DAYS,
) -> Report:
    """The course's report: administrators for any course, instructors for their own."""
    if not 1 <= inactive_days <= MAX_INACTIVE_DAYS:
        raise ValidationError(
            f"must be a number of days from 1 to {MAX_INACTIVE_DAYS}",
            field="inactive_days",
            value=str(inactive_days),
        )
    course = get_course(session, slug)
    require_course_manager(actor, course, "see its reports")
    kept = _statements(period.shape)
    values = period.values() | {
        "course_id": course.id,
        "idle_since": period.now - timedelta(days=inactive_days),
    }
    sections = [
        Section(name, columns, kept[name], values, stream=name == "at_risk")
        for name, columns in SECTIONS.items()
    ]
    return Report("course", course.slug, period, sections)


#: The report's sections, in reading order, and their columns.
SECTIONS: dict[str, tuple[str, ...]] = {
    "summary": (
        "enrollments",
        "active",
        "completed",
        "dropped",
        "completion_rate",
        "median_days_to_complete",
        "average_course_grade",
        "rating_average",
        "rating_count",
    ),
    "enrollments_per_week": ("week", "enrollments", "completions"),
    "funnel": ("position", "lesson", "title", "required", "learners_completed", "share"),
    "scores": ("quiz", "score_from", "score_to", "learners"),
    "questions": QUESTION_COLUMNS,
    "responses": RESPONSE_COLUMNS,
    "ratings": ("rating", "count"),
    "at_risk": (
        "email",
        "full_name",
        "enrolled_at",
        "progress_percentage",
        "last_activity",
        "days_inactive",
        "failing_quizzes",
        "reason",
    ),
}


@cache
def _statements(shape: Shape) -> dict[str, Select[*tuple[Any, ...]]]:
    """The report's statements for periods of ``shape``, built once (prepared.py says why);
    the course and the period are placeholders."""
    period = Frame(shape)
    course_id = placeholder("course_id", Integer())
    cohort = select(Enrollment.id).where(
        Enrollment.course_id == course_id, period.holds(Enrollment.enrolled_at)
    )
    return {
        "summary": summary(cohort),
        "enrollments_per_week": per_week(course_id, period),
        "funnel": funnel(course_id, cohort, period),
        "scores": score_distribution(course_id, cohort),
        "questions": questions(course_id, period),
        "responses": responses(course_id, period),
        "ratings": rating_distribution(cohort),
        "at_risk": at_risk(cohort, period),
    }
