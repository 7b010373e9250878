"""Every file lmsctl writes: one CSV encoding, and -o's suffix decides the format.

Every CSV *file* is UTF-8 with a byte-order mark (Excel then shows "José", not "JosÃ©"),
whichever command writes it; standard output has none. ``-o x.xlsx`` writes XLSX and
``-o x.csv`` CSV; a suffix the command cannot write, or one that contradicts ``--format``, is
a usage error (exit 2, ``error: output: ...``) before any work, and nothing is written.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.cli.helpers import ok, usage_error
from tests.quizzes.quizkit import add_attempt, add_quiz

ACCENTED = "José Núñez"


def bom_rows(path: Path) -> list[list[str]]:
    """The rows of a CSV file that must start with a UTF-8 BOM, the rest plain UTF-8."""
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8), data[:20]
    return list(csv.reader(io.StringIO(data[len(codecs.BOM_UTF8) :].decode("utf-8"))))


@pytest.fixture
def book(cli: Any, make: Any, session: Any) -> dict[str, Any]:
    """A course with an essay quiz and an assignment; José has handed in both, ungraded."""
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=1, published=True)
    quiz = add_quiz(session, make, course, "essay")
    make.lesson(course, slug="homework", lesson_type="assignment")
    ok(cli("assignments", "create", course.slug, "homework", "--title", "H", "--max-points", "10"))
    ref = f"{course.slug}/homework"
    jose = make.user(name=ACCENTED)
    ann = make.user(name="Ann")
    enrollments = {u.email: make.enroll(u, course) for u in (jose, ann)}
    add_attempt(session, quiz, enrollments[jose.email], 1, None, status="submitted")
    add_attempt(session, quiz, enrollments[ann.email], 1, "80")
    for learner in (jose, ann):
        ok(cli("submissions", "submit", ref, learner.email, "--text", "work"))
    ok(cli("submissions", "grade", ref, ann.email, "--grade", "6"))
    return {"course": course, "jose": jose, "ann": ann, "ref": ref}


def test_gradebook_csv_file_has_the_bom_and_stdout_has_none(
    cli: Any, book: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "grades.csv"
    ok(cli("gradebook", "export", book["course"].slug, "-o", str(out)))
    rows = bom_rows(out)
    assert ACCENTED in [r[1] for r in rows]
    stdout = ok(cli("gradebook", "export", book["course"].slug)).stdout
    assert not stdout.startswith("\ufeff") and ACCENTED in stdout


def test_submitted_but_ungraded_is_blank_in_csv_xlsx_and_json(
    cli: Any, book: dict[str, Any], tmp_path: Path
) -> None:
    """José's essay waits for hand grading and his homework for a grade: no 0.0 anywhere."""
    slug = book["course"].slug
    csv_out, xlsx_out, json_out = (tmp_path / f"g.{s}" for s in ("csv", "xlsx", "json"))
    for out in (csv_out, xlsx_out, json_out):
        ok(cli("gradebook", "export", slug, "-o", str(out)))

    rows = {r[0]: r for r in bom_rows(csv_out)}
    assert rows["email"][2:5] == ["Essay (%)", "H (/10)", "total"]
    assert rows[book["jose"].email][2:5] == ["", "", "0.0"]  # the total counts them 0
    assert rows[book["ann"].email][2:5] == ["80.0", "6.0", "70.0"]

    sheet = load_workbook(xlsx_out).active  # a real workbook, from the suffix alone
    values = {r[0]: r for r in sheet.iter_rows(values_only=True)}
    assert values[book["jose"].email][2:5] == (None, None, 0)
    assert values[book["ann"].email][2:5] == (80, 6, 70)

    data = {r["email"]: r for r in json.loads(json_out.read_text(encoding="utf-8"))}
    jose = data[book["jose"].email]
    assert jose["Essay (%)"] is None and jose["H (/10)"] is None and jose["total"] == 0.0
    assert data[book["ann"].email]["H (/10)"] == 6.0


@pytest.mark.parametrize(
    ("args", "contains"),
    [
        (("gradebook", "export", "{course}", "-o", "{tmp}/grades.pdf"), "cannot write a .pdf"),
        (("gradebook", "export", "{course}", "--format", "csv", "-o", "{tmp}/g.xlsx"), "match"),
        (("grading", "export", "{ref}", "-o", "{tmp}/homework.csv"), "cannot write a .csv"),
        (("export", "users", "-o", "{tmp}/users.pdf"), "cannot write a .pdf"),
        (("export", "users", "--format", "xlsx", "-o", "{tmp}/users.csv"), "match"),
        (("export", "courses", "-o", "{tmp}/c.csv", "--lessons-out", "{tmp}/l.xlsx"), ".xlsx"),
        (("import", "template", "users", "-o", "{tmp}/users.json"), "cannot write a .json"),
        (("quizzes", "export", "{course}/essay", "-o", "{tmp}/q.pdf"), "cannot write a .pdf"),
    ],
)
def test_a_suffix_the_command_cannot_write_is_a_usage_error(
    cli: Any, book: dict[str, Any], tmp_path: Path, args: tuple[str, ...], contains: str
) -> None:
    values = {"course": book["course"].slug, "ref": book["ref"], "tmp": str(tmp_path)}
    result = cli(*(a.format(**values) for a in args))
    usage_error(result, contains)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(("error: output: ", "error: lessons_out: "))
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_the_refusal_is_json_with_json(cli: Any, book: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "grades.pdf"
    result = cli("gradebook", "export", book["course"].slug, "-o", str(out), "--json")
    assert result.exit_code == 2
    [error] = json.loads(result.stdout)["errors"]
    assert error["field"] == "output" and error["value"] == str(out)
    assert not out.exists()


def test_import_output_files_are_csv_with_the_bom(cli: Any, tmp_path: Path) -> None:
    good = tmp_path / "users.csv"
    good.write_text(f"email,full_name,role\njose@x.org,{ACCENTED},student\n", encoding="utf-8")
    invites = tmp_path / "invites.csv"
    ok(cli("import", "users", str(good), "--invites-out", str(invites)))
    assert [r[:2] for r in bom_rows(invites)] == [["email", "full_name"], ["jose@x.org", ACCENTED]]

    bad = tmp_path / "bad.csv"
    bad.write_text(f"email,full_name,role\nana@x.org,{ACCENTED},pupil\n", encoding="utf-8")
    errors = tmp_path / "errors.csv"
    result = cli("import", "users", str(bad), "--errors-out", str(errors))
    assert result.exit_code == 1
    rows = bom_rows(errors)
    assert rows[0][-1] == "error" and rows[1][1] == ACCENTED

    wrong = tmp_path / "errors.xlsx"
    usage_error(cli("import", "users", str(bad), "--errors-out", str(wrong)), "errors_out")
    assert not wrong.exists()


def test_templates_and_question_tables_are_csv_with_the_bom(
    cli: Any, book: dict[str, Any], tmp_path: Path
) -> None:
    template = tmp_path / "users.csv"
    ok(cli("import", "template", "users", "-o", str(template)))
    assert "Lucía Fernández" in [r[2] for r in bom_rows(template)]

    bank = tmp_path / "bank.gift"
    bank.write_text("::Dónde:: ¿Dónde está José? {=Aquí ~Allí}\n", encoding="utf-8")
    quiz = f"{book['course'].slug}/essay"
    ok(cli("quizzes", "import", quiz, str(bank)))
    table = tmp_path / "questions.csv"
    ok(cli("quizzes", "export", quiz, "-o", str(table)))  # CSV from the suffix
    assert any("¿Dónde está José?" in cell for row in bom_rows(table) for cell in row)
    xlsx = tmp_path / "questions.xlsx"
    ok(cli("quizzes", "export", quiz, "-o", str(xlsx)))
    assert load_workbook(xlsx).active.max_row == 2


def test_invite_links_are_csv_only(cli: Any, make: Any, tmp_path: Path) -> None:
    user = make.user(name=ACCENTED)
    wrong = tmp_path / "links.xlsx"
    usage_error(cli("users", "invite", user.email, "-o", str(wrong)), "error: output: ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [
        ["export", "users"],
        ["gradebook", "export", "some-course"],
        ["grading", "export", "some-course/homework"],
        ["import", "template", "users"],
        ["quizzes", "export", "some-course/quiz"],
        ["users", "invite", "--run", "1"],
        ["certificates", "export", "some-course"],
        ["certificates", "preview", "--name", "Ada"],
        ["files", "download", "1"],
    ],
    ids=" ".join,
)
def test_o_naming_a_folder_is_a_usage_error_everywhere(cli: Any, tmp_path: Path, command):
    result = cli(*command, "-o", str(tmp_path))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "is a directory" in result.stderr.lower() or "folder" in result.stderr.lower()
