"""Learners' attempts: start (or resume), save answers, submit, hand-grade essays, close overdue.

The time limit is enforced here, on the server: an attempt's ``deadline_at`` is fixed when it
starts, answers arriving after it are not stored, and an overdue attempt is closed with the
answers saved in time (by the learner's next call, or by ``close_overdue`` from cron).
Every ``now=`` parameter defaults to the clock; tests pass one instead of sleeping.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core import events
from lms_core.accounts import audit
from lms_core.accounts.activity import note_activity
from lms_core.accounts.users import get_user
from lms_core.actor import Actor
from lms_core.db import insert_or_winner
from lms_core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from lms_core.models import (
    Attempt,
    AttemptStatus,
    Enrollment,
    EnrollmentStatus,
    Question,
    QuestionType,
    Quiz,
    QuizType,
    User,
    utcnow,
)
from lms_core.permissions import ManagedCourse, can_manage_course
from lms_core.quizzes import answer_rows, statements
from lms_core.quizzes.answer_rows import AnswerTarget
from lms_core.quizzes.fields import TIME_LIMIT_MAX
from lms_core.quizzes.quizzes import get_quiz
from lms_core.quizzes.scoring import AnswerShape, Scored, check_answer, scorer_for

Q = TypeVar("Q", bound=AnswerShape)

_SHUFFLED_OPTIONS = (
    QuestionType.multiple_choice.value,
    QuestionType.multiple_response.value,
    QuestionType.matching.value,
)


@dataclass
class AttemptView:
    """An attempt as a learner sees it: questions in display order, options shuffled per seed."""

    attempt: Attempt
    questions: list[Question]
    #: question id -> stored option indexes in display order (matching: the right column).
    option_orders: dict[int, list[int]] = field(default_factory=dict)
    resumed: bool = False
    #: The learner's e-mail (set by :func:`start_attempt`).
    email: str = ""


@dataclass
class SaveResult:
    #: The attempt as it now is: its row (saved), or the object (closed as overdue).
    attempt: Attempt | AnswerTarget
    #: Question numbers whose answers were stored.
    saved: list[int]
    #: The deadline had passed: nothing was stored and the attempt was closed.
    late: bool = False
    #: The learner's e-mail.
    email: str = ""


def quiz_questions(session: Session, quiz_id: int) -> list[Question]:
    return list(session.scalars(statements.questions_in_order(), {"quiz_id": quiz_id}))


def view(session: Session, attempt: Attempt, quiz: Quiz, *, resumed: bool = False) -> AttemptView:
    """Question and option order derived from the attempt's seed: the same on every resume."""
    from lms_core.quizzes.shuffle import option_order, question_order

    questions = quiz_questions(session, quiz.id)
    if quiz.shuffle_questions:
        by_id = {q.id: q for q in questions}
        questions = [by_id[i] for i in question_order(attempt.shuffle_seed, list(by_id))]
    orders: dict[int, list[int]] = {}
    for q in questions:
        n = len(q.options or [])
        if quiz.shuffle_options and q.question_type in _SHUFFLED_OPTIONS:
            orders[q.id] = list(option_order(attempt.shuffle_seed, q.id, n))
        else:
            orders[q.id] = list(range(n))
    return AttemptView(attempt, questions, orders, resumed)


def question_item(q: Question, answer: Any) -> dict[str, Any]:
    """A question as learners and reviewers see it (no key, no weights), with the answer given."""
    return {
        "number": q.order_index,
        "id": q.id,
        "question_type": q.question_type,
        "title": q.title,
        "question_text": q.question_text,
        "points": q.points,
        "answer": answer,
    }


def learner_questions(v: AttemptView) -> list[dict[str, Any]]:
    """The questions as a learner may see them: no weights, no key, options in display order.

    ``choices`` pairs each shown option with its stored index (what an answer names); for
    matching, ``left`` lists the prompts by index and ``choices`` the right-hand texts.
    """
    out = []
    answers = v.attempt.answers or {}
    for shown, q in enumerate(v.questions, start=1):
        item: dict[str, Any] = {"shown": shown, **question_item(q, answers.get(str(q.id)))}
        options = q.options or []
        order = v.option_orders.get(q.id, list(range(len(options))))
        if q.question_type in (
            QuestionType.multiple_choice.value,
            QuestionType.multiple_response.value,
        ):
            item["choices"] = [{"index": i, "text": options[i]["text"]} for i in order]
        elif q.question_type == QuestionType.matching.value:
            item["left"] = [{"index": i, "text": o["left"]} for i, o in enumerate(options)]
            item["choices"] = [options[i]["right"] for i in order]
        out.append(item)
    return out


def _require_for_learner(actor: Actor, student: User, quiz: Quiz, what: str) -> None:
    """Learners act on their own attempts; the course's managers (staff) act for anyone."""
    _require_learner_or_manager(actor, student.id, student.email, quiz.lesson.course, what)


def may_act_for_learner(actor: Actor, student_id: int, course: ManagedCourse) -> bool:
    """Whether ``actor`` may act on an attempt of this learner in this course: the learner,
    or a manager of the course (the API answers anyone else as if the attempt did not exist)."""
    return actor.is_user(student_id) or can_manage_course(actor, course)


def _require_learner_or_manager(
    actor: Actor, student_id: int, email: str, course: ManagedCourse, what: str
) -> None:
    if may_act_for_learner(actor, student_id, course):
        return
    raise PermissionDenied(f"only {email}, the course's instructor or an administrator may {what}")


def _in_progress(session: Session, enrollment_id: int, quiz_id: int) -> Attempt | None:
    return session.scalars(
        select(Attempt).where(
            Attempt.enrollment_id == enrollment_id,
            Attempt.quiz_id == quiz_id,
            Attempt.status == AttemptStatus.in_progress.value,
        )
    ).first()


def _overdue(attempt: Attempt | AnswerTarget, now: datetime) -> bool:
    return attempt.deadline_at is not None and now > attempt.deadline_at


def _learner(session: Session, actor: Actor, email: str | None) -> User:
    """The learner an attempt is for: the one named, else the acting user."""
    if email is not None:
        return get_user(session, email)
    if actor.user_id is None:
        raise ValidationError(
            f"{actor.label} is not a learner: name the learner whose attempt to start "
            "(their e-mail), or act as the learner",
            field="email",
        )
    user = session.get(User, actor.user_id)
    if user is None:  # the acting user was resolved in this transaction
        raise NotFound(f"no user {actor.label}", field="as", value=actor.label)
    return user


def _deadline(quiz: Quiz, now: datetime) -> datetime | None:
    """When an attempt started ``now`` ends; None without a time limit.

    A limit stored before limits were checked (or by hand) may be one no date can hold:
    refused with what to do, not a crash.
    """
    minutes = quiz.time_limit_minutes
    if not minutes:
        return None
    if not 0 < minutes <= TIME_LIMIT_MAX:
        raise Conflict(
            f"quiz {quiz.id} has a time limit of {minutes} minutes, outside 1..{TIME_LIMIT_MAX} "
            "(366 days): set a new time limit in the quiz's settings (0 for none) first",
            field="time_limit_minutes",
            value=minutes,
        )
    return now + timedelta(minutes=minutes)


def start_attempt(
    session: Session,
    *,
    actor: Actor,
    quiz_ref: str | int,
    email: str | None = None,
    now: datetime | None = None,
) -> AttemptView:
    """Open an attempt, or resume the one in progress (same questions, same order).

    The learner is ``email``, or else the acting user (a learner starting their own attempt);
    an operator or job acting for nobody in particular must name the learner. Refused unless
    the quiz is published, the learner is enrolled (active) and has attempts left, and the
    quiz's time limit is one a deadline can be set from. Two racing starts make one attempt:
    the partial unique index on in-progress attempts refuses the second insert, which then
    resumes the winner's.
    """
    now = now or utcnow()
    quiz = get_quiz(session, quiz_ref)
    student = _learner(session, actor, email)
    email = student.email
    _require_for_learner(actor, student, quiz, "start an attempt for this learner")
    course = quiz.lesson.course
    if not quiz.is_published:
        raise Conflict(f"quiz {quiz.id} is not published", field="quiz", value=str(quiz_ref))
    enrollment = session.scalars(
        select(Enrollment).where(
            Enrollment.student_id == student.id, Enrollment.course_id == course.id
        )
    ).first()
    if enrollment is None or enrollment.status != EnrollmentStatus.active.value:
        state = "not enrolled in" if enrollment is None else f"{enrollment.status} in"
        raise Conflict(f"{student.email} is {state} {course.slug}", field="email", value=email)
    current = _in_progress(session, enrollment.id, quiz.id)
    if current is not None and _overdue(current, now):
        finish(session, actor=actor, attempt=current, quiz=quiz, now=now)
        current = None
    if current is not None:
        return replace(view(session, current, quiz, resumed=True), email=email)
    used, last = session.execute(
        select(func.count(Attempt.id), func.coalesce(func.max(Attempt.number), 0)).where(
            Attempt.enrollment_id == enrollment.id, Attempt.quiz_id == quiz.id
        )
    ).one()
    if quiz.max_attempts is not None and used >= quiz.max_attempts:
        raise Conflict(
            f"{student.email} has used all {quiz.max_attempts} attempt(s) at quiz {quiz.id}",
            field="max_attempts",
            value=quiz.max_attempts,
        )
    attempt = Attempt(
        enrollment_id=enrollment.id,
        quiz_id=quiz.id,
        number=last + 1,
        status=AttemptStatus.in_progress.value,
        started_at=now,
        deadline_at=_deadline(quiz, now),
        answers={},
        question_scores={},
        shuffle_seed=secrets.randbelow(2**31),
    )
    winner = insert_or_winner(
        session, attempt, lambda: _in_progress(session, enrollment.id, quiz.id)
    )
    if winner is not None:
        return replace(view(session, winner, quiz, resumed=True), email=email)
    note_activity(session, student.id, now)
    audit.record(
        session,
        actor,
        "attempt.start",
        attempt,
        after={"quiz_id": quiz.id, "email": student.email, "number": attempt.number},
    )
    return replace(view(session, attempt, quiz), email=email)


def get_attempt(session: Session, attempt_id: int) -> tuple[Attempt, Quiz, User]:
    row = session.execute(statements.attempt_with_student(), {"attempt_id": attempt_id}).first()
    if row is None:
        raise NotFound(f"no attempt {attempt_id}", field="attempt", value=attempt_id)
    attempt, student, quiz = row
    return attempt, quiz, student


def show_attempt(session: Session, *, actor: Actor, attempt_id: int) -> AttemptView:
    """The attempt with its questions in display order (the learner's or a manager's view)."""
    attempt, quiz, student = get_attempt(session, attempt_id)
    _require_for_learner(actor, student, quiz, "see this attempt")
    return view(session, attempt, quiz)


def question_by_number(questions: Sequence[Q], number: int) -> Q:
    for q in questions:
        if q.order_index == number:
            return q
    raise ValidationError(
        f"the quiz has no question {number} (it has 1..{len(questions)})",
        field="question",
        value=number,
    )


def save_answers(
    session: Session,
    *,
    actor: Actor,
    attempt_id: int,
    answers: Mapping[int, Any],
    now: datetime | None = None,
    read: AnswerTarget | None = None,
) -> SaveResult:
    """Store answers keyed by question number (1..n, the quiz's stored order).

    After the deadline nothing is stored: the result says ``late`` and the attempt is closed
    with the answers saved in time. Every answer is checked before any is stored.
    ``read``: what :func:`answer_rows.answer_target` gave for this attempt in this unit of
    work, when the caller already asked (the API checks who may see the attempt first).

    The attempt, its questions and the write are plain columns (:mod:`answer_rows`: the
    API's busiest write), its row locked as it is read, so that saves to one attempt queue
    and each merges into the last; closing an overdue attempt goes through the objects.
    """
    now = now or utcnow()
    target = read if read is not None and read.id == attempt_id else None
    if target is None:
        target = answer_rows.answer_target(session, attempt_id)
    _require_learner_or_manager(
        actor, target.student_id, target.email, target.course, "answer for this learner"
    )
    _require_open(target)
    if _overdue(target, now):
        attempt, quiz, _student = get_attempt(session, attempt_id)
        finish(session, actor=actor, attempt=attempt, quiz=quiz, now=now)
        return SaveResult(attempt, [], late=True, email=target.email)
    questions = target.questions
    checked: dict[str, Any] = {}
    errors = []
    for number, value in answers.items():
        try:
            q = question_by_number(questions, number)
            checked[str(q.id)] = check_answer(q, value, field=f"question {number}")
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        from lms_core.errors import ErrorList

        raise errors[0] if len(errors) == 1 else ErrorList(list(errors))
    saved = answer_rows.store_answers(
        session,
        actor=actor,
        target=target,
        answers={**(target.answers or {}), **checked},
        numbers=sorted(answers),
    )
    return SaveResult(saved, sorted(answers), email=target.email)


def _require_open(attempt: Attempt | AnswerTarget) -> None:
    if attempt.status != AttemptStatus.in_progress.value:
        raise Conflict(
            f"attempt {attempt.id} is {attempt.status}, no longer in progress",
            field="attempt",
            value=attempt.id,
        )


def submit_attempt(
    session: Session, *, actor: Actor, attempt_id: int, now: datetime | None = None
) -> Attempt:
    """Hand in: graded at once, or ``submitted`` while an essay waits for the instructor."""
    now = now or utcnow()
    attempt, quiz, student = get_attempt(session, attempt_id)
    _require_for_learner(actor, student, quiz, "submit for this learner")
    _require_open(attempt)
    return finish(session, actor=actor, attempt=attempt, quiz=quiz, now=now)


def apply_result(attempt: Attempt, result: Scored, now: datetime) -> None:
    attempt.question_scores = result.question_scores
    attempt.points_earned = result.points_earned
    attempt.points_possible = result.points_possible
    attempt.score = result.score
    attempt.passed = result.passed
    if result.pending:
        attempt.status = AttemptStatus.submitted.value
    else:
        attempt.status = AttemptStatus.graded.value
        attempt.graded_at = now


def finish(
    session: Session, *, actor: Actor, attempt: Attempt, quiz: Quiz, now: datetime
) -> Attempt:
    """Close an attempt with the answers it holds; an overdue one counts as handed in at its deadline."""
    questions = quiz_questions(session, quiz.id)
    result = scorer_for(questions, quiz.passing_score).score(
        attempt.answers or {}, attempt.question_scores or {}
    )
    overdue = _overdue(attempt, now)
    handed_in = attempt.deadline_at if overdue and attempt.deadline_at else now
    attempt.submitted_at = handed_in
    apply_result(attempt, result, now)
    session.flush()
    note_activity(
        session,
        session.scalars(
            select(Enrollment.student_id).where(Enrollment.id == attempt.enrollment_id)
        ).one(),
        handed_in,
    )
    audit.record(
        session,
        actor,
        "attempt.close_overdue" if overdue else "attempt.submit",
        attempt,
        after=audit.snapshot(attempt, ("status", "score", "passed")),
    )
    events.attempt_graded(session, attempt)
    feed_progress(session, actor=actor, attempt=attempt, quiz=quiz)
    from lms_core.automation.queue import queue_certificate_after_grade

    queue_certificate_after_grade(session, attempt.enrollment_id, utcnow())
    return attempt


def feed_progress(session: Session, *, actor: Actor, attempt: Attempt, quiz: Quiz) -> bool:
    """Complete the quiz lesson when the learner's final result passes (practice: when handed in).

    Goes through the enrollments service, so progress, completion and the audit log follow.
    Returns whether the lesson counts as done now.
    """
    from lms_core.catalog.enrollments import complete_earned_lesson
    from lms_core.quizzes.final_scores import final_scores

    if quiz.quiz_type == QuizType.practice.value:
        done = attempt.status != AttemptStatus.in_progress.value
    else:
        final = final_scores(session, [quiz.id], [attempt.enrollment_id]).get(
            (quiz.id, attempt.enrollment_id)
        )
        done = final is not None and final >= quiz.passing_score
    if not done:
        return False
    enrollment = session.get(Enrollment, attempt.enrollment_id)
    if enrollment is None or enrollment.status == EnrollmentStatus.dropped.value:
        return False
    complete_earned_lesson(
        session,
        actor=actor,
        email=enrollment.student.email,
        course_slug=enrollment.course.slug,
        lesson_slug=quiz.lesson.slug,
    )
    return True
