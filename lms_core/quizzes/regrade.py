"""Regrade every handed-in attempt at a quiz after a fix to its key, set-based.

Attempts are read in id-ordered chunks with plain Core selects (never an ORM object per
attempt), graded with one prepared grader per question, and written back with one
``executemany`` UPDATE per chunk. Hand-graded essay points are kept. The whole run is one
audit entry in the caller's transaction; ``dry_run`` computes the same plan and writes nothing.

Learners whose final result turns from pass to fail and who hold a valid certificate for the
course are listed as a warning: revoking is a person's decision (``lmsctl certificates revoke``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import (
    Integer,
    Numeric,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.models import (
    Attempt,
    AttemptStatus,
    Certificate,
    Enrollment,
    GradingMethod,
    Question,
    Quiz,
    QuizType,
    User,
    utcnow,
)
from lms_core.quizzes.quizzes import get_managed_quiz
from lms_core.quizzes.scoring import scorer_for

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


#: Per enrollment: (attempt number, old score if it was graded, new score if graded now),
#: scores in hundredths of a percent (8571 is 85.71 %).
_Seen = dict[int, list[tuple[int, int | None, int | None]]]


def _final(method: str, scored: list[tuple[int, int]]) -> int | None:
    """The grading method on (number, hundredths): the rules ``final_scores`` applies in SQL."""
    if not scored:
        return None
    if method == GradingMethod.highest.value:
        return max(s for _, s in scored)
    if method == GradingMethod.latest.value:
        return max(scored)[1]
    if method == GradingMethod.first.value:
        return min(scored)[1]
    n = len(scored)
    return (2 * sum(s for _, s in scored) + n) // (2 * n)


def _decimal(hundredths: int | None) -> Decimal | None:
    return None if hundredths is None else Decimal(hundredths).scaleb(-2)


def final_of(method: str, scored: list[tuple[int, Decimal]]) -> Decimal | None:
    """The grading method over (number, score) pairs, as ``final_scores`` computes it in SQL."""
    as_int = [(n, int((s * 100).to_integral_value(ROUND_HALF_UP))) for n, s in scored]
    return _decimal(_final(method, as_int))


def _hand_scores(patterns: list[tuple[str, re.Pattern[str]]], text: str) -> dict[str, str]:
    """The essays' hand-graded points from ``question_scores`` JSON text (no full parse)."""
    found = {}
    for key, pattern in patterns:
        match = pattern.search(text)
        if match:
            found[key] = match.group(1)
    return found


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
    progress: Callable[[int, int], None] | None = None,
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
    graded_value, submitted_value = AttemptStatus.graded.value, AttemptStatus.submitted.value
    handed_in = (t.c.quiz_id == quiz.id, t.c.status.in_([submitted_value, graded_value]))
    # The chunks are id ranges, from one ids-only query: each chunk's read then touches only
    # its own rows (keyset "id > last ORDER BY id LIMIT n" sorted every remaining row of
    # both statuses again for each chunk).
    ids = list(session.scalars(select(t.c.id).where(*handed_in).order_by(t.c.id)))
    bounds = [
        (ids[i], ids[min(i + chunk_size, len(ids)) - 1]) for i in range(0, len(ids), chunk_size)
    ]
    # JSON read as its text: parsed here once (and compared as text to skip unchanged rows).
    read = select(
        t.c.id,
        t.c.enrollment_id,
        t.c.number,
        t.c.status,
        # hundredths and 0/1: compared as integers, no Decimal per row
        cast(func.round(t.c.score * 100), Integer),
        type_coerce(t.c.passed, Integer),
        cast(t.c.answers, Text),
        cast(t.c.question_scores, Text),
    ).where(*handed_in, t.c.id >= bindparam("lo"), t.c.id <= bindparam("hi"))
    # Scores go in as decimal text and question_scores as JSON text (no per-row conversion);
    # points_possible is the quiz's, written inline. The rare attempt whose status changes
    # (an essay added or removed) gets its own statement, with graded_at.
    common = {
        "score": bindparam("b_score", type_=String),
        "passed": bindparam("b_passed"),
        "points_earned": bindparam("b_earned", type_=String),
        "points_possible": literal_column(str(scorer.possible), Numeric(10, 2)),
        "question_scores": bindparam("b_qs", type_=String),
    }
    write = update(t).where(t.c.id == bindparam("b_id")).values(**common)
    write_status = (
        update(t)
        .where(t.c.id == bindparam("b_id"))
        .values(
            **common,
            status=bindparam("b_status", type_=String),
            graded_at=bindparam("b_graded_at"),
        )
    )
    result = RegradeResult(quiz, dry_run)
    by_learner: _Seen = {}
    hand_patterns = [
        (key, re.compile(rf'"{key}"\s*:\s*"?(-?[0-9.]+)"?'))
        for key, grader, _ in scorer.items
        if grader is None
    ]
    loads = json.loads
    essays = scorer.has_essays
    passing = int((quiz.passing_score * 100).to_integral_value(ROUND_HALF_UP))
    texts: dict[int, str] = {}

    def text_of(hundredths: int) -> str:
        """85.71 from 8571 (scores and points alike), remembered: few distinct values."""
        text = texts.get(hundredths)
        if text is None:
            text = texts[hundredths] = str(Decimal(hundredths).scaleb(-2))
        return text

    for lo, hi in bounds:
        rows = session.execute(read, {"lo": lo, "hi": hi}).all()
        same, moved = [], []
        for (
            attempt_id,
            enrollment_id,
            number,
            status,
            old_score,
            old_passed,
            a_text,
            q_text,
        ) in rows:
            answers = loads(a_text) if a_text else None
            hand = _hand_scores(hand_patterns, q_text) if essays and q_text else {}
            earned, parts, pending = scorer.grade(answers or {}, hand)
            qs_text = "{" + ", ".join(parts) + "}"
            if pending:
                new_status, score, passed = submitted_value, None, None
            else:
                new_status, score = graded_value, scorer.hundredths(earned)
                passed = score >= passing
            seen = (number, old_score if status == graded_value else None, score)
            learner = by_learner.get(enrollment_id)
            if learner is None:
                by_learner[enrollment_id] = [seen]
            else:
                learner.append(seen)
            if (
                new_status == status
                and score == old_score
                and passed == old_passed
                and qs_text == q_text
            ):
                continue
            result.changed_attempts += 1
            params = {
                "b_id": attempt_id,
                "b_score": None if score is None else text_of(score),
                "b_passed": passed,
                "b_earned": text_of(earned),
                "b_qs": qs_text,
            }
            if new_status == status:
                same.append(params)
            else:
                params["b_status"] = new_status
                params["b_graded_at"] = now if new_status == graded_value else None
                moved.append(params)
        result.attempts += len(rows)
        if progress is not None:
            progress(result.attempts, len(ids))
        if not dry_run:
            if same:
                session.execute(write, same)
            if moved:
                session.execute(write_status, moved)
    _learner_changes(session, quiz, by_learner, result)
    if not dry_run:
        result.lessons_completed = _complete_newly_passing(session, quiz, result)
        if result.changed_attempts:
            session.expire_all()  # attempts loaded in the session see their new scores
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


def _complete_newly_passing(session: Session, quiz: Quiz, result: RegradeResult) -> int:
    """Learners of a graded quiz whose final result passes now: their quiz lesson is done."""
    from lms_core.quizzes.completion import complete_quiz_lesson

    if quiz.quiz_type != QuizType.graded.value:
        return 0  # practice quizzes complete their lesson when handed in
    passing = [c.enrollment_id for c in result.learners if c.new_passed and not c.old_passed]
    return complete_quiz_lesson(session, quiz, passing)


def _learner_changes(
    session: Session, quiz: Quiz, by_learner: _Seen, result: RegradeResult
) -> None:
    method, passing = quiz.grading_method, quiz.passing_score
    changes: dict[int, tuple[Decimal | None, Decimal | None]] = {}
    for enrollment_id, seen in by_learner.items():
        if len(seen) == 1:  # one attempt: its score is the final score, whatever the method
            _, old, new = seen[0]
        else:
            old = _final(method, [(n, o) for n, o, _ in seen if o is not None])
            new = _final(method, [(n, x) for n, _, x in seen if x is not None])
        if old != new:
            changes[enrollment_id] = (_decimal(old), _decimal(new))
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
        old_score, new_score = changes[enrollment_id]
        result.learners.append(
            LearnerChange(
                email=emails[enrollment_id],
                enrollment_id=enrollment_id,
                old_score=old_score,
                new_score=new_score,
                old_passed=None if old_score is None else old_score >= passing,
                new_passed=None if new_score is None else new_score >= passing,
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
