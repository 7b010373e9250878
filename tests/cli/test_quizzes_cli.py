"""lmsctl quizzes: an instructor's day from the shell, from a GIFT bank to a regrade; import
warnings, what a replace changes, reading an essay before grading it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lms_core.ops.demo_quiz import ANSWERS, GIFT
from tests.cli.helpers import audit_count, ok, ok_json, refused, refused_json, usage_error

BROKEN_GIFT = """\
::ok:: Fine question {=yes ~no}

::bad:: Unclosed answers {=a ~b

::worse:: No right answer { nothing here }
"""


@pytest.fixture
def course(make):
    teacher = make.user("instructor", email="teacher@test.example")
    course = make.course(slug="py", instructor=teacher, lessons=1, published=True)
    make.lesson(course, slug="check", lesson_type="quiz")
    student = make.user("student", email="learner@test.example")
    make.enroll(student, course)
    return course


#: A bank with an item the import skips (a description), a partial-credit option and an essay.
SKIPPING_GIFT = """\
::one:: 2 + 2? {=4 ~%50%3.5 ~3}

A description item: not a question.

::two:: Explain addition. {}
"""


@pytest.fixture
def skipping_bank(cli, course, make, tmp_path: Path) -> Path:
    """The quiz created, a second learner enrolled, and :data:`SKIPPING_GIFT` in a file."""
    make.enroll(make.user("student", email="other@test.example"), course)
    ok(cli("quizzes", "create", "py", "check", "--title", "Check"))
    path = tmp_path / "skipping.gift"
    path.write_text(SKIPPING_GIFT, encoding="utf-8")
    return path


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    path = tmp_path / "bank.gift"
    path.write_text(GIFT, encoding="utf-8")
    return path


def create(cli, *extra: str) -> dict:
    return ok_json(cli("quizzes", "create", "py", "check", "--title", "Check", *extra, "--json"))


def questions_of(cli, quiz: str) -> list[dict]:
    rows = ok_json(cli("quizzes", "questions", quiz, "--json"))
    return [{k: v for k, v in r.items() if k not in ("id", "number")} for r in rows]


def test_create_refuses_a_missing_lesson_with_the_command_that_adds_it(cli, course):
    line = refused(cli("quizzes", "create", "py", "nope", "--title", "T"), "lesson_slug")
    assert "lmsctl lessons add py/nope" in line and "--type quiz" in line
    error = refused_json(
        cli("quizzes", "create", "py", "lesson-1", "--title", "T", "--json"), "lesson_slug"
    )
    assert "not a quiz lesson" in error["message"]


def test_create_list_show_update(cli, course):
    row = create(cli, "--time-limit", "20", "--max-attempts", "2", "--grading-method", "latest")
    assert (row["course"], row["lesson"], row["published"]) == ("py", "py/check", False)
    assert row["time_limit_minutes"] == 20 and row["grading_method"] == "latest"
    listed = ok_json(cli("quizzes", "list", "--course", "py", "--json"))
    assert [(r["id"], r["title"], r["course"], r["lesson"], r["published"]) for r in listed] == [
        (row["id"], "Check", "py", "py/check", False)
    ]
    shown = ok_json(cli("quizzes", "show", str(row["id"]), "--json"))
    assert shown["attempts"] == 0 and shown["questions"] == 0
    updated = ok_json(
        cli("quizzes", "update", "py/check", "--time-limit", "0", "--passing-score", "55", "--json")
    )
    assert updated["time_limit_minutes"] is None and updated["passing_score"] == 55
    refused(cli("quizzes", "publish", "py/check"), "quiz", contains="no questions")
    assert "py" in ok(cli("quizzes", "list")).stdout


def test_import_a_gift_file_then_one_question_from_stdin(cli, course, bank, session):
    create(cli)
    data = ok_json(cli("quizzes", "import", "py/check", str(bank), "--json"))
    assert (data["added"], data["total"], data["dry_run"]) == (7, 7, False)
    types = [q["question_type"] for q in questions_of(cli, "py/check")]
    assert len(set(types)) == 7
    one = "::extra:: Is 1 + 1 equal to 2? {T}\n"
    data = ok_json(cli("quizzes", "import", "py/check", "-", "--json", input=one))
    assert (data["added"], data["total"]) == (1, 8)
    assert questions_of(cli, "py/check")[-1]["question_type"] == "true_false"
    out = ok(cli("quizzes", "import", "py/check", str(bank), "--dry-run")).stdout
    assert "would import 7 question(s)" in out
    assert len(questions_of(cli, "py/check")) == 8
    assert audit_count(session, "quiz.import_questions") == 2


def test_a_malformed_bank_is_refused_whole_with_lines_and_columns(cli, course, tmp_path, unchanged):
    create(cli)
    path = tmp_path / "broken.gift"
    path.write_text(BROKEN_GIFT, encoding="utf-8")
    with unchanged():
        result = cli("quizzes", "import", "py/check", str(path), "--json")
        assert result.exit_code == 1, result.output
        errors = json.loads(result.stdout)["errors"]
        assert len(errors) >= 2
        for error in errors:
            assert set(error) == {"file", "line", "column", "value", "message"}
            assert error["file"] == str(path)
        assert {e["line"] for e in errors} >= {3, 5}
        human = cli("quizzes", "import", "py/check", str(path))
        assert human.exit_code == 1 and f"error: {path}, line 3" in human.stderr
        stdin = cli("quizzes", "import", "py/check", "-", "--json", input="{=a ~b")
        assert stdin.exit_code == 1 and json.loads(stdin.stdout)["errors"][0]["file"] == "-"


@pytest.mark.parametrize("fmt", ["gift", "csv", "xlsx"])
def test_export_then_import_gives_the_same_questions(cli, course, make, bank, tmp_path, fmt):
    create(cli)
    ok(cli("quizzes", "import", "py/check", str(bank)))
    out = tmp_path / f"out.{fmt}"
    data = ok_json(cli("quizzes", "export", "py/check", "--format", fmt, "-o", str(out), "--json"))
    assert data["questions"] == 7 and out.exists()
    assert not list(tmp_path.glob("*.part"))
    make.lesson(course, slug="copy", lesson_type="quiz")
    ok(cli("quizzes", "create", "py", "copy", "--title", "Copy"))
    ok(cli("quizzes", "import", "py/copy", str(out)))
    assert questions_of(cli, "py/copy") == questions_of(cli, "py/check")


def test_export_gift_to_stdout_and_aiken_refusal(cli, course, bank):
    create(cli)
    ok(cli("quizzes", "import", "py/check", str(bank)))
    text = ok(cli("quizzes", "export", "py/check")).stdout
    assert "::types::" in text and "$CATEGORY" in text
    result = cli("quizzes", "export", "py/check", "--format", "aiken")
    assert result.exit_code == 1 and "Traceback" not in result.output
    usage_error(cli("quizzes", "export", "py/check", "--format", "xlsx"), "error: output: ")


def test_an_attempt_from_the_shell_essay_graded_by_the_instructor(cli, course, bank, tmp_path):
    create(cli, "--shuffle-options")
    ok(cli("quizzes", "import", "py/check", str(bank)))
    ok(cli("quizzes", "publish", "py/check"))
    started = ok_json(cli("quizzes", "start", "py/check", "learner@test.example", "--json"))
    attempt = str(started["attempt"]["id"])
    assert not started["resumed"] and len(started["questions"]) == 7
    mc = next(q for q in started["questions"] if q["question_type"] == "multiple_choice")
    assert sorted(c["index"] for c in mc["choices"]) == [0, 1, 2]
    assert "weight" not in json.dumps(started)
    again = ok_json(cli("quizzes", "start", "py/check", "learner@test.example", "--json"))
    assert again["resumed"] and again["questions"] == started["questions"]
    ok(cli("quizzes", "answer", attempt, "1", "0"))
    ok(cli("quizzes", "answer", attempt, "3", "true", as_="learner@test.example"))
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({str(k): v for k, v in ANSWERS.items() if k not in (1, 3)}))
    saved = ok_json(cli("quizzes", "answer", attempt, "--answers", str(answers), "--json"))
    assert saved["saved"] == [2, 4, 5, 6, 7]
    refused(cli("quizzes", "answer", attempt, "1", "9"), "question 1")
    submitted = ok_json(cli("quizzes", "submit", attempt, "--json"))
    assert submitted["status"] == "submitted" and submitted["score"] is None
    refused(
        cli(
            "quizzes",
            "grade-essay",
            attempt,
            "--question",
            "7",
            "--points",
            "1",
            as_="learner@test.example",
        ),
        "as",
    )
    graded = ok_json(
        cli(
            "quizzes",
            "grade-essay",
            attempt,
            "--question",
            "7",
            "--points",
            "1",
            "--json",
            as_="teacher@test.example",
        )
    )
    assert (graded["status"], graded["score"], graded["passed"]) == ("graded", 100, True)
    rows = ok_json(cli("quizzes", "attempts", "py/check", "--json"))
    assert [(r["email"], r["number"], r["status"], r["passed"]) for r in rows] == [
        ("learner@test.example", 1, "graded", True)
    ]
    table = ok(cli("quizzes", "attempts", "py/check")).stdout
    assert "learner@test.example" in table and "graded" in table


def test_regrade_dry_run_then_apply(cli, course, bank, tmp_path, session, unchanged):
    create(cli)
    ok(cli("quizzes", "import", "py/check", str(bank)))
    ok(cli("quizzes", "publish", "py/check"))
    attempt = str(
        ok_json(cli("quizzes", "start", "py/check", "learner@test.example", "--json"))["attempt"][
            "id"
        ]
    )
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({k: v for k, v in ANSWERS.items() if k != 7}))
    ok(cli("quizzes", "answer", attempt, "--answers", str(answers)))
    first = ok_json(cli("quizzes", "submit", attempt, "--json"))
    assert first["score"] == pytest.approx(85.71)  # 6 of 7 points: the blank essay scores 0
    fixed = tmp_path / "fixed.gift"
    fixed.write_text(GIFT.replace("=42 #", "~42 #").replace("~4.2 #", "=4.2 #"))
    ok(cli("quizzes", "import", "py/check", str(fixed), "--replace"))
    with unchanged():
        plan = ok_json(cli("quizzes", "regrade", "py/check", "--dry-run", "--json"))
    assert plan["dry_run"] and plan["attempts"] == 1 and plan["changed_attempts"] == 1
    (learner,) = plan["learners"]
    assert (learner["old_score"], learner["new_score"]) == (
        pytest.approx(85.71),
        pytest.approx(71.43),
    )
    applied = ok_json(cli("quizzes", "regrade", "py/check", "--json"))
    assert not applied["dry_run"] and applied["changed_attempts"] == 1
    assert audit_count(session, "quiz.regrade") == 1
    rows = ok_json(cli("quizzes", "attempts", "py/check", "--json"))
    assert rows[0]["score"] == pytest.approx(71.43)
    out = ok(cli("quizzes", "regrade", "py/check")).stdout
    assert "regraded 1 attempt(s)" in out


def test_close_overdue_and_remove_question(cli, course, bank):
    create(cli, "--time-limit", "5")
    ok(cli("quizzes", "import", "py/check", str(bank)))
    ok(cli("quizzes", "publish", "py/check"))
    assert ok_json(cli("quizzes", "close-overdue", "--json")) == []
    assert "closed 0 overdue attempt(s)" in ok(cli("quizzes", "close-overdue")).stdout
    data = ok_json(cli("quizzes", "remove-question", "py/check", "7", "--json"))
    assert data["removed"] is True
    assert len(questions_of(cli, "py/check")) == 6
    refused(cli("quizzes", "remove-question", "py/check", "7"), "number")


def test_learners_cannot_manage_quizzes(cli, course, bank):
    create(cli)
    refused(
        cli("quizzes", "import", "py/check", str(bank), as_="learner@test.example"),
        "as",
    )
    refused(cli("quizzes", "questions", "py/check", as_="learner@test.example"), "as")
    refused(cli("quizzes", "show", "py/9999"), "quiz")


def test_a_late_answer_is_not_counted_and_closes_the_attempt(cli, course, bank, session, operator):
    from datetime import timedelta

    from lms_core.models import Attempt, utcnow
    from lms_core.quizzes.attempts import start_attempt

    create(cli, "--time-limit", "5")
    ok(cli("quizzes", "import", "py/check", str(bank)))
    ok(cli("quizzes", "publish", "py/check"))
    attempt = start_attempt(
        session,
        actor=operator,
        quiz_ref="py/check",
        email="learner@test.example",
        now=utcnow() - timedelta(hours=1),
    ).attempt
    result = cli("quizzes", "answer", str(attempt.id), "1", "0", "--json")
    assert result.exit_code == 1, result.output
    (error,) = json.loads(result.stdout)["errors"]
    assert error["field"] == "deadline" and "not counted" in error["message"]
    session.expire_all()
    closed = session.get(Attempt, attempt.id)
    assert closed.status == "graded" and closed.answers == {}
    assert closed.submitted_at == closed.deadline_at
    data = ok_json(cli("quizzes", "close-overdue", "--json"))
    assert attempt.id not in [r["id"] for r in data]


def test_a_refusal_carries_its_hint_as_data_and_lmsctl_words_it_as_a_command(cli, course):
    line = refused(cli("quizzes", "create", "py", "lesson-1", "--title", "T"), "lesson_slug")
    assert line.endswith("(run: lmsctl lessons update py/lesson-1 --type quiz)")
    error = refused_json(
        cli("quizzes", "create", "py", "lesson-1", "--title", "T", "--json"), "lesson_slug"
    )
    assert "lmsctl" not in error["message"]
    assert error["hint"] == {
        "code": "make_quiz_lesson",
        "params": {"course": "py", "lesson": "lesson-1"},
    }


def test_import_warns_about_what_it_skipped(cli, skipping_bank):
    done = ok(cli("quizzes", "import", "py/check", str(skipping_bank), "--dry-run"))
    assert f"warning: {skipping_bank}, line 3, column 1: no answer block" in done.stderr
    data = ok_json(cli("quizzes", "import", "py/check", str(skipping_bank), "--json"))
    (warning,) = data["warnings"]
    assert (warning["line"], warning["column"]) == (3, 1)
    assert data["added"] == 2 and data["changed"] == []


def test_replace_shows_which_questions_change(cli, skipping_bank):
    ok(cli("quizzes", "import", "py/check", str(skipping_bank)))
    fixed = skipping_bank.with_name("fixed.gift")
    fixed.write_text(SKIPPING_GIFT.replace("~%50%3.5", "~3.5") + "\n::three:: 1 + 1? {=2 ~3}\n")
    done = ok(cli("quizzes", "import", "py/check", str(fixed), "--replace", "--dry-run"))
    rows = {  # not a terminal: the table comes as tab-separated rows
        line.split("\t")[0]: line.split("\t")[1]
        for line in done.stdout.splitlines()
        if line[:1].isdigit() and "\t" in line
    }
    assert rows == {"1": "changed", "2": "same", "3": "new"}
    assert "1 added, 2 replaced (1 changed: regrade after), 0 removed" in done.stdout
    data = ok_json(cli("quizzes", "import", "py/check", str(fixed), "--replace", "--json"))
    assert (data["updated"], data["changed"], data["added"]) == (2, [1], 1)
    again = ok(cli("quizzes", "import", "py/check", str(fixed), "--replace"))
    assert "0 added, 3 replaced (none changed), 0 removed" in again.stdout


def test_an_instructor_reads_the_essay_before_grading_it(cli, skipping_bank):
    ok(cli("quizzes", "import", "py/check", str(skipping_bank)))
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


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        # Accepted before, and the next `quizzes start` crashed computing the deadline.
        ("--time-limit", "99999999999", "time_limit_minutes"),
        # More than a PostgreSQL integer holds.
        ("--max-attempts", "3000000000", "max_attempts"),
    ],
)
def test_limits_have_a_maximum(cli, course, unchanged, option, value, field):
    with unchanged():
        refused(
            cli("quizzes", "create", "py", "check", "--title", "Check", option, value),
            field,
            contains="0 for none",
        )
    create(cli)
    with unchanged():
        refused(cli("quizzes", "update", "py/check", option, value), field, contains="from 0 to")
    ok_json(cli("quizzes", "update", "py/check", option, "5", "--json"))


def test_an_answers_file_is_read_strictly_but_may_start_with_a_bom(
    cli, course, bank, tmp_path, unchanged
):
    create(cli)
    ok(cli("quizzes", "import", "py/check", str(bank)))
    ok(cli("quizzes", "publish", "py/check"))
    started = ok_json(cli("quizzes", "start", "py/check", "learner@test.example", "--json"))
    attempt = str(started["attempt"]["id"])
    path = tmp_path / "answers.json"
    # "²".isdigit() is True, and int("²") raised: a traceback.
    path.write_text('{"²": 0}', encoding="utf-8")
    with unchanged():
        refused(
            cli("quizzes", "answer", attempt, "--answers", str(path)), None, contains="QUESTION_N"
        )
    # JSON keeps the last of two keys: the learner may have meant the first.
    path.write_text('{"1": 0, "1": 1}', encoding="utf-8")
    with unchanged():
        line = refused(cli("quizzes", "answer", attempt, "--answers", str(path)), None)
    assert line == f'error: {path}: key "1" is given twice (which one is meant?)'
    # Notepad's UTF-8 starts with a byte order mark.
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"1": 0}).encode())
    saved = ok_json(cli("quizzes", "answer", attempt, "--answers", str(path), "--json"))
    assert saved["saved"] == [1]


def test_essay_points_read_like_an_assignment_grade(cli, skipping_bank, unchanged):
    ok(cli("quizzes", "import", "py/check", str(skipping_bank)))
    ok(cli("quizzes", "publish", "py/check"))
    started = ok_json(cli("quizzes", "start", "py/check", "learner@test.example", "--json"))
    attempt = str(started["attempt"]["id"])
    ok(cli("quizzes", "answer", attempt, "2", "Counting on."))
    ok(cli("quizzes", "submit", attempt))

    def grade(points: str):
        return cli("quizzes", "grade-essay", attempt, "--question", "2", "--points", points)

    with unchanged():
        refused(grade("1e30"), "points", contains="from 0 to 1")
        refused(grade("0.555"), "points", contains="two decimals")
        refused(grade("1,000"), "points", contains="thousands")
    graded = ok_json(
        cli("quizzes", "grade-essay", attempt, "--question", "2", "--points", "0,5", "--json")
    )
    assert graded["points_earned"] == 0.5
