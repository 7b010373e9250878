"""Quiz final scores, assignment final points and course grades as subqueries over any set
of enrollments, so that a report joins them in its one statement.

The rules are the gradebook's (:mod:`lms_core.assignments.gradebook`): a quiz's final score
follows its grading method over the *graded* attempts (highest, latest, first, or the mean
rounded half up to a hundredth); an assignment's final points are the grader's points less
the late penalty (``min(100 %, days late x penalty % a day)``), rounded half up to a hundredth;
the course grade is the equal-weight mean, in %, of the course's counted items (every graded,
published quiz and every assignment), an item without a grade counting 0, NULL in a course
without counted items. Scores and points are taken in whole hundredths (integers), so that
SQLite's floats never decide a rounding; only the course grade's mean is a double, rounded to
2 decimals when shown (it can differ from the gradebook's exact rounding by 0.01 at an exact
half of a hundredth).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Select,
    Subquery,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    true,
    union_all,
)

from lms_core.models import (
    Assignment,
    Attempt,
    AttemptStatus,
    Enrollment,
    GradingMethod,
    Lesson,
    Quiz,
    QuizType,
    Submission,
)
from lms_core.reports.base import among
from lms_core.reports.sql import attempt_status


def cents(column: Any) -> ColumnElement[int]:
    """A two-decimal column in whole hundredths (a 64-bit integer on both databases)."""
    return cast(func.round(column * 100), BigInteger)


def final_scores(enrollments: Select[*tuple[Any, ...]], before: Any = None) -> Subquery:
    """``(quiz_id, enrollment_id, final_cents, attempts)`` for each quiz the learners of
    ``enrollments`` (a select of enrollment ids) have a graded attempt at; only the attempts
    submitted before ``before`` when given (the score a learner had at that time; a timestamp,
    or the placeholder of a kept statement: :mod:`lms_core.reports.prepared`)."""
    submitted = true() if before is None else Attempt.submitted_at < before
    ranked = (
        select(
            Attempt.quiz_id,
            Attempt.enrollment_id,
            cents(Attempt.score).label("c"),
            func.row_number()
            .over(
                partition_by=(Attempt.quiz_id, Attempt.enrollment_id),
                order_by=Attempt.number.desc(),
            )
            .label("from_last"),
            func.row_number()
            .over(partition_by=(Attempt.quiz_id, Attempt.enrollment_id), order_by=Attempt.number)
            .label("from_first"),
        )
        .where(
            Attempt.status == attempt_status(AttemptStatus.graded),
            Attempt.score.is_not(None),
            Attempt.enrollment_id.in_(enrollments),
            submitted,
        )
        .subquery("ranked")
    )
    n = func.count()
    final = case(
        (
            Quiz.grading_method == GradingMethod.latest.value,
            func.max(case((ranked.c.from_last == 1, ranked.c.c))),
        ),
        (
            Quiz.grading_method == GradingMethod.first.value,
            func.max(case((ranked.c.from_first == 1, ranked.c.c))),
        ),
        # Half-up mean of whole hundredths: (2 x sum + n) // (2 x n), integers on both.
        (
            Quiz.grading_method == GradingMethod.average.value,
            (2 * cast(func.sum(ranked.c.c), BigInteger) + n) // (2 * n),
        ),
        else_=func.max(ranked.c.c),
    )
    return (
        select(
            ranked.c.quiz_id,
            ranked.c.enrollment_id,
            final.label("final_cents"),
            n.label("attempts"),
        )
        .join(Quiz, Quiz.id == ranked.c.quiz_id)
        .group_by(ranked.c.quiz_id, ranked.c.enrollment_id, Quiz.grading_method)
        .subquery("final_scores")
    )


def final_points_cents() -> ColumnElement[int]:
    """A graded submission's final points in hundredths, late penalty applied (half up).

    Over ``Submission`` joined to its ``Assignment``; NULL until graded."""
    per_day = cents(Assignment.late_penalty_percent)
    late = cast(Submission.days_late, BigInteger) * per_day
    penalty = case((late > 10000, 10000), else_=late)
    result: ColumnElement[int] = (2 * cents(Submission.grade) * (10000 - penalty) + 10000) // 20000
    return result


def counted_quiz() -> ColumnElement[bool]:
    """A quiz that counts in the course grade: graded (not practice) and published."""
    return and_(Quiz.quiz_type == QuizType.graded.value, Quiz.is_published.is_(True))


def course_items() -> Subquery:
    """``(course_id, items)``: how many items count in each course's grade (no row: none)."""
    quizzes = (
        select(Lesson.course_id.label("course_id"))
        .join(Quiz, Quiz.lesson_id == Lesson.id)
        .where(counted_quiz())
    )
    assignments = select(Assignment.course_id.label("course_id"))
    every = union_all(quizzes, assignments).subquery("items")
    return (
        select(every.c.course_id, func.count().label("n_items"))
        .group_by(every.c.course_id)
        .subquery("course_items")
    )


def course_grades(enrollments: Select[*tuple[Any, ...]]) -> Subquery:
    """``(enrollment_id, course_id, grade)`` for every enrollment of ``enrollments``: the course grade in
    % (a double), NULL in a course without counted items."""
    scores = final_scores(enrollments)
    quiz_points = (
        select(
            scores.c.enrollment_id,
            (func.sum(scores.c.final_cents) / literal(100.0, Float)).label("points"),
        )
        .join(Quiz, Quiz.id == scores.c.quiz_id)
        .where(counted_quiz())
        .group_by(scores.c.enrollment_id)
    )
    assignment_points = (
        select(
            Enrollment.id.label("enrollment_id"),
            func.sum(
                final_points_cents() * literal(1.0, Float) / cents(Assignment.max_points) * 100
            ).label("points"),
        )
        .join(Assignment, Assignment.course_id == Enrollment.course_id)
        .join(
            Submission,
            and_(
                Submission.assignment_id == Assignment.id,
                Submission.student_id == Enrollment.student_id,
                Submission.grade.is_not(None),
            ),
        )
        .where(among(enrollments))
        .group_by(Enrollment.id)
    )
    points = union_all(quiz_points, assignment_points).subquery("points")
    earned = (
        select(points.c.enrollment_id, func.sum(points.c.points).label("points"))
        .group_by(points.c.enrollment_id)
        .subquery("earned")
    )
    items = course_items()
    grade = case(
        (items.c.n_items > 0, func.coalesce(earned.c.points, 0.0) / items.c.n_items),
        else_=None,
    )
    return (
        select(
            Enrollment.id.label("enrollment_id"),
            Enrollment.course_id.label("course_id"),
            cast(grade, Float).label("grade"),
        )
        .outerjoin(items, items.c.course_id == Enrollment.course_id)
        .outerjoin(earned, earned.c.enrollment_id == Enrollment.id)
        .where(among(enrollments))
        .subquery("course_grades")
    )
