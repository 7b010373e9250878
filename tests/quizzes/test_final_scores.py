"""Final score per learner and quiz, computed in SQL by grading method (graded attempts only)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lms_core.models import Quiz
from lms_core.quizzes.final_scores import final_scores, final_scores_select
from tests.quizzes.quizkit import add_attempt, add_quiz


def _quiz(session, make, method: str) -> tuple[Quiz, list]:
    course = make.course(lessons=1, published=True)
    quiz = add_quiz(session, make, course, "quiz", grading_method=method)
    return quiz, [make.enroll(course=course) for _ in range(2)]


@pytest.mark.parametrize(
    ("method", "expected"),
    [("highest", "90.00"), ("latest", "60.00"), ("first", "70.01"), ("average", "73.34")],
)
def test_grading_methods(session, make, method, expected):
    quiz, (e1, e2) = _quiz(session, make, method)
    # 70.01 + 90.00 + 60.00 = 220.01 / 3 = 73.3366.. -> 73.34
    for number, score in [(1, "70.01"), (2, "90.00"), (3, "60.00")]:
        add_attempt(session, quiz, e1, number, score)
    add_attempt(session, quiz, e1, 4, None, status="in_progress")
    add_attempt(session, quiz, e2, 1, None, status="submitted")
    scores = final_scores(session, [quiz.id])
    assert scores == {(quiz.id, e1.id): Decimal(expected)}
    rows = session.execute(final_scores_select([quiz.id])).all()
    assert [(r.quiz_id, r.enrollment_id, Decimal(r.final_score)) for r in rows] == [
        (quiz.id, e1.id, Decimal(expected))
    ]


def test_average_rounds_half_up_on_every_database(session, make):
    quiz, (e1, e2) = _quiz(session, make, "average")
    add_attempt(session, quiz, e1, 1, "70.00")
    add_attempt(session, quiz, e1, 2, "70.01")  # 70.005 -> 70.01
    add_attempt(session, quiz, e2, 2, "50.00")  # numbers need not start at 1
    assert final_scores(session, [quiz.id]) == {
        (quiz.id, e1.id): Decimal("70.01"),
        (quiz.id, e2.id): Decimal("50.00"),
    }
    assert final_scores(session, [quiz.id], enrollment_ids=[e2.id]) == {
        (quiz.id, e2.id): Decimal("50.00")
    }
    assert final_scores(session, []) == {}


def test_latest_ignores_a_later_ungraded_attempt(session, make):
    quiz, (e1, _) = _quiz(session, make, "latest")
    add_attempt(session, quiz, e1, 1, "40.00")
    add_attempt(session, quiz, e1, 2, None, status="submitted")
    assert final_scores(session, [quiz.id]) == {(quiz.id, e1.id): Decimal("40.00")}
