"""A learner's final score per quiz, computed in SQL so reports join it set-based.

The quiz's ``grading_method`` picks which GRADED attempts count (in-progress and submitted-but-
ungraded attempts never do): ``highest`` = max(score), ``latest`` = the score of the graded
attempt with the highest ``number``, ``first`` = the lowest ``number``, ``average`` = the mean,
rounded half up to 2 decimals. The average is computed on whole hundredths (integers) so that
SQLite (floats) and PostgreSQL (numerics) round the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import Integer, Numeric, Select, and_, case, cast, func, literal_column, select
from sqlalchemy.orm import Session

from lms_core.models import Attempt, AttemptStatus, Quiz
from lms_core.models.quizzes import GradingMethod

_CHUNK = 500


def final_scores_select(
    quiz_ids: Sequence[int], enrollment_ids: Sequence[int] | None = None
) -> Select[int, int, Decimal]:
    """Rows ``(quiz_id, enrollment_id, final_score)`` for every learner with a graded attempt.

    One row per (quiz, enrollment); usable as a subquery (``.subquery()``) in a report's join.
    ``enrollment_ids`` narrows both the outer query and the per-learner bounds: filtering only
    the outer query made each chunk of learners recompute the bounds of the whole quiz.
    """
    graded = Attempt.status == AttemptStatus.graded.value
    if enrollment_ids is not None:
        graded = and_(graded, Attempt.enrollment_id.in_(list(enrollment_ids)))
    bounds = (
        select(
            Attempt.quiz_id.label("quiz_id"),
            Attempt.enrollment_id.label("enrollment_id"),
            func.min(Attempt.number).label("first_number"),
            func.max(Attempt.number).label("last_number"),
        )
        .where(graded, Attempt.quiz_id.in_(list(quiz_ids)))
        .group_by(Attempt.quiz_id, Attempt.enrollment_id)
        .subquery("bounds")
    )
    cents = cast(func.round(Attempt.score * 100), Integer)
    # Half-up mean of whole hundredths: (2 * sum + n) // (2 * n), integer division on both.
    n = func.count(Attempt.id)
    average = func.round(
        ((2 * func.sum(cents) + n) // (2 * n)) * literal_column("0.01", Numeric(12, 2)), 2
    )
    final = case(
        (Quiz.grading_method == GradingMethod.highest.value, func.max(Attempt.score)),
        (
            Quiz.grading_method == GradingMethod.latest.value,
            func.max(case((Attempt.number == bounds.c.last_number, Attempt.score))),
        ),
        (
            Quiz.grading_method == GradingMethod.first.value,
            func.max(case((Attempt.number == bounds.c.first_number, Attempt.score))),
        ),
        else_=average,
    )
    return (
        select(
            Attempt.quiz_id,
            Attempt.enrollment_id,
            cast(final, Numeric(5, 2)).label("final_score"),
        )
        .join(Quiz, Quiz.id == Attempt.quiz_id)
        .join(
            bounds,
            and_(
                bounds.c.quiz_id == Attempt.quiz_id,
                bounds.c.enrollment_id == Attempt.enrollment_id,
            ),
        )
        .where(graded)
        .group_by(Attempt.quiz_id, Attempt.enrollment_id, Quiz.grading_method)
    )


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    items = list(ids)
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def final_scores(
    session: Session, quiz_ids: Sequence[int], enrollment_ids: Sequence[int] | None = None
) -> dict[tuple[int, int], Decimal]:
    """``{(quiz_id, enrollment_id): final score}`` for learners with at least one graded attempt."""
    result: dict[tuple[int, int], Decimal] = {}
    for chunk in _chunks(quiz_ids):
        if enrollment_ids is not None:
            for echunk in _chunks(enrollment_ids):
                _collect(session, final_scores_select(chunk, echunk), result)
        else:
            _collect(session, final_scores_select(chunk), result)
    return result


def _collect(
    session: Session, stmt: Select[int, int, Decimal], into: dict[tuple[int, int], Decimal]
) -> None:
    for quiz_id, enrollment_id, score in session.execute(stmt):
        if score is not None:
            into[(quiz_id, enrollment_id)] = Decimal(score).quantize(Decimal("0.01"))
