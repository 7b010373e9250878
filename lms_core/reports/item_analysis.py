"""Question item analysis, as Moodle's quiz statistics report computes it.

Over the attempts :func:`analysed` picks for each quiz of the course (one per learner, the one
the quiz's grading method counts; every graded one when it averages: Moodle's default), for
each question the attempt holds, with ``x`` the points the attempt got for the question, ``m``
its points possible and ``y = X - x`` the attempt's points for the rest of the quiz:

- facility index ``F = 100 x mean(x) / m``: how easy the question was;
- standard deviation ``SD = 100 x sd(x) / m`` (sample, n - 1);
- discrimination index ``D = 100 x cov(x, y) / sqrt(var(x) var(y))``: the correlation between
  the question and the rest of the quiz; NULL with fewer than two attempts or when either
  varies not at all (every learner scored alike).

Response frequencies count, per question, how often each response was given (multiple
choice: the option's text; true/false: ``true``/``false``; short answer and numerical: the
text as typed), as a share of the quiz's analysed attempts. Each figure is one statement of
sums over (attempt, question) pairs: the per-question points are read from the attempt's
JSON by :mod:`lms_core.reports.sql`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Select, Subquery, and_, case, cast, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from lms_core.models import (
    Attempt,
    AttemptStatus,
    Enrollment,
    EnrollmentStatus,
    GradingMethod,
    Lesson,
    Question,
    QuestionType,
    Quiz,
)
from lms_core.reports.prepared import Frame
from lms_core.reports.sql import (
    attempt_status,
    json_has,
    json_number,
    json_option_text,
    json_text,
)

#: Question types whose responses are counted (essays and matching have no single response).
RESPONSE_TYPES = (
    QuestionType.multiple_choice.value,
    QuestionType.true_false.value,
    QuestionType.short_answer.value,
    QuestionType.numerical.value,
)


def analysed(course_id: Any, period: Frame) -> Subquery:
    """The attempts analysed, one row each: per learner and quiz, the attempt the quiz's
    grading method counts (highest score, the earliest of equal ones; first; latest), every
    graded attempt when it averages them: Moodle's default for its statistics ("attempts
    that are graded": the quiz's grade method). Graded attempts only, submitted in the period
    when one is given, of learners who have not dropped the course (Moodle reports the
    attempts of enrolled users)."""
    per_learner = (Attempt.quiz_id, Attempt.enrollment_id)
    ranked = (
        select(
            Attempt.id,
            Attempt.quiz_id,
            Attempt.points_earned,
            Attempt.question_scores,
            Attempt.answers,
            Quiz.grading_method,
            func.row_number()
            .over(partition_by=per_learner, order_by=Attempt.number.desc())
            .label("from_last"),
            func.row_number()
            .over(partition_by=per_learner, order_by=Attempt.number)
            .label("from_first"),
            func.row_number()
            .over(partition_by=per_learner, order_by=(Attempt.score.desc(), Attempt.number))
            .label("from_best"),
        )
        .join(Quiz, Quiz.id == Attempt.quiz_id)
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .where(
            Lesson.course_id == course_id,
            Attempt.status == attempt_status(AttemptStatus.graded),
            Attempt.score.is_not(None),
            Enrollment.status != EnrollmentStatus.dropped.value,
            period.holds(Attempt.submitted_at),
        )
        .subquery("ranked")
    )
    method = ranked.c.grading_method
    return (
        select(
            ranked.c.id,
            ranked.c.quiz_id,
            ranked.c.points_earned,
            ranked.c.question_scores,
            ranked.c.answers,
        )
        .where(
            or_(
                method == GradingMethod.average.value,
                and_(method == GradingMethod.latest.value, ranked.c.from_last == 1),
                and_(method == GradingMethod.first.value, ranked.c.from_first == 1),
                and_(method == GradingMethod.highest.value, ranked.c.from_best == 1),
            )
        )
        .subquery("analysed")
    )


def _pairs(course_id: Any, period: Frame) -> Select[*tuple[Any, ...]]:
    """One row per (analysed attempt, question it holds): a question added to the quiz after
    the attempt was graded has no score in it and is not counted as a 0."""
    attempts = analysed(course_id, period)
    x = json_number(attempts.c.question_scores, Question.id)
    total = func.coalesce(cast(attempts.c.points_earned, Float), 0.0)
    return (
        select(
            Question.id.label("question_id"),
            x.label("x"),
            (total - x).label("y"),
        )
        .select_from(attempts)
        .join(Question, Question.quiz_id == attempts.c.quiz_id)
        .where(x.is_not(None))
    )


def _variance(
    sum_sq: ColumnElement[float], total: ColumnElement[float], n: ColumnElement[int]
) -> ColumnElement[float]:
    """Sample variance from sums: (sum x^2 - (sum x)^2 / n) / (n - 1)."""
    return (sum_sq - total * total / n) / func.nullif(n - 1, 0)


def questions(course_id: Any, period: Frame) -> Select[*tuple[Any, ...]]:
    pairs = _pairs(course_id, period).subquery("pairs")
    sums = (
        select(
            pairs.c.question_id,
            func.count().label("n"),
            func.sum(pairs.c.x).label("sx"),
            func.sum(pairs.c.x * pairs.c.x).label("sxx"),
            func.sum(pairs.c.y).label("sy"),
            func.sum(pairs.c.y * pairs.c.y).label("syy"),
            func.sum(pairs.c.x * pairs.c.y).label("sxy"),
        )
        .group_by(pairs.c.question_id)
        .subquery("sums")
    )
    n = cast(sums.c.n, Float)
    vx = _variance(sums.c.sxx, sums.c.sx, n)
    vy = _variance(sums.c.syy, sums.c.sy, n)
    cov = (sums.c.sxy - sums.c.sx * sums.c.sy / n) / func.nullif(n - 1, 0)
    points = cast(Question.points, Float)
    # A variance computed from sums can come out a hair below 0 (or above) when it is 0.
    flat = 1e-9
    facility = literal(100.0, Float) * sums.c.sx / n / func.nullif(points, 0)
    sd = case(
        (vx > flat, literal(100.0, Float) * func.sqrt(vx) / func.nullif(points, 0)),
        else_=case((n > 1, literal(0.0, Float))),
    )
    discrimination = case(
        ((vx > flat) & (vy > flat), literal(100.0, Float) * cov / func.sqrt(vx * vy)),
    )
    return (
        select(
            Quiz.title,
            Question.order_index,
            func.coalesce(Question.title, Question.question_text),
            Question.question_type,
            points,
            func.coalesce(sums.c.n, 0),
            facility,
            sd,
            discrimination,
        )
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .join(Question, Question.quiz_id == Quiz.id)
        .outerjoin(sums, sums.c.question_id == Question.id)
        .where(Lesson.course_id == course_id)
        .order_by(Lesson.order_index, Quiz.id, Question.order_index, Question.id)
    )


def responses(course_id: Any, period: Frame) -> Select[*tuple[Any, ...]]:
    """Answers are counted per (question, raw answer) first; an option's text is looked up
    once per group afterwards, not once per attempt."""
    attempts = analysed(course_id, period)
    answer = json_text(attempts.c.answers, Question.id)
    counts = (
        select(
            Question.id.label("question_id"),
            answer.label("answer"),
            func.count().label("chosen"),
        )
        .select_from(attempts)
        .join(Question, Question.quiz_id == attempts.c.quiz_id)
        .where(
            # Constants, not an expanding IN: a kept statement is compiled once (prepared.py).
            Question.question_type.in_([literal(t) for t in RESPONSE_TYPES]),
            json_has(attempts.c.answers, Question.id),
        )
        .group_by(Question.id, answer)
        .subquery("counts")
    )
    totals = (
        select(attempts.c.quiz_id, func.count().label("n"))
        .group_by(attempts.c.quiz_id)
        .subquery("totals")
    )
    response = case(
        (
            Question.question_type == QuestionType.multiple_choice.value,
            # An answer that names no option (malformed) is shown as it was saved.
            func.coalesce(json_option_text(Question.options, counts.c.answer), counts.c.answer),
        ),
        else_=counts.c.answer,
    )
    return (
        select(
            Quiz.title,
            Question.order_index,
            func.coalesce(Question.title, Question.question_text),
            response.label("response"),
            counts.c.chosen,
            literal(100.0, Float) * counts.c.chosen / func.nullif(totals.c.n, 0),
        )
        .select_from(counts)
        .join(Question, Question.id == counts.c.question_id)
        .join(Quiz, Quiz.id == Question.quiz_id)
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .join(totals, totals.c.quiz_id == Quiz.id)
        .order_by(
            Lesson.order_index,
            Quiz.id,
            Question.order_index,
            Question.id,
            counts.c.chosen.desc(),
            response,
        )
    )


#: The **questions** section's columns.
QUESTION_COLUMNS = (
    "quiz",
    "position",
    "question",
    "type",
    "max_points",
    "attempts",
    "facility_index",
    "standard_deviation",
    "discrimination_index",
)
#: The **responses** section's columns.
RESPONSE_COLUMNS = ("quiz", "position", "question", "response", "chosen", "share")
