"""XLSX reading (python-calamine) and the zip checks that guard it."""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from lms_core.errors import FileRefused
from lms_core.formats.archive import ArchiveLimits, check_archive
from lms_core.formats.sources import _GUARDED, open_table, sheet_names
from lms_core.formats.xlsx_read import cell_text


def workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def refused(path: Path, **kwargs: Any) -> list[dict[str, Any]]:
    with pytest.raises(FileRefused) as caught, open_table(path, **kwargs) as table:
        list(table.rows)
    return [e.as_dict() for e in caught.value.errors]


def test_cells_read_as_excel_shows_them(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "users.xlsx",
        {
            "users": [
                ["external_id", "email", "full_name", "role", "is_active", "joined", "score"],
                ["00123", "a@example.org", "Anna", "student", True, dt.date(2026, 3, 1), 1.5],
                [456, "b@example.org", "Bob", None, False, dt.datetime(2026, 3, 1, 10, 30), 0.1],
                [None, None, None, None, None, None, None],
                [12345678901234567890, "c@example.org", "Carl", "", None, None, 3.0],
            ]
        },
    )
    with open_table(path, required=["email", "full_name"], known=["external_id"]) as table:
        assert table.file == "users.xlsx"
        assert table.columns[:3] == ["external_id", "email", "full_name"]
        rows = list(table.rows)
    assert [r.line for r in rows] == [2, 3, 5]  # the empty row 4 is skipped, still counted
    first, second, third = rows
    assert first.values == {
        "external_id": "00123",
        "email": "a@example.org",
        "full_name": "Anna",
        "role": "student",
        "is_active": "TRUE",
        "joined": "2026-03-01",
        "score": "1.5",
    }
    assert first.numeric == frozenset({"score"})
    assert second.values["external_id"] == "456"
    assert second.values["role"] == ""
    assert second.values["is_active"] == "FALSE"
    assert second.values["joined"] == "2026-03-01T10:30:00"
    assert second.values["score"] == "0.1"
    assert second.numeric == frozenset({"external_id", "score"})
    assert third.values["external_id"] == "1.23456789012346E+19"
    assert third.values["score"] == "3"


@pytest.mark.parametrize(
    ("value", "text", "numeric"),
    [
        (123.0, "123", True),
        (0.30000000000000004, "0.3", True),
        (1e-5, "1E-05", True),
        (123456789012345.0, "123456789012345", True),
        (1234567890123456.0, "1.23456789012346E+15", True),
        (7, "7", True),
        (None, "", False),
        ("", "", False),
        (" x ", " x ", False),
        (dt.time(8, 5), "08:05:00", False),
        (dt.datetime(2026, 1, 2), "2026-01-02", False),
        (float("nan"), "", True),
    ],
)
def test_cell_text(value: Any, text: str, numeric: bool) -> None:
    assert cell_text(value) == (text, numeric)


def test_sheet_selection(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "courses.xlsx",
        {
            "Courses": [["slug", "title"], ["py", "Python"]],
            "Lessons": [[], ["course_slug", "slug"], ["py", "intro"]],
        },
    )
    assert sheet_names(path) == ["Courses", "Lessons"]
    with open_table(path) as table:
        assert [r.values for r in table.rows] == [{"slug": "py", "title": "Python"}]
    with open_table(path, sheet="lessons", required=["course_slug", "slug"]) as table:
        assert table.file == "courses.xlsx:Lessons"
        [row] = table.rows
        assert (row.file, row.line) == ("courses.xlsx:Lessons", 3)
    [problem] = refused(path, sheet="enrollments")
    assert (
        problem["message"]
        == 'the workbook has no sheet "enrollments" (it has "Courses", "Lessons")'
    )


def test_missing_and_duplicate_columns_in_a_sheet(tmp_path: Path) -> None:
    path = workbook(tmp_path / "u.xlsx", {"S": [["email", "email", "x"], ["a@example.org"]]})
    assert refused(path, required=["email", "role"]) == [
        {
            "file": "u.xlsx",
            "line": 1,
            "column": "email",
            "value": None,
            "message": 'the column "email" appears twice (columns 1 and 2); keep one and '
            "delete the other",
        },
        {
            "file": "u.xlsx",
            "line": 1,
            "column": "role",
            "value": None,
            "message": 'the required column "role" is missing from the header row',
        },
    ]


def test_empty_sheet_and_a_zip_that_is_no_workbook(tmp_path: Path) -> None:
    path = workbook(tmp_path / "e.xlsx", {"S": []})
    [problem] = refused(path)
    assert "empty" in problem["message"]
    other = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("a.txt", "hello")
    [problem] = refused(other)
    assert "not a readable .xlsx workbook" in problem["message"]


def test_extension_does_not_matter(tmp_path: Path) -> None:
    path = workbook(tmp_path / "export.csv", {"S": [["email"], ["a@example.org"]]})
    with open_table(path) as table:
        assert [r.values for r in table.rows] == [{"email": "a@example.org"}]


def test_openpyxl_uses_defusedxml() -> None:
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True


def zip_bomb(path: Path, megabytes: int) -> Path:
    """A zip whose one member expands to ``megabytes`` of zeros (about 1000:1), written in
    1 MB pieces so the test never holds it in memory."""
    block = bytes(1 << 20)
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z,
        z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member,
    ):
        for _ in range(megabytes):
            member.write(block)
    return path


def test_zip_bomb_is_refused_by_size(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.xlsx", 24)
    assert bomb.stat().st_size < 100_000
    limits = ArchiveLimits(max_total=16 << 20, max_ratio=10_000)
    [problem] = refused(bomb, limits=limits)
    assert problem["file"] == "bomb.xlsx"
    assert problem["message"] == (
        "refused: the archive would expand to 24 MB (limit 16 MB); it may be a zip bomb"
    )


def test_zip_bomb_is_refused_by_ratio_with_default_limits(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.xlsx", 8)
    [problem] = refused(bomb)
    assert problem["message"].startswith('refused: "xl/worksheets/sheet1.xml" would expand ')
    assert "may be a zip bomb" in problem["message"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a/../../b", "C:/x.xml"])
def test_path_tricks_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<x/>")
        z.writestr(name, "x")
    with pytest.raises(FileRefused) as caught:
        check_archive(path, display="evil.zip")
    assert "unsafe path" in caught.value.errors[0].message


def test_too_many_members(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as z:
        for i in range(30):
            z.writestr(f"f{i}.xml", "x")
    with pytest.raises(FileRefused) as caught:
        check_archive(path, display="many.zip", limits=ArchiveLimits(max_members=20))
    assert caught.value.errors[0].message == "refused: the archive holds 30 files (limit 20)"


def test_damaged_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.xlsx"
    workbook(tmp_path / "ok.xlsx", {"S": [["email"], ["a@example.org"]]})
    path.write_bytes((tmp_path / "ok.xlsx").read_bytes()[:300])
    [problem] = refused(path)
    assert "not a readable .xlsx workbook: it is damaged" in problem["message"]


def test_row_numbers_when_the_data_starts_lower_and_to_the_right(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws["C3"], ws["D3"] = "email", "role"
    ws["C4"] = "a@example.org"
    ws["D6"] = "student"
    wb.save(tmp_path / "off.xlsx")
    with open_table(tmp_path / "off.xlsx", required=["email"]) as table:
        rows = [(r.line, r.values) for r in table.rows]
    assert rows == [
        (4, {"email": "a@example.org", "role": ""}),
        (6, {"email": "", "role": "student"}),
    ]


def test_big_sheets_stream_with_openpyxl_and_read_the_same(tmp_path: Path) -> None:
    from lms_core.formats.xlsx_read import open_xlsx

    path = workbook(
        tmp_path / "u.xlsx",
        {
            "Users": [
                [],
                ["external_id", "email", "joined", "n"],
                ["007", "a@example.org", dt.date(2026, 3, 1), 12.0],
                [None, None, None, None],
                [8, "b@example.org", None, 0.1],
            ],
            "Other": [["x"]],
        },
    )
    fast = open_xlsx(path, sheet=None, display="u.xlsx")
    slow = open_xlsx(path, sheet=None, display="u.xlsx", stream_from=0)
    with fast, slow:
        assert slow.columns == fast.columns
        fast_rows, slow_rows = list(fast.rows), list(slow.rows)
    assert slow_rows == fast_rows
    assert [r.line for r in slow_rows] == [3, 5]
    assert slow_rows[1].numeric == frozenset({"external_id", "n"})
    with open_xlsx(path, sheet="other", display="u.xlsx", stream_from=0) as other:
        assert other.file == "u.xlsx:Other"
        assert list(other.rows) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
            min_size=1,
            max_size=30,
        )
        # "=..." is a formula, and "'=..." is how our exports guard one (the reader drops
        # that apostrophe so an export imports back unchanged): both are tested elsewhere.
        .filter(lambda t: t.strip() and not t.startswith("=") and not t.startswith(_GUARDED)),
        min_size=1,
        max_size=5,
    )
)
def test_text_cells_come_back_exactly(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = workbook(Path(tmp) / "t.xlsx", {"S": [["value"], *([t] for t in texts)]})
        with open_table(path) as table:
            assert [r.values["value"] for r in table.rows] == texts


def test_formula_guard_is_undone_in_xlsx(tmp_path: Path) -> None:
    path = workbook(tmp_path / "u.xlsx", {"S": [["full_name"], ["'=1+2"], ["'plain"]]})
    with open_table(path) as table:
        assert [r.values["full_name"] for r in table.rows] == ["=1+2", "'plain"]
