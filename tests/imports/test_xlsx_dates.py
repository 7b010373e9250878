"""A date typed into a text column of a workbook is refused with its line and column.

Excel turns ``1/9/2024`` typed into a General cell into a date; read as text it became the
name ``2024-01-09`` or the external_id ``2024-03-01`` without a word. Like an ID in
scientific notation, it is refused where it is, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy.orm import Session

from lms_core.models import User
from tests.cli.helpers import count, db_state
from tests.imports.importing import Importer, problems


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


def _workbook(path: Path, *rows: list[Any]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_date_cells_in_text_columns_are_refused_by_line_and_column(
    session: Session, imp: Importer
) -> None:
    path = _workbook(
        imp.tmp / "staff.xlsx",
        ["external_id", "email", "full_name", "role", "is_active"],
        ["S-1", "ann@x.org", dt.datetime(2024, 1, 9), "student", True],
        [dt.date(2024, 3, 1), "bob@x.org", "Bob", "student", True],
        ["S-3", "cy@x.org", "Cy", "student", False],
        ["S-4", dt.datetime(2024, 5, 6, 12, 30), "Dee", "student", True],
        ["S-5", "ed@x.org", dt.time(12, 30), "student", True],
    )
    before = db_state(session)
    report = imp("users", path)
    assert report.refused
    assert problems(report) == [
        ("staff.xlsx", 2, "full_name", "2024-01-09"),
        ("staff.xlsx", 3, "external_id", "2024-03-01"),
        ("staff.xlsx", 5, "email", "2024-05-06T12:30:00"),
        ("staff.xlsx", 6, "full_name", "12:30:00"),
    ]
    for error in report.errors:
        assert "is a date (or time) cell, not text" in error.message
        assert "format the column as Text" in error.message
    after = db_state(session)
    after.pop("import_runs"), before.pop("import_runs")
    assert after == before


def test_a_date_cell_in_a_slug_column_is_refused(session: Session, imp: Importer) -> None:
    path = _workbook(
        imp.tmp / "courses.xlsx",
        ["slug", "title", "instructor_email"],
        [dt.datetime(2024, 1, 9), "Course", "teacher@x.org"],
    )
    report = imp("courses", path, dry_run=True)
    assert [(p[2], p[3]) for p in problems(report)] == [("slug", "2024-01-09")]


def test_dates_typed_as_text_are_taken(session: Session, imp: Importer) -> None:
    """A text cell that reads like a date is what the user typed (the column was Text)."""
    path = _workbook(
        imp.tmp / "staff.xlsx",
        ["external_id", "email", "full_name", "role"],
        ["2024-03-01", "ann@x.org", "2024-01-09", "student"],
    )
    report = imp("users", path)
    assert not report.errors, [str(e) for e in report.errors]
    assert count(session, User, User.external_id == "2024-03-01") == 1
