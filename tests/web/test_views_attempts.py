"""Back office: attempts (list, review, essay grading in place) and regrade (the dry run shown,
nothing changed until it is confirmed), by role, each write the CLI's service and audit entry."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import Attempt, Enrollment
from lms_core.quizzes import attempts
from lms_core.quizzes import questions as qs
from tests.cli.helpers import audit_count
from tests.quizzes.quizkit import RIGHT, QuizSetup, add_attempt, all_types, make_quiz
from tests.web.assess_kit import follow, learner_client, state, statements, text
from tests.web.conftest import post_form


def _take(session: Session, operator: Any, setup: QuizSetup, answers: dict[int, Any]) -> Attempt:
    a = attempts.start_attempt(
        session, actor=operator, quiz_ref=setup.ref, email=setup.student.email
    ).attempt
    attempts.save_answers(session, actor=operator, attempt_id=a.id, answers=answers)
    return attempts.submit_attempt(session, actor=operator, attempt_id=a.id)


@pytest.fixture
def setup(session: Session, make: Any, operator: Any) -> QuizSetup:
    return make_quiz(session, make, operator, passing_score=55)


@pytest.fixture
def waiting(session: Session, operator: Any, setup: QuizSetup) -> Attempt:
    """A handed-in attempt whose essay (question 7, 4 points) waits for a grade."""
    attempt = _take(session, operator, setup, RIGHT)
    assert attempt.status == "submitted"
    return attempt


def test_who_sees_the_attempt(
    logged_in: Any,
    make: Any,
    session: Session,
    admin_user: Any,
    setup: QuizSetup,
    waiting: Attempt,
) -> None:
    for user in (admin_user, setup.teacher):
        client = logged_in(user)
        body = text(client.get("/admin/attempt/"))
        assert setup.student.email in body and "submitted" in body
        page = text(client.get(f"/admin/attempt/details/?id={waiting.id}"))
        assert "Because." in page and "Grade" in page
    other = logged_in(make.user("instructor"))
    assert setup.student.email not in text(other.get("/admin/attempt/"))
    assert "does not exist" in follow(other, other.get(f"/admin/attempt/details/?id={waiting.id}"))
    assert other.get(f"/admin/attempt/regrade/?quiz={setup.quiz.id}").status_code == 404
    learner = learner_client(logged_in, make, session)
    assert learner.get("/admin/attempt/").status_code == 403
    assert learner.get(f"/admin/attempt/regrade/?quiz={setup.quiz.id}").status_code == 403


def test_grading_the_essay_in_place_grades_the_attempt(
    logged_in: Any, session: Session, setup: QuizSetup, waiting: Attempt
) -> None:
    client = logged_in(setup.teacher)
    details = f"/admin/attempt/details/?id={waiting.id}"
    response = post_form(
        client,
        "/admin/attempt/grade-essay/",
        {"id": str(waiting.id), "question": "7", "points": "3,5"},
        form_page=details,
    )
    assert f"Graded question 7 of attempt {waiting.id}" in follow(client, response)
    session.expire_all()
    graded = session.get(Attempt, waiting.id)
    assert graded is not None and graded.status == "graded" and graded.score is not None
    assert audit_count(session, "attempt.grade_essay") == 1


def test_a_refused_grade_changes_nothing(
    logged_in: Any, make: Any, session: Session, setup: QuizSetup, waiting: Attempt
) -> None:
    client = logged_in(setup.teacher)
    other = logged_in(make.user("instructor"))
    details = f"/admin/attempt/details/?id={waiting.id}"
    before = state(session)
    too_many = {"id": str(waiting.id), "question": "7", "points": "9"}
    body = follow(
        client, post_form(client, "/admin/attempt/grade-essay/", too_many, form_page=details)
    )
    assert "points" in body
    assert state(session) == before
    response = post_form(
        other, "/admin/attempt/grade-essay/", {**too_many, "points": "1"}, form_page="/admin/"
    )
    assert response.status_code == 404
    assert state(session) == before


def _fix_key(session: Session, operator: Any, setup: QuizSetup) -> None:
    """Question 1's right option becomes "5" (index 2)."""
    fixed = all_types()
    fixed[0].options = [
        {"text": t, "weight": 100 if i == 2 else 0, "feedback": None}
        for i, t in enumerate(["3", "4", "5"])
    ]
    qs.import_questions(session, actor=operator, quiz_ref=setup.ref, questions=fixed, replace=True)


def test_regrade_shows_the_dry_run_then_applies_on_confirm(
    logged_in: Any, session: Session, operator: Any, setup: QuizSetup
) -> None:
    attempt = _take(session, operator, setup, {**RIGHT, 7: ""})
    assert attempt.score == Decimal("60.00")
    _fix_key(session, operator, setup)
    client = logged_in(setup.teacher)
    before = state(session)
    page = f"/admin/attempt/regrade/?quiz={setup.quiz.id}"
    body = text(client.get(page))
    assert "Dry run" in body and setup.student.email in body and "50.00" in body
    assert state(session) == before  # shown, not applied
    assert audit_count(session, "quiz.regrade") == 0
    response = post_form(client, page, {"quiz": str(setup.quiz.id)}, form_page=page)
    assert f"Regraded quiz {setup.quiz.id}: 1 attempt(s)" in follow(client, response)
    session.expire_all()
    assert session.get(Attempt, attempt.id).score == Decimal("50.00")  # type: ignore[union-attr]
    assert audit_count(session, "quiz.regrade") == 1


def test_the_regrade_action_leads_to_the_dry_run(
    logged_in: Any, session: Session, setup: QuizSetup, waiting: Attempt
) -> None:
    client = logged_in(setup.teacher)
    response = post_form(
        client,
        "/admin/attempt/action/",
        {"action": "regrade", "rowid": str(waiting.id)},
        form_page="/admin/attempt/",
    )
    assert response.headers["Location"].endswith(f"/admin/attempt/regrade/?quiz={setup.quiz.id}")


def test_list_statements_do_not_grow_with_the_rows(
    logged_in: Any, connection: Any, session: Session, make: Any, setup: QuizSetup
) -> None:
    client = logged_in(setup.teacher)
    enrollment = session.scalars(
        select(Enrollment).where(Enrollment.student_id == setup.student.id)
    ).one()
    add_attempt(session, setup.quiz, enrollment, 1, "50")
    client.get("/admin/attempt/")
    with statements(connection) as few:
        assert client.get("/admin/attempt/").status_code == 200
    for n in range(2, 12):
        add_attempt(session, setup.quiz, enrollment, n, "70")
    with statements(connection) as many:
        body = text(client.get("/admin/attempt/"))
    assert body.count(setup.student.email) >= 11
    assert len(many) == len(few), many
