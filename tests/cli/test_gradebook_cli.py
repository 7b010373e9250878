"""lmsctl gradebook export: CSV to stdout or a file, XLSX to a file, formula-safe."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.cli.helpers import ok, ok_json, refused, usage_error


@pytest.fixture
def course(cli: Any, make: Any) -> Any:
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=1, published=True)
    ok(
        cli(
            "assignments", "create", course.slug, "--title", '=HYPERLINK("x")', "--max-points", "10"
        )
    )
    for name in ("Ann", "=cmd|' /C calc'!A0"):
        learner = make.user(name=name)
        make.enroll(learner, course)
    return course


def test_csv_to_stdout(cli: Any, course: Any) -> None:
    result = ok(cli("gradebook", "export", course.slug))
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:3] == ["email", "full_name", '\'=HYPERLINK("x") (/10)']
    assert sorted(r[1] for r in rows[1:]) == ["'=cmd|' /C calc'!A0", "Ann"]
    assert all(r[3] == "0.0" for r in rows[1:])  # nothing graded: total 0


def test_xlsx_to_a_file(cli: Any, course: Any, tmp_path: Path) -> None:
    out = tmp_path / "book.xlsx"
    data = ok_json(
        cli("gradebook", "export", course.slug, "--format", "xlsx", "-o", str(out), "--json")
    )
    assert data["rows"] == 2
    sheet = load_workbook(out).active
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert "'=cmd|' /C calc'!A0" in values
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_refusals(cli: Any, course: Any, make: Any, tmp_path: Path) -> None:
    usage_error(cli("gradebook", "export", course.slug, "--format", "xlsx"), "error: output: ")
    usage_error(
        cli("gradebook", "export", course.slug, "--format", "ods", "-o", str(tmp_path / "x")),
        "error: format: ",
    )
    assert not list(tmp_path.iterdir())
    learner = make.user()
    refused(cli("gradebook", "export", course.slug, as_=learner.email), "as")
    refused(cli("gradebook", "export", "no-such-course"), "course_slug")
