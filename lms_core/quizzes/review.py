"""What staff do with handed-in attempts: grade essays by hand, close overdue ones, list them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lms_core import events
from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.assignments.fields import parse_decimal
from lms_core.errors import Conflict, ValidationError
from lms_core.models import Attempt, AttemptStatus, Enrollment, QuestionType, Quiz, User, utcnow
from lms_core.permissions import require_admin, require_course_manager
from lms_core.quizzes.attempts import (
    apply_result,
    feed_progress,
    finish,
    get_attempt,
    question_by_number,
    question_item,
    quiz_questions,
    show_attempt,
)
from lms_core.quizzes.fields import AttemptRow
from lms_core.quizzes.quizzes import get_managed_quiz, get_quiz
from lms_core.quizzes.scoring import CENT, scorer_for


class AttemptLike(Protocol):
    """What :func:`attempt_row` shows of an attempt: an ``Attempt``, or the plain row a save
    read (``answer_rows.AnswerTarget``)."""

    @property
    def id(self) -> int: ...
    @property
    def quiz_id(self) -> int: ...
    @property
    def number(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def score(self) -> Decimal | None: ...
    @property
    def passed(self) -> bool | None: ...
    @property
    def points_earned(self) -> Decimal | None: ...
    @property
    def points_possible(self) -> Decimal | None: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def deadline_at(self) -> datetime | None: ...
    @property
    def submitted_at(self) -> datetime | None: ...
    @property
    def graded_at(self) -> datetime | None: ...


def attempt_row(attempt: AttemptLike, email: str) -> AttemptRow:
    """The attempt as listings and ``--json`` show it, its learner named by ``email``."""
    return AttemptRow(
        id=attempt.id,
        quiz_id=attempt.quiz_id,
        email=email,
        number=attempt.number,
        status=attempt.status,
        score=_float(attempt.score),
        passed=attempt.passed,
        points_earned=_float(attempt.points_earned),
        points_possible=_float(attempt.points_possible),
        started_at=attempt.started_at.isoformat(),
        deadline_at=_iso(attempt.deadline_at),
        submitted_at=_iso(attempt.submitted_at),
        graded_at=_iso(attempt.graded_at),
    )


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def learner_row(session: Session, attempt: Attempt) -> AttemptRow:
    """:func:`attempt_row` with the learner's e-mail looked up (after a save, submit, grade)."""
    _, _, student = get_attempt(session, attempt.id)
    return attempt_row(attempt, student.email)


def grade_essay(
    session: Session,
    *,
    actor: Actor,
    attempt_id: int,
    question_number: int,
    points: Decimal | int | float | str,
    now: datetime | None = None,
) -> Attempt:
    """Give points to an essay answer; once every essay has points, the attempt is graded."""
    now = now or utcnow()
    attempt, quiz, _student = get_attempt(session, attempt_id)
    require_course_manager(actor, quiz.lesson.course, "grade essays")
    if attempt.status == AttemptStatus.in_progress.value:
        raise Conflict(
            f"attempt {attempt.id} is still in progress", field="attempt", value=attempt_id
        )
    questions = quiz_questions(session, quiz.id)
    q = question_by_number(questions, question_number)
    if q.question_type != QuestionType.essay.value:
        raise ValidationError(
            f"question {question_number} is {q.question_type}, graded automatically",
            field="question",
            value=question_number,
        )
    # The grader's rule for a number, as an assignment's grade: "7,5" is 7.5, cents at most.
    value = parse_decimal(points, field="points", low=Decimal(0), high=q.points)
    before = audit.snapshot(attempt, ("status", "score", "passed"))
    hand = {**(attempt.question_scores or {}), str(q.id): str(value.quantize(CENT))}
    result = scorer_for(questions, quiz.passing_score).score(attempt.answers or {}, hand)
    apply_result(attempt, result, now)
    attempt.graded_by_id = actor.user_id
    session.flush()
    audit.record(
        session,
        actor,
        "attempt.grade_essay",
        attempt,
        before=before,
        after={
            "question": question_number,
            "points": str(value.quantize(CENT)),
            **audit.snapshot(attempt, ("status", "score", "passed")),
        },
    )
    events.attempt_graded(session, attempt)
    feed_progress(session, actor=actor, attempt=attempt, quiz=quiz)
    from lms_core.automation.queue import queue_certificate_after_grade

    queue_certificate_after_grade(session, attempt.enrollment_id, utcnow())
    return attempt


def close_overdue(
    session: Session, *, actor: Actor, now: datetime | None = None, dry_run: bool = False
) -> list[AttemptRow]:
    """Close every attempt past its deadline with the answers saved in time (cron-safe rerun).

    Every course's attempts: administrators and jobs only."""
    require_admin(actor, "close every overdue attempt")
    now = now or utcnow()
    stmt = (
        select(Attempt, User.email)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .join(User, User.id == Enrollment.student_id)
        .where(
            Attempt.status == AttemptStatus.in_progress.value,
            Attempt.deadline_at.is_not(None),
            Attempt.deadline_at < now,
        )
        .order_by(Attempt.quiz_id, Attempt.id)
    )
    rows = []
    quizzes: dict[int, Quiz] = {}
    for attempt, email in session.execute(stmt).all():
        if not dry_run:
            quiz = quizzes.get(attempt.quiz_id) or get_quiz(session, attempt.quiz_id)
            quizzes[quiz.id] = quiz
            finish(session, actor=actor, attempt=attempt, quiz=quiz, now=now)
        rows.append(attempt_row(attempt, email))
    return rows


def attempts_query(
    session: Session, *, actor: Actor, quiz_ref: str | int, status: str | None = None
) -> Select[Attempt, str]:
    """The query behind ``list_attempts``: (attempt, learner's e-mail) rows, for a list or a
    stream (``pagination.iter_tuples``)."""
    quiz = get_managed_quiz(session, actor, quiz_ref, "see the attempts at this quiz")
    stmt = (
        select(Attempt, User.email)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .join(User, User.id == Enrollment.student_id)
        .where(Attempt.quiz_id == quiz.id)
        .order_by(User.email, Attempt.number)
    )
    if status is not None:
        allowed = [s.value for s in AttemptStatus]
        if status not in allowed:
            raise ValidationError(
                f"must be one of {', '.join(allowed)}", field="status", value=status
            )
        stmt = stmt.where(Attempt.status == status)
    return stmt


def list_attempts(
    session: Session, *, actor: Actor, quiz_ref: str | int, status: str | None = None
) -> list[AttemptRow]:
    """Every attempt at a quiz (course managers), by learner and number.

    ``status`` keeps one kind: ``submitted`` lists the attempts whose essays wait for a grade.
    """
    stmt = attempts_query(session, actor=actor, quiz_ref=quiz_ref, status=status)
    return [attempt_row(a, email) for a, email in session.execute(stmt)]


def review_attempt(session: Session, *, actor: Actor, attempt_id: int) -> dict[str, Any]:
    """An attempt question by question (quiz order): the answer given and the points earned.

    What an instructor reads before ``grade-essay`` (the essay's text) and what a learner
    reads of their own attempt. No key and no weights: those are ``quizzes questions``.
    An essay answered but not graded yet has ``points_earned`` null and ``waiting`` true.
    """
    shown = show_attempt(session, actor=actor, attempt_id=attempt_id)
    attempt = shown.attempt
    _, _, student = get_attempt(session, attempt_id)
    answers = attempt.answers or {}
    scores = attempt.question_scores or {}
    handed_in = attempt.status != AttemptStatus.in_progress.value
    questions = []
    for q in sorted(shown.questions, key=lambda x: x.order_index):
        key = str(q.id)
        earned = scores.get(key)
        questions.append(
            {
                **question_item(q, answers.get(key)),
                "answer_text": _chosen_text(q.question_type, q.options or [], answers.get(key)),
                "points_earned": float(earned) if earned is not None else None,
                "waiting": handed_in
                and earned is None
                and q.question_type == QuestionType.essay.value
                and bool(str(answers.get(key) or "").strip()),
            }
        )
    return {"attempt": attempt_row(attempt, student.email), "questions": questions}


def _chosen_text(kind: str, options: list[Any], answer: Any) -> str | None:
    """The text of the chosen option(s) of a choice question (answers store indexes)."""
    if kind not in (QuestionType.multiple_choice.value, QuestionType.multiple_response.value):
        return None
    chosen = answer if isinstance(answer, list) else [answer]
    texts = [
        str(options[i]["text"])
        for i in chosen
        if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(options)
    ]
    return "; ".join(texts) if texts and answer is not None else None
