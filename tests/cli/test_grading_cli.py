"""lmsctl grading: export a worksheet, grade it in a spreadsheet, import it (or be refused)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from lms_core.models import Submission
from tests.cli.helpers import no_traceback, ok, ok_json, refused, usage_error


@pytest.fixture
def ref(cli: Any, make: Any) -> dict[str, Any]:
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=1, published=True)
    make.lesson(course, slug="homework", lesson_type="assignment")
    ok(cli("assignments", "create", course.slug, "homework", "--title", "H", "--max-points", "10"))
    ref = f"{course.slug}/homework"
    learners = [make.user(name=n) for n in ("Ann", "Bob", "Cat")]
    for learner in learners:
        make.enroll(learner, course)
    for learner in learners[:2]:
        ok(cli("submissions", "submit", ref, learner.email, "--text", "work"))
    return {"ref": ref, "teacher": teacher, "learners": learners}


def _set(path: Path, grades: dict[int, Any]) -> None:
    book = load_workbook(path)
    sheet = book["grades"]
    for line, value in grades.items():
        sheet.cell(row=line, column=6, value=value)
    book.save(path)


def test_round_trip(cli: Any, ref: dict[str, Any], session: Any, tmp_path: Path) -> None:
    path = tmp_path / "homework.xlsx"
    data = ok_json(
        cli("grading", "export", ref["ref"], "--format", "xlsx", "-o", str(path), "--json")
    )
    assert data["rows"] == 3 and path.is_file()
    _set(path, {2: 8, 3: "9,5"})  # Ann, Bob
    dry = ok(cli("grading", "import", str(path), "--dry-run"))
    assert "would change 2, unchanged 1" in dry.stdout and "- -> 8" in dry.stdout
    assert session.query(Submission).filter(Submission.grade.is_not(None)).count() == 0
    plan = ok_json(cli("grading", "import", str(path), "--json", as_=ref["teacher"].email))
    assert plan["applied"] and plan["changed"] == 2
    session.expire_all()
    grades = sorted(float(s.grade) for s in session.query(Submission).all())
    assert grades == [8.0, 9.5]


def test_refusals_are_listed_with_line_and_column(
    cli: Any, ref: dict[str, Any], unchanged: Any, tmp_path: Path
) -> None:
    path = tmp_path / "homework.xlsx"
    ok(cli("grading", "export", ref["ref"], "-o", str(path)))
    _set(path, {2: 11, 3: "ten", 4: 5})  # over max, text, Cat has not submitted
    book = load_workbook(path)
    book["grades"].cell(row=3, column=2, value="mallory@evil.example")
    book.save(path)
    with unchanged():
        result = cli("grading", "import", str(path), "--json")
    assert result.exit_code == 1
    no_traceback(result)
    errors = json.loads(result.stdout)["errors"]
    assert [(e["line"], e["column"]) for e in errors] == [(2, "grade"), (3, "email"), (4, "grade")]
    assert all(set(e) == {"file", "line", "column", "value", "message"} for e in errors)
    assert errors[0]["file"] == str(path)
    with unchanged():
        text = cli("grading", "import", str(path))
    assert text.exit_code == 1 and text.stdout == ""
    lines = text.stderr.strip().splitlines()
    assert lines[0] == f"error: {path}, line 2, column grade: must be from 0 to 10"
    assert len(lines) == 3


def test_export_needs_output_and_permission(
    cli: Any, ref: dict[str, Any], make: Any, tmp_path: Path
) -> None:
    usage_error(cli("grading", "export", ref["ref"]))
    out = tmp_path / "x.xlsx"
    refused(
        cli("grading", "export", ref["ref"], "-o", str(out), as_=ref["learners"][0].email), "as"
    )
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    usage_error(
        cli("grading", "export", ref["ref"], "--format", "csv", "-o", str(out)), "error: format: "
    )


def test_a_huge_grade_cell_is_refused_with_its_place(
    cli: Any, ref: dict[str, Any], unchanged: Any, tmp_path: Path
) -> None:
    path = tmp_path / "homework.xlsx"
    ok(cli("grading", "export", ref["ref"], "-o", str(path)))
    _set(path, {2: 1e308, 3: "1e30"})  # a number cell and a text cell, both far out of range
    with unchanged():
        text = cli("grading", "import", str(path))
    assert text.exit_code == 1 and text.stdout == ""
    no_traceback(text)
    assert text.stderr.strip().splitlines() == [
        f"error: {path}, line 2, column grade: must be from 0 to 10",
        f"error: {path}, line 3, column grade: must be from 0 to 10",
    ]
