"""lmsctl reports: formats, files, sections, exit codes, rights (the figures: the other tests)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from tests.reports.world import World, build

UNTIL = ["--until", "2026-02-01"]


@pytest.fixture
def world(session: Session) -> World:
    w = build(session)
    w.s[2].full_name = '=HYPERLINK("http://x")'  # s3 is at risk: its name goes to a cell
    session.flush()
    return w


def test_json_on_standard_output(cli: Any, world: World) -> None:
    result = cli("reports", "course", "rep-course", *UNTIL, "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["report"] == "course" and data["subject"] == "rep-course"
    assert data["until"] == "2026-02-01T00:00:00+00:00"
    assert data["sections"]["summary"][0]["completion_rate"] == 66.67
    assert data["sections"]["at_risk"][0]["last_activity"] == "2026-01-12T12:00:00+00:00"


def test_csv_file_of_one_section_is_a_formula_safe_table(
    cli: Any, world: World, tmp_path: Path
) -> None:
    out = tmp_path / "risk.csv"
    result = cli("reports", "course", "rep-course", *UNTIL, "--section", "at_risk", "-o", str(out))

    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][:2] == ["email", "full_name"]
    assert rows[1][1] == '\'=HYPERLINK("http://x")'
    assert len(rows) == 2


def test_csv_of_one_section_is_a_plain_table(cli: Any, world: World) -> None:
    result = cli("reports", "instructor", "t1@rep.example.org", "--format", "csv")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("course,title,published,learners")
    assert lines[1] == "rep-course,Reports,true,3,1,2,1,66.67,60.0,3.33,3,1,1"


def test_csv_of_a_whole_report_names_each_section(cli: Any, world: World) -> None:
    result = cli("reports", "student", "s3@rep.example.org", "--format", "csv")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "courses" and lines[1].startswith("course,title,status")
    assert lines[3:5] == ["", "quizzes"]


def test_xlsx_has_a_sheet_per_section(cli: Any, world: World, tmp_path: Path) -> None:
    out = tmp_path / "student.xlsx"
    result = cli("reports", "student", "s2@rep.example.org", "-o", str(out), "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"format": "xlsx", "rows": 3, "output": str(out)}
    book = load_workbook(out, read_only=True)
    assert book.sheetnames == ["courses", "quizzes", "assignments"]
    rows = list(book["courses"].iter_rows(values_only=True))
    assert rows[0][0] == "course" and rows[1][0] == "rep-course" and rows[1][7] == 77.5


def test_table_into_a_pipe(cli: Any, world: World) -> None:
    result = cli("reports", "course", "rep-course", "--section", "ratings")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:3] == ["[ratings]", "rating\tcount", "1\t1"]


@pytest.mark.parametrize(
    ("args", "code", "field"),
    [
        (["course", "nope"], 1, "course_slug"),
        (["student", "nobody@rep.example.org"], 1, "email"),
        (["system", "--since", "2026-02-30"], 1, "since"),
        (["system", "--since", "2026-02-01", "--until", "2026-01-01"], 1, "until"),
        (["system", "--section", "nothing"], 1, "section"),
        (["system", "-o", "report.pdf"], 2, "output"),
        (["system", "--format", "xlsx"], 2, "output"),
        (["system", "--format", "csv"], 2, "format"),  # with --json: stdout is JSON
    ],
)
def test_refusals(cli: Any, world: World, args: list[str], code: int, field: str) -> None:
    result = cli("reports", *args, "--json")

    assert result.exit_code == code, result.output
    assert json.loads(result.stdout)["errors"][0]["field"] == field


def test_an_instructor_is_refused_another_instructors_course(cli: Any, world: World) -> None:
    result = cli("reports", "course", "rep-noquiz", "--json", as_="t1@rep.example.org")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["errors"][0]["field"] == "as"


def test_xlsx_cells_are_formula_safe(cli: Any, world: World, tmp_path: Path) -> None:
    out = tmp_path / "course.xlsx"
    result = cli("reports", "course", "rep-course", *UNTIL, "-o", str(out))

    assert result.exit_code == 0, result.output
    book = load_workbook(out, read_only=True)
    assert book.sheetnames[0] == "summary" and book.sheetnames[-1] == "at_risk"
    [_, row] = list(book["at_risk"].iter_rows(values_only=True))
    assert row[1] == '\'=HYPERLINK("http://x")'
