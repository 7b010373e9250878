"""A learner's figures: enrollments with progress and grade, quiz scores, assignment grades.

Visible to administrators for anyone, to instructors for learners of their courses (those
enrollments only), to a learner for themselves (:mod:`lms_core.scopes`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    cast,
    func,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from lms_core import scopes
from lms_core.accounts.users import get_user
from lms_core.actor import Actor
from lms_core.errors import PermissionDenied
from lms_core.models import (
    Assignment,
    Attempt,
    Certificate,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Quiz,
    Submission,
    User,
)
from lms_core.reports.base import Period, Report, Section, among
from lms_core.reports.grades import course_grades, final_points_cents, final_scores
from lms_core.reports.prepared import (
    ActorShape,
    Frame,
    Shape,
    actor_shape,
    placeholder,
    scoped_actor,
)

#: The **courses** section: one row per enrollment.
COURSE_COLUMNS = (
    "course",
    "title",
    "status",
    "enrolled_at",
    "completed_at",
    "progress_percentage",
    "lessons_completed",
    "course_grade",
    "certificate",
    "last_activity",
)


def last_activity(
    enrollments: Select[*tuple[Any, ...]], before: Any = None
) -> Select[*tuple[Any, ...]]:
    """``(enrollment_id, at)``: the latest of enrolling, completing a lesson, starting or
    submitting a quiz attempt, and submitting an assignment; only events before ``before``
    when given (a report's "now" is its period's end: what came later has not happened yet;
    a timestamp, or the placeholder of a kept statement)."""

    def by(column: Any) -> ColumnElement[bool]:
        return true() if before is None else column < before

    events = union_all(
        select(Enrollment.id.label("enrollment_id"), Enrollment.enrolled_at.label("at")).where(
            among(enrollments), by(Enrollment.enrolled_at)
        ),
        select(LessonProgress.enrollment_id, LessonProgress.completed_at).where(
            LessonProgress.enrollment_id.in_(enrollments), by(LessonProgress.completed_at)
        ),
        select(Attempt.enrollment_id, Attempt.started_at).where(
            Attempt.enrollment_id.in_(enrollments), by(Attempt.started_at)
        ),
        select(Attempt.enrollment_id, Attempt.submitted_at).where(
            Attempt.enrollment_id.in_(enrollments),
            Attempt.submitted_at.is_not(None),
            by(Attempt.submitted_at),
        ),
        select(Enrollment.id, Submission.submitted_at)
        .join(Assignment, Assignment.course_id == Enrollment.course_id)
        .join(
            Submission,
            and_(
                Submission.assignment_id == Assignment.id,
                Submission.student_id == Enrollment.student_id,
            ),
        )
        .where(among(enrollments), by(Submission.submitted_at)),
    ).subquery("events")
    return select(events.c.enrollment_id, func.max(events.c.at).label("at")).group_by(
        events.c.enrollment_id
    )


def enrollment_rows(ids: Select[*tuple[Any, ...]], until: Any = None) -> Select[*tuple[Any, ...]]:
    """The **courses** section's rows (:data:`COURSE_COLUMNS`) for the enrollments of ``ids``
    (a select of enrollment ids): a learner's in the student report; every enrollment of a
    site when exported whole (``bench/reports_export_bench.py``, one row per enrollment)."""
    grades = course_grades(ids).alias("g")
    active = last_activity(ids, until).subquery("activity")
    done = (
        select(LessonProgress.enrollment_id, func.count().label("lessons"))
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .where(LessonProgress.enrollment_id.in_(ids))
        .group_by(LessonProgress.enrollment_id)
        .subquery("done")
    )
    valid = Certificate.revoked_at.is_(None) & Certificate.superseded_at.is_(None)
    certs = (
        select(Certificate.enrollment_id, func.max(Certificate.number).label("number"))
        .where(valid, Certificate.enrollment_id.in_(ids))
        .group_by(Certificate.enrollment_id)
        .subquery("certs")
    )
    return (
        select(
            Course.slug,
            Course.title,
            Enrollment.status,
            Enrollment.enrolled_at,
            Enrollment.completed_at,
            cast(Enrollment.progress_percentage, Float),
            func.coalesce(done.c.lessons, 0),
            grades.c.grade,
            certs.c.number,
            active.c.at,
        )
        .join(Course, Course.id == Enrollment.course_id)
        .outerjoin(grades, grades.c.enrollment_id == Enrollment.id)
        .outerjoin(done, done.c.enrollment_id == Enrollment.id)
        .outerjoin(certs, certs.c.enrollment_id == Enrollment.id)
        .outerjoin(active, active.c.enrollment_id == Enrollment.id)
        .where(among(ids))
        # By course, not by date: ordering by enrolled_at let SQLite walk that index over
        # every enrollment instead of finding the learner's few by student_id.
        .order_by(Course.slug, Enrollment.id)
    )


def _enrollments(actor: Actor) -> Select[*tuple[Any, ...]]:
    stmt = select(Enrollment.id).where(
        Enrollment.student_id == placeholder("learner_id", Integer())
    )
    clause = scopes.enrollments(actor)
    return stmt if clause is None else stmt.where(clause)


@cache
def _statements(shape: Shape, asking: ActorShape) -> dict[str, Select[*tuple[Any, ...]]]:
    """The report's statements for periods of ``shape`` and actors of ``asking``, built once
    (prepared.py says why); the learner, the actor and the period are placeholders."""
    period = Frame(shape)
    ids = _enrollments(scoped_actor(asking)).where(period.holds(Enrollment.enrolled_at))
    scores = final_scores(ids).alias("s")
    quizzes = (
        select(
            Course.slug,
            Quiz.title,
            Quiz.quiz_type,
            scores.c.final_cents / literal(100.0, Float),
            cast(Quiz.passing_score, Float),
            scores.c.final_cents >= func.round(Quiz.passing_score * 100),
            scores.c.attempts,
        )
        .join(Quiz, Quiz.id == scores.c.quiz_id)
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .join(Course, Course.id == Lesson.course_id)
        .order_by(Course.slug, Lesson.order_index, Quiz.id)
    )
    assignments = (
        select(
            Course.slug,
            Assignment.title,
            cast(Assignment.max_points, Float),
            Submission.submitted_at,
            Submission.days_late,
            final_points_cents() / literal(100.0, Float),
            Submission.graded_at,
        )
        .join(Course, Course.id == Assignment.course_id)
        .join(Enrollment, Enrollment.course_id == Course.id)
        .join(
            Submission,
            and_(
                Submission.assignment_id == Assignment.id,
                Submission.student_id == Enrollment.student_id,
            ),
        )
        .where(among(ids))
        .order_by(Course.slug, Assignment.due_date, Assignment.id)
    )
    return {
        "courses": enrollment_rows(ids, period.until),
        "quizzes": quizzes,
        "assignments": assignments,
    }


def student_report(session: Session, *, actor: Actor, email: str, period: Period) -> Report:
    """The learner's report. The period keeps the enrollments made in it (all: no period)."""
    learner = get_user(session, email)
    visible = scopes.users(actor)
    if visible is not None and not session.scalar(
        select(func.count()).select_from(User).where(User.id == learner.id, visible)
    ):
        raise PermissionDenied(
            f"{actor.label} may not see the figures of {learner.email}: only administrators, "
            "the learner, and the instructors of the learner's courses may",
            value=actor.label,
        )
    kept = _statements(period.shape, actor_shape(actor))
    values = period.values() | {"learner_id": learner.id, "actor_id": actor.user_id}
    return Report(
        "student",
        learner.email,
        period,
        [
            Section("courses", COURSE_COLUMNS, kept["courses"], values),
            Section(
                "quizzes",
                (
                    "course",
                    "quiz",
                    "quiz_type",
                    "final_score",
                    "passing_score",
                    "passed",
                    "attempts",
                ),
                kept["quizzes"],
                values,
            ),
            Section(
                "assignments",
                (
                    "course",
                    "assignment",
                    "max_points",
                    "submitted_at",
                    "days_late",
                    "final_points",
                    "graded_at",
                ),
                kept["assignments"],
                values,
            ),
        ],
    )
