"""Regrade every handed-in attempt at a quiz after a fix to its key, set-based.

Attempts are read in id-ordered chunks with plain Core selects (never an ORM object per
attempt), graded with one prepared grader per question, and written back with one
``executemany`` UPDATE per chunk. Hand-graded essay points are kept. The whole run is one
audit entry in the caller's transaction; ``dry_run`` computes the same plan and writes nothing.

Learners whose final result turns from pass to fail and who hold a valid certificate for the
course are listed as a warning: revoking is a person's decision (``lmsctl certificates revoke``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.models import (
    Attempt,
    AttemptStatus,
    Certificate,
    Enrollment,
    EnrollmentStatus,
    GradingMethod,
    LessonProgress,
    Question,
    Quiz,
    QuizType,
    User,
    utcnow,
)
from lms_core.services import audit
from lms_core.services.attempt_scoring import CENT, scorer_for
from lms_core.services.quizzes import get_managed_quiz

CHUNK = 5000
_IN_CHUNK = 900


@dataclass
class LearnerChange:
    """A learner whose final score (by the quiz's grading method) or pass/fail changes."""

    email: str
    enrollment_id: int
    old_score: Decimal | None
    new_score: Decimal | None
    old_passed: bool | None
    new_passed: bool | None


@dataclass
class RegradeResult:
    quiz: Quiz
    dry_run: bool
    #: Handed-in attempts graded again (submitted and graded).
    attempts: int = 0
    #: Attempts whose score, points or pass/fail differ.
    changed_attempts: int = 0
    learners: list[LearnerChange] = field(default_factory=list)
    #: Emails of learners who now fail and hold a valid certificate for the course.
    certificate_warnings: list[str] = field(default_factory=list)
    #: Learners whose quiz lesson was completed because they now pass.
    lessons_completed: int = 0


@dataclass
class _Scores:
    """Per enrollment: (number, score) of its graded attempts, before and after."""

    old: list[tuple[int, Decimal]] = field(default_factory=list)
    new: list[tuple[int, Decimal]] = field(default_factory=list)


def final_of(method: str, scored: list[tuple[int, Decimal]]) -> Decimal | None:
    """The grading method in Python, the same rules as ``quiz_scores`` computes in SQL."""
    if not scored:
        return None
    if method == GradingMethod.highest.value:
        return max(s for _, s in scored)
    if method == GradingMethod.latest.value:
        return max(scored)[1]
    if method == GradingMethod.first.value:
        return min(scored)[1]
    cents = sum(int((s * 100).to_integral_value(ROUND_HALF_UP)) for _, s in scored)
    n = len(scored)
    return (Decimal((2 * cents + n) // (2 * n)) * CENT).quantize(CENT)


def _chunks(items: list[int], size: int = _IN_CHUNK) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def regrade(
    session: Session,
    *,
    actor: Actor,
    quiz_ref: str | int,
    dry_run: bool = False,
    now: datetime | None = None,
    chunk_size: int = CHUNK,
) -> RegradeResult:
    """Grade every submitted and graded attempt again with the quiz's current questions."""
    now = now or utcnow()
    quiz = get_managed_quiz(session, actor, quiz_ref, "regrade quizzes")
    questions = list(
        session.scalars(
            select(Question).where(Question.quiz_id == quiz.id).order_by(Question.order_index)
        )
    )
    scorer = scorer_for(questions, quiz.passing_score)
    t = Attempt.__table__
    assert isinstance(t, Table)
    read = (
        select(
            t.c.id,
            t.c.enrollment_id,
            t.c.number,
            t.c.status,
            t.c.score,
            t.c.passed,
            t.c.points_earned,
            t.c.answers,
            t.c.question_scores,
            t.c.graded_at,
        )
        .where(
            t.c.quiz_id == quiz.id,
            t.c.status.in_([AttemptStatus.submitted.value, AttemptStatus.graded.value]),
        )
        .order_by(t.c.id)
        .limit(chunk_size)
    )
    write = (
        update(t)
        .where(t.c.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            score=bindparam("b_score"),
            passed=bindparam("b_passed"),
            points_earned=bindparam("b_earned"),
            points_possible=bindparam("b_possible"),
            question_scores=bindparam("b_qs"),
            graded_at=bindparam("b_graded_at"),
        )
    )
    result = RegradeResult(quiz, dry_run)
    by_learner: dict[int, _Scores] = {}
    last_id = 0
    while True:
        rows = session.execute(read.where(t.c.id > last_id)).all()
        if not rows:
            break
        last_id = rows[-1].id
        params = []
        for r in rows:
            scored = scorer.score(r.answers or {}, r.question_scores or {})
            graded = not scored.pending
            learner = by_learner.setdefault(r.enrollment_id, _Scores())
            if r.status == AttemptStatus.graded.value and r.score is not None:
                learner.old.append((r.number, Decimal(r.score).quantize(CENT)))
            if graded and scored.score is not None:
                learner.new.append((r.number, scored.score))
            old = None if r.score is None else Decimal(r.score).quantize(CENT)
            if old != scored.score or r.passed != scored.passed:
                result.changed_attempts += 1
            params.append(
                {
                    "b_id": r.id,
                    "b_status": (
                        AttemptStatus.graded.value if graded else AttemptStatus.submitted.value
                    ),
                    "b_score": scored.score,
                    "b_passed": scored.passed,
                    "b_earned": scored.points_earned,
                    "b_possible": scored.points_possible,
                    "b_qs": scored.question_scores,
                    "b_graded_at": (r.graded_at or now) if graded else None,
                }
            )
        result.attempts += len(rows)
        if not dry_run:
            session.execute(write, params)
    _learner_changes(session, quiz, by_learner, result)
    if not dry_run:
        result.lessons_completed = _complete_newly_passing(session, quiz, result)
        session.expire_all()
        audit.record(
            session,
            actor,
            "quiz.regrade",
            quiz,
            after={
                "attempts": result.attempts,
                "changed_attempts": result.changed_attempts,
                "learners_changed": len(result.learners),
                "pass_to_fail": sum(
                    1 for c in result.learners if c.old_passed and not c.new_passed
                ),
                "certificate_warnings": result.certificate_warnings,
                "lessons_completed": result.lessons_completed,
            },
        )
    return result


def _learner_changes(
    session: Session, quiz: Quiz, by_learner: dict[int, _Scores], result: RegradeResult
) -> None:
    method, passing = quiz.grading_method, quiz.passing_score
    changes: dict[int, tuple[Decimal | None, Decimal | None]] = {}
    for enrollment_id, s in by_learner.items():
        old, new = final_of(method, s.old), final_of(method, s.new)
        if old != new:
            changes[enrollment_id] = (old, new)
    emails: dict[int, str] = {}
    ids = sorted(changes)
    for chunk in _chunks(ids):
        emails.update(
            (eid, email)
            for eid, email in session.execute(
                select(Enrollment.id, User.email)
                .join(User, User.id == Enrollment.student_id)
                .where(Enrollment.id.in_(chunk))
            )
        )
    for enrollment_id in ids:
        old, new = changes[enrollment_id]
        result.learners.append(
            LearnerChange(
                email=emails[enrollment_id],
                enrollment_id=enrollment_id,
                old_score=old,
                new_score=new,
                old_passed=None if old is None else old >= passing,
                new_passed=None if new is None else new >= passing,
            )
        )
    result.learners.sort(key=lambda c: c.email)
    now_failing = [c.enrollment_id for c in result.learners if c.old_passed and not c.new_passed]
    certified: set[int] = set()
    for chunk in _chunks(now_failing):
        certified.update(
            session.scalars(
                select(Certificate.enrollment_id).where(
                    Certificate.enrollment_id.in_(chunk),
                    Certificate.revoked_at.is_(None),
                    Certificate.superseded_at.is_(None),
                )
            )
        )
    result.certificate_warnings = sorted(
        c.email for c in result.learners if c.enrollment_id in certified
    )


def _complete_newly_passing(session: Session, quiz: Quiz, result: RegradeResult) -> int:
    """Learners of a graded quiz who pass now: their quiz lesson is done (progress recomputed)."""
    from lms_core.services.progress import recompute

    if quiz.quiz_type != QuizType.graded.value:
        return 0  # practice quizzes complete their lesson when handed in
    passing = [c.enrollment_id for c in result.learners if c.new_passed and not c.old_passed]
    done: set[int] = set()
    for chunk in _chunks(passing):
        done.update(
            session.scalars(
                select(LessonProgress.enrollment_id).where(
                    LessonProgress.lesson_id == quiz.lesson_id,
                    LessonProgress.enrollment_id.in_(chunk),
                )
            )
        )
    todo: list[Any] = []
    for chunk in _chunks([e for e in passing if e not in done]):
        todo.extend(
            session.scalars(
                select(Enrollment).where(
                    Enrollment.id.in_(chunk),
                    Enrollment.status != EnrollmentStatus.dropped.value,
                )
            )
        )
    if not todo:
        return 0
    session.execute(
        insert(LessonProgress),
        [
            {"enrollment_id": e.id, "lesson_id": quiz.lesson_id, "completed_at": utcnow()}
            for e in todo
        ],
    )
    for enrollment in todo:
        recompute(session, enrollment)
    return len(todo)
