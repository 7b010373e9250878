"""lmsctl quizzes start: the learner comes from --as, the table shows each question's options,
and a time limit stored out of range by old code is refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from lms_core.ops.demo_quiz import GIFT
from tests.cli.helpers import ok, ok_json, refused, refused_json

LEARNER = "learner@test.example"


@pytest.fixture
def quiz(cli, make, tmp_path: Path) -> str:
    teacher = make.user("instructor", email="teacher@test.example")
    course = make.course(slug="py", instructor=teacher, lessons=1, published=True)
    make.lesson(course, slug="check", lesson_type="quiz")
    make.enroll(make.user("student", email=LEARNER), course)
    ok(cli("quizzes", "create", "py", "check", "--title", "Check"))
    bank = tmp_path / "bank.gift"
    bank.write_text(GIFT, encoding="utf-8")
    ok(cli("quizzes", "import", "py/check", str(bank)))
    ok(cli("quizzes", "publish", "py/check"))
    return "py/check"


def test_a_learner_starts_their_own_attempt_with_as_alone(cli, quiz):
    started = ok_json(cli("quizzes", "start", quiz, "--json", as_=LEARNER))
    assert started["attempt"]["email"] == LEARNER and not started["resumed"]
    again = ok_json(cli("quizzes", "start", quiz, LEARNER, "--json", as_=LEARNER))
    assert again["resumed"] and again["attempt"]["id"] == started["attempt"]["id"]


def test_the_operator_must_name_the_learner(cli, quiz, unchanged):
    with unchanged():
        line = refused(cli("quizzes", "start", quiz), "email")
    assert "name the learner" in line
    with unchanged():
        error = refused_json(cli("quizzes", "start", quiz, "--json"), "email")
    assert "act as the learner" in error["message"]
    started = ok_json(cli("quizzes", "start", quiz, LEARNER, "--json"))
    assert started["attempt"]["email"] == LEARNER


def test_staff_acting_as_themselves_are_not_the_learner(cli, quiz, unchanged):
    with unchanged():
        line = refused(cli("quizzes", "start", quiz, as_="teacher@test.example"), "email")
    assert "teacher@test.example is not enrolled" in line


def test_the_table_lists_each_questions_options_with_the_index_an_answer_names(cli, quiz):
    shown = ok_json(cli("quizzes", "start", quiz, LEARNER, "--json"))["questions"]
    table = ok(cli("quizzes", "start", quiz, LEARNER)).stdout
    assert "options" in table.splitlines()[1] or "options" in table
    for question in shown:
        for choice in question.get("choices", []):
            if isinstance(choice, dict):
                assert f"{choice['index']}: {choice['text']}" in table, (choice, table)
            else:
                assert choice in table
        for left in question.get("left", []):
            assert f"{left['index']}: {left['text']}" in table
        if question["question_type"] == "true_false":
            assert "true | false" in table


@pytest.mark.parametrize("huge", [False, True])
def test_a_time_limit_stored_out_of_range_is_refused_not_a_crash(
    cli, quiz, session, unchanged, is_postgres, huge
):
    # Old code stored any number: on SQLite, one no date can hold (a crash in `start`); on
    # PostgreSQL the column's largest. Just above the largest allowed is refused alike.
    minutes = (2**31 - 1 if is_postgres else 10**10) if huge else 366 * 24 * 60 + 1
    session.execute(text("UPDATE quizzes SET time_limit_minutes = :m"), {"m": minutes})
    session.flush()
    with unchanged():
        line = refused(cli("quizzes", "start", quiz, LEARNER), "time_limit_minutes")
    assert f"time limit of {minutes} minutes" in line and "set a new time limit" in line
    with unchanged():
        error = refused_json(
            cli("quizzes", "start", quiz, "--json", as_=LEARNER), "time_limit_minutes"
        )
    assert error["field"] == "time_limit_minutes" and error["value"] == minutes
