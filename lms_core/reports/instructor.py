"""An instructor's figures: one row per course they teach (docs/reports.md).

Administrators see any instructor's report, an instructor only their own. The period keeps
the enrollments made in it; the work waiting to be graded is counted as it is now.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Float, Integer, Select, case, cast, func, literal, select
from sqlalchemy.orm import Session

from lms_core.accounts.users import get_user
from lms_core.actor import Actor
from lms_core.errors import PermissionDenied
from lms_core.models import (
    Assignment,
    Attempt,
    AttemptStatus,
    Course,
    Enrollment,
    EnrollmentStatus,
    Lesson,
    Quiz,
    Submission,
)
from lms_core.models.users import Role
from lms_core.reports.base import Period, Report, Section, among
from lms_core.reports.grades import course_grades
from lms_core.reports.prepared import Frame, Shape, placeholder
from lms_core.reports.sql import attempt_status

COLUMNS = (
    "course",
    "title",
    "published",
    "learners",
    "active",
    "completed",
    "dropped",
    "completion_rate",
    "average_course_grade",
    "rating_average",
    "rating_count",
    "submissions_to_grade",
    "essays_to_grade",
)


def instructor_report(session: Session, *, actor: Actor, email: str, period: Period) -> Report:
    teacher = get_user(session, email)
    # An instructor sees their own report; a learner (a former instructor too) none.
    own = actor.role is Role.instructor and actor.is_user(teacher.id)
    if not (actor.is_admin or own):
        raise PermissionDenied(
            f"only an administrator or {teacher.email}, as an instructor, may see "
            f"{teacher.email}'s figures (acting as {actor.label})",
            value=actor.label,
        )
    values = period.values() | {"teacher_id": teacher.id}
    statement = _statement(period.shape)
    return Report(
        "instructor", teacher.email, period, [Section("courses", COLUMNS, statement, values)]
    )


@cache
def _statement(shape: Shape) -> Select[*tuple[Any, ...]]:
    """The report's statement for periods of ``shape``, built once (prepared.py says why)."""
    period = Frame(shape)
    teacher_id = placeholder("teacher_id", Integer())
    taught = select(Course.id).where(Course.instructor_id == teacher_id)
    cohort = select(Enrollment.id).where(
        Enrollment.course_id.in_(taught), period.holds(Enrollment.enrolled_at)
    )
    status = Enrollment.status
    counts = (
        select(
            Enrollment.course_id,
            func.sum(case((status != EnrollmentStatus.dropped.value, 1), else_=0)).label("n"),
            func.sum(case((status == EnrollmentStatus.active.value, 1), else_=0)).label("active"),
            func.sum(case((status == EnrollmentStatus.completed.value, 1), else_=0)).label("done"),
            func.sum(case((status == EnrollmentStatus.dropped.value, 1), else_=0)).label("dropped"),
            func.avg(cast(Enrollment.rating, Float)).label("rating"),
            func.count(Enrollment.rating).label("ratings"),
        )
        .where(among(cohort))
        .group_by(Enrollment.course_id)
        .subquery("counts")
    )
    grades = course_grades(cohort.where(status != EnrollmentStatus.dropped.value))
    average = (
        select(grades.c.course_id, func.avg(grades.c.grade).label("grade"))
        .group_by(grades.c.course_id)
        .subquery("average")
    )
    ungraded = (
        select(Assignment.course_id, func.count().label("n"))
        .join(Submission, Submission.assignment_id == Assignment.id)
        .where(Assignment.course_id.in_(taught), Submission.grade.is_(None))
        .group_by(Assignment.course_id)
        .subquery("ungraded")
    )
    essays = (
        select(Lesson.course_id, func.count().label("n"))
        .join(Quiz, Quiz.lesson_id == Lesson.id)
        .join(Attempt, Attempt.quiz_id == Quiz.id)
        .where(
            Lesson.course_id.in_(taught), Attempt.status == attempt_status(AttemptStatus.submitted)
        )
        .group_by(Lesson.course_id)
        .subquery("essays")
    )
    learners = func.coalesce(counts.c.n, 0)
    completed = func.coalesce(counts.c.done, 0)
    return (
        select(
            Course.slug,
            Course.title,
            Course.is_published,
            learners,
            func.coalesce(counts.c.active, 0),
            completed,
            func.coalesce(counts.c.dropped, 0),
            literal(100.0, Float) * completed / func.nullif(learners, 0),
            average.c.grade,
            counts.c.rating,
            func.coalesce(counts.c.ratings, 0),
            func.coalesce(ungraded.c.n, 0),
            func.coalesce(essays.c.n, 0),
        )
        .outerjoin(counts, counts.c.course_id == Course.id)
        .outerjoin(average, average.c.course_id == Course.id)
        .outerjoin(ungraded, ungraded.c.course_id == Course.id)
        .outerjoin(essays, essays.c.course_id == Course.id)
        .where(Course.instructor_id == teacher_id)
        .order_by(Course.slug)
    )
