"""lmsctl quizzes: what the assessments walkthrough needed from the shell (see
tests/quizzes/test_assessment_walkthrough_fixes.py for the services)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers import ok, ok_json, refused

BANK = """\
::one:: 2 + 2? {=4 ~%50%3.5 ~3}

A description item: not a question.

::two:: Explain addition. {}
"""


@pytest.fixture
def quiz(cli, make, tmp_path: Path) -> Path:
    teacher = make.user("instructor", email="teacher@test.example")
    course = make.course(slug="py", instructor=teacher, lessons=1, published=True)
    make.lesson(course, slug="check", lesson_type="quiz")
    for who in ("learner", "other"):
        make.enroll(make.user("student", email=f"{who}@test.example"), course)
    ok(cli("quizzes", "create", "py", "check", "--title", "Check"))
    bank = tmp_path / "bank.gift"
    bank.write_text(BANK, encoding="utf-8")
    return bank


def test_import_warns_about_what_it_skipped(cli, quiz):
    done = ok(cli("quizzes", "import", "py/check", str(quiz), "--dry-run"))
    assert f"warning: {quiz}, line 3, column 1: no answer block" in done.stderr
    data = ok_json(cli("quizzes", "import", "py/check", str(quiz), "--json"))
    (warning,) = data["warnings"]
    assert (warning["line"], warning["column"]) == (3, 1)
    assert data["added"] == 2 and data["changed"] == []


def test_replace_shows_which_questions_change(cli, quiz):
    ok(cli("quizzes", "import", "py/check", str(quiz)))
    fixed = quiz.with_name("fixed.gift")
    fixed.write_text(BANK.replace("~%50%3.5", "~3.5") + "\n::three:: 1 + 1? {=2 ~3}\n")
    done = ok(cli("quizzes", "import", "py/check", str(fixed), "--replace", "--dry-run"))
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in done.stdout.splitlines()
        if line.startswith("│")
    }
    assert rows == {"1": "changed", "2": "same", "3": "new"}
    assert "1 added, 2 replaced (1 changed: regrade after), 0 removed" in done.stdout
    data = ok_json(cli("quizzes", "import", "py/check", str(fixed), "--replace", "--json"))
    assert (data["updated"], data["changed"], data["added"]) == (2, [1], 1)
    again = ok(cli("quizzes", "import", "py/check", str(fixed), "--replace"))
    assert "0 added, 3 replaced (none changed), 0 removed" in again.stdout


def test_an_instructor_reads_the_essay_before_grading_it(cli, quiz):
    ok(cli("quizzes", "import", "py/check", str(quiz)))
    ok(cli("quizzes", "publish", "py/check"))
    started = ok_json(cli("quizzes", "start", "py/check", "learner@test.example", "--json"))
    attempt = str(started["attempt"]["id"])
    ok(cli("quizzes", "answer", attempt, "1", "1"))
    ok(cli("quizzes", "answer", attempt, "2", "Counting on."))
    ok(cli("quizzes", "submit", attempt))

    waiting = ok_json(cli("quizzes", "attempts", "py/check", "--status", "submitted", "--json"))
    assert [a["id"] for a in waiting] == [int(attempt)]
    assert ok_json(cli("quizzes", "attempts", "py/check", "--status", "graded", "--json")) == []
    refused(cli("quizzes", "attempts", "py/check", "--status", "done"), "status")
    table = ok(cli("quizzes", "attempt", attempt, as_="teacher@test.example")).stdout
    assert "attempt " + attempt + " by learner@test.example (number 1): submitted" in table
    assert "3.5" in table and "0.5" in table  # the chosen option's text, its partial credit
    assert "Counting on." in table and "waiting" in table
    data = ok_json(cli("quizzes", "attempt", attempt, "--json"))
    assert [q["waiting"] for q in data["questions"]] == [False, True]
    assert json.dumps(data).count("weight") == 0
    refused(cli("quizzes", "attempt", attempt, as_="other@test.example"), "as")
    refused(cli("quizzes", "attempt", "999"), "attempt")

    ok(
        cli(
            "quizzes",
            "grade-essay",
            attempt,
            "--question",
            "2",
            "--points",
            "1",
            as_="teacher@test.example",
        )
    )
    mine = ok_json(cli("quizzes", "attempt", attempt, "--json", as_="learner@test.example"))
    assert mine["attempt"]["status"] == "graded" and mine["attempt"]["score"] == 75.0
    assert [q["points_earned"] for q in mine["questions"]] == [0.5, 1.0]
