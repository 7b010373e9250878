"""The reports' quiz final scores (``lms_core.reports.grades.final_scores``, whole hundredths
over a window of each learner's attempts) agree with the quizzes' own (``lms_core.quizzes.
final_scores``, the SQL the gradebook uses) and with the per-attempt rules written in Python
(``lms_core.quizzes.regrade.final_of``), on random attempt sets for every grading method.

Three implementations of one rule drift apart silently (an attempt status, a tie, a half-up
mean); random data with ties, gaps in attempt numbers, ungraded and in-progress attempts and
scores at exact halves of a hundredth's mean makes them meet every case at once. Submitted
(pending) attempts carry a score, as ``apply_result`` leaves them, so a rule that forgets
the status is caught.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import (
    Attempt,
    AttemptStatus,
    Course,
    Enrollment,
    GradingMethod,
    Lesson,
    Quiz,
    User,
)
from lms_core.quizzes.final_scores import final_scores as quiz_final_scores
from lms_core.quizzes.regrade import final_of
from lms_core.reports.grades import final_scores as report_final_scores

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _score(rng: random.Random) -> Decimal:
    """Random hundredths, a third of them from a few that make means land on halves."""
    if rng.random() < 0.3:
        return rng.choice([Decimal("0"), Decimal("100"), Decimal("33.33"), Decimal("0.01")])
    return Decimal(rng.randint(0, 10000)).scaleb(-2)


def _site(session: Session, rng: random.Random) -> dict[int, str]:
    """A course with one quiz per grading method and 12 learners with 0 to 5 attempts each."""
    teacher = User(email="fs-t@fs.example.org", role="instructor", full_name="T")
    course = Course(title="Finals", slug="fs-course", instructor=teacher, is_published=True)
    session.add_all([teacher, course])
    quizzes: dict[int, str] = {}
    methods = [m.value for m in GradingMethod]
    for n, method in enumerate(methods, start=1):
        lesson = Lesson(
            course=course, title=f"Q{n}", slug=f"q{n}", order_index=n, lesson_type="quiz"
        )
        quiz = Quiz(
            lesson=lesson,
            title=f"Q{n}",
            passing_score=Decimal(50),
            grading_method=method,
            is_published=True,
        )
        session.add_all([lesson, quiz])
        session.flush()
        quizzes[quiz.id] = method
    for k in range(12):
        learner = User(email=f"fs{k}@fs.example.org", role="student", full_name=f"L{k}")
        enrollment = Enrollment(student=learner, course=course, enrolled_at=START)
        session.add_all([learner, enrollment])
        session.flush()
        for quiz_id in quizzes:
            # Attempt numbers with gaps (a deleted attempt) and in any insertion order.
            numbers = rng.sample(range(1, 8), rng.randint(0, 5))
            open_one = False
            for number in numbers:
                status = rng.choices(
                    [AttemptStatus.graded, AttemptStatus.submitted, AttemptStatus.in_progress],
                    weights=[6, 1, 1],
                )[0]
                if status is AttemptStatus.in_progress:
                    # At most one attempt in progress per learner and quiz (a unique index).
                    status = AttemptStatus.submitted if open_one else status
                    open_one = True
                graded = status is AttemptStatus.graded
                # A submitted attempt waiting for an essay's grade already has the score of
                # its auto-graded part (apply_result sets it before the status): it must not
                # count until graded.
                scored = graded or status is AttemptStatus.submitted
                when = START + timedelta(hours=number)
                session.add(
                    Attempt(
                        enrollment_id=enrollment.id,
                        quiz_id=quiz_id,
                        number=number,
                        status=status.value,
                        score=_score(rng) if scored else None,
                        started_at=when,
                        submitted_at=None if status is AttemptStatus.in_progress else when,
                        graded_at=when if graded else None,
                        answers={},
                        question_scores={},
                        shuffle_seed=1,
                    )
                )
        session.flush()
    return quizzes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_report_quiz_and_python_final_scores_agree(session: Session, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    quizzes = _site(session, rng)

    graded: dict[tuple[int, int], list[tuple[int, Decimal]]] = defaultdict(list)
    for a in session.scalars(select(Attempt).where(Attempt.quiz_id.in_(list(quizzes)))):
        if a.status == AttemptStatus.graded.value and a.score is not None:
            graded[(a.quiz_id, a.enrollment_id)].append((a.number, Decimal(a.score)))
    by_python = {key: final_of(quizzes[key[0]], scored) for key, scored in graded.items()}

    by_quizzes = quiz_final_scores(session, list(quizzes))

    enrollments = select(Enrollment.id).join(Course).where(Course.slug == "fs-course")
    rows = session.execute(select(report_final_scores(enrollments))).all()
    by_report = {(q, e): Decimal(c).scaleb(-2) for q, e, c, _ in rows}
    counts = {(q, e): n for q, e, _, n in rows}

    assert set(quizzes.values()) == {m.value for m in GradingMethod}
    assert by_python, "the random site has graded attempts"
    assert by_report == by_python
    assert by_quizzes == by_python
    assert counts == {key: len(scored) for key, scored in graded.items()}
