"""Hostile and odd input files (issue 11): each is refused quickly, with a file-line-column
message, no traceback, and the database unchanged, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy.orm import Session

from tests.cli.helpers import audit_count, db_state, no_traceback

HEADER = ["email", "full_name", "role"]


def _workbook(path: Path, *far: str) -> Path:
    """A small users workbook with one stray cell at each reference of ``far``."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(["ann@example.org", "Ann", "student"])
    for ref in far:
        sheet[ref] = "x"
    book.save(path)
    return path


Unchanged = Callable[[], AbstractContextManager[None]]


@pytest.fixture
def unchanged(session: Session) -> Unchanged:
    """No row changed but the import ledger's (a refused run may be recorded as one)."""

    @contextmanager
    def check() -> Iterator[None]:
        before, audits = db_state(session), audit_count(session)
        yield
        after = db_state(session)
        assert audit_count(session) == audits, "the audit log changed"
        for table in ("import_runs", "import_changes"):
            before.pop(table, None), after.pop(table, None)
        assert after == before, "the database changed"

    return check


def _errors(result: Any) -> list[dict[str, Any]]:
    assert result.exit_code == 1, (result.exit_code, result.output)
    no_traceback(result)
    errors: list[dict[str, Any]] = json.loads(result.stdout)["errors"]
    return errors


def _rewrite_dimension(path: Path, old: str, new: str) -> Path:
    with zipfile.ZipFile(path) as source:
        parts = {i.filename: source.read(i) for i in source.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    assert f'<dimension ref="{old}" />' in sheet, sheet
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(
        f'<dimension ref="{old}" />', f'<dimension ref="{new}" />'
    ).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("ref", "line", "column"), [("XFD1048576", 1048576, "XFD"), ("XFD5000", 5000, "XFD")]
)
@pytest.mark.parametrize("declared", ["true", "lying"])
def test_a_cell_far_away_is_refused_before_reading(
    cli: Any,
    unchanged: Unchanged,
    tmp_path: Path,
    ref: str,
    line: int,
    column: str,
    declared: str,
) -> None:
    """The sheet's declared extent (``<dimension>``) is checked, and so is every cell: a
    file may declare A1:C2 and still hold a cell at XFD1048576."""
    path = _workbook(tmp_path / "users.xlsx", ref)
    if declared == "lying":
        _rewrite_dimension(path, f"A1:{ref}", "A1:C2")
    assert path.stat().st_size < 10_000
    started = time.monotonic()
    with unchanged():
        result = cli("import", "users", str(path), "--json")
    assert time.monotonic() - started < 2
    [error] = _errors(result)
    assert (error["file"], error["line"], error["column"]) == ("users.xlsx", line, column)
    verb = "declares" if declared == "true" else "has"
    assert error["message"].startswith(f"refused: the sheet {verb} a cell at {ref}, beyond")
    assert "at most 702 columns" in error["message"]


def test_a_declared_extent_beyond_the_limits_is_refused(
    cli: Any, unchanged: Unchanged, tmp_path: Path
) -> None:
    path = _rewrite_dimension(_workbook(tmp_path / "users.xlsx"), "A1:C2", "A1:ZZZ3")
    with unchanged():
        [error] = _errors(cli("import", "users", str(path), "--json"))
    assert (error["line"], error["column"]) == (3, "ZZZ")
    assert error["message"].startswith("refused: the sheet declares a cell at ZZZ3")


def test_a_sheet_within_the_limits_still_imports(cli: Any, tmp_path: Path) -> None:
    path = _workbook(tmp_path / "users.xlsx", "ZZ3000")
    result = cli("import", "users", str(path), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["create"] == 1


def _twice(path: Path, member: str, second: bytes) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate name
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(member, second)
    return path


def test_a_workbook_with_two_sheets_of_one_name_is_refused(
    cli: Any, unchanged: Unchanged, tmp_path: Path
) -> None:
    path = _workbook(tmp_path / "users.xlsx")
    with zipfile.ZipFile(path) as source:
        sheet = source.read("xl/worksheets/sheet1.xml")
    _twice(path, "xl/worksheets/sheet1.xml", sheet.replace(b"Ann", b"Mallory"))
    with unchanged():
        [error] = _errors(cli("import", "users", str(path), "--json"))
    assert error["file"] == "users.xlsx"
    assert error["message"] == (
        'refused: the archive holds two files named "xl/worksheets/sheet1.xml"; it is damaged'
    )


def test_a_oneroster_zip_with_two_files_of_one_name_is_refused(
    cli: Any, unchanged: Unchanged, tmp_path: Path
) -> None:
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.csv", "propertyName,value\nmanifest.version,1.0\n")
    _twice(path, "manifest.csv", b"propertyName,value\nmanifest.version,1.0\n")
    with unchanged():
        result = cli("import", "oneroster", str(path))
    assert result.exit_code == 1, result.output
    no_traceback(result)
    assert 'two files named "manifest.csv"' in result.stderr, result.stderr


# NUL and other control characters -------------------------------------------------------


def _users_xlsx(path: Path, *rows: list[str]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["external_id", *HEADER])
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_an_escaped_nul_in_a_workbook_cell_is_refused(
    cli: Any, unchanged: Unchanged, tmp_path: Path
) -> None:
    """Excel writes a NUL as ``_x0000_``; the reader turns it back into U+0000, which
    PostgreSQL cannot store (a traceback) and SQLite stored silently."""
    path = _users_xlsx(tmp_path / "users.xlsx", ["X-_x0000_1", "ann@example.org", "Ann", "student"])
    with unchanged():
        [error] = _errors(cli("import", "users", str(path), "--json"))
    assert (error["file"], error["line"], error["column"]) == ("users.xlsx", 2, "external_id")
    assert "contains a NUL character (U+0000)" in error["message"]


@pytest.mark.parametrize(
    ("cell", "named"),
    [
        ("Ann\x1b[2J", "an escape character (U+001B)"),
        ("Ann\tLee", "a tab (U+0009)"),
        ('"Ann\nLee"', "a line break (U+000A)"),
        ("Ann\x07", "a control character (U+0007)"),
    ],
)
def test_control_characters_in_a_csv_name_are_refused(
    cli: Any, unchanged: Unchanged, tmp_path: Path, cell: str, named: str
) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        f"email,full_name,role\nann@example.org,{cell},student\n", encoding="utf-8", newline=""
    )
    with unchanged():
        [error] = _errors(cli("import", "users", str(path), "--json"))
    assert (error["line"], error["column"]) == (2, "full_name")
    assert f"contains {named}" in error["message"]


def test_line_breaks_stay_allowed_in_multi_line_text(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "courses.csv"
    path.write_text(
        'slug,title,instructor_email,description\nc-1,C,t@x.org,"One\nTwo\tthree"\n',
        encoding="utf-8",
        newline="",
    )
    created = cli("users", "create", "t@x.org", "--name", "T", "--role", "instructor")
    assert created.exit_code == 0, created.output
    result = cli("import", "courses", str(path), "--dry-run", "--json")
    assert "U+000A" not in result.stdout and "U+0009" not in result.stdout, result.output
    assert result.exit_code == 0, result.output


def test_control_characters_given_on_the_command_line_are_refused(
    cli: Any, unchanged: Unchanged
) -> None:
    with unchanged():
        result = cli("users", "create", "ann@example.org", "--name", "Ann\x00Lee", "--json")
    assert result.exit_code == 1, result.output
    no_traceback(result)
    [error] = json.loads(result.stdout)["errors"]
    assert error["field"] == "full_name"
    assert "contains a NUL character (U+0000)" in error["message"]
    with unchanged():
        result = cli(
            "users", "create", "ann@example.org", "--name", "Ann", "--external-id", "X\x1b1"
        )
    assert result.exit_code == 1, result.output
    assert "external_id" in result.stderr and "U+001B" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("name", "text", "line", "column"),
    [
        ("bank.gift", "::Q1:: What is 2+2? {=4 ~5}\n\n::Q2:: Say\x00 {=hi}\n", 3, 11),
        ("bank.txt", "What is 2+2?\nA. 4\nB. 5\x1b\nANSWER: A\n", 3, 5),
    ],
)
def test_control_characters_in_a_question_bank_are_refused(
    cli: Any, unchanged: Unchanged, tmp_path: Path, name: str, text: str, line: int, column: int
) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    with unchanged():
        [error] = _errors(cli("quizzes", "import", "some-course/quiz", str(path), "--json"))
    assert error["file"].endswith(name), error
    assert (error["line"], error["column"]) == (line, column), error
    assert "contains " in error["message"] and "(U+00" in error["message"]


def test_control_characters_in_a_question_spreadsheet_are_refused(
    cli: Any, unchanged: Unchanged, tmp_path: Path
) -> None:
    path = tmp_path / "bank.csv"
    path.write_text(
        "question_type,question_text,options,correct_answer\n"
        "multiple_choice,Two plus two?,4|5\x00,4\n",
        encoding="utf-8",
    )
    with unchanged():
        [error] = _errors(cli("quizzes", "import", "some-course/quiz", str(path), "--json"))
    assert (error["line"], error["column"]) == (2, "options"), error
    assert "contains a NUL character (U+0000)" in error["message"]


# Encodings and byte-order marks ---------------------------------------------------------


@pytest.mark.parametrize("encoding", ["rot13", "base64", "hex", "utf-7", "UTF7", "unicode_escape"])
def test_only_file_encodings_are_accepted(
    cli: Any, unchanged: Unchanged, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "users.csv"
    path.write_text("email,full_name,role\na+b@example.org,Ann,student\n", encoding="utf-8")
    with unchanged():
        [error] = _errors(cli("import", "users", str(path), "--encoding", encoding, "--json"))
    assert error["file"] == "users.csv"
    assert error["message"] == (
        f'"{encoding}" is not an encoding spreadsheet files are written in (try utf-8 or cp1252)'
    )


def test_a_byte_order_mark_inside_the_file_is_refused(
    cli: Any, unchanged: Unchanged, tmp_path: Path
) -> None:
    """Files joined together keep each one's BOM at the start of a line: the first is the
    file's own (dropped), the others would end up inside ``external_id``."""
    bom = "\ufeff"
    path = tmp_path / "users.csv"
    path.write_text(
        f"{bom}external_id,email,full_name,role\n{bom}X1,ann@example.org,Ann,student\n",
        encoding="utf-8",
    )
    with unchanged():
        [error] = _errors(cli("import", "users", str(path), "--json"))
    assert (error["line"], error["column"]) == (2, "external_id")
    assert "contains a byte-order mark (U+FEFF" in error["message"]


def test_a_question_workbook_with_a_far_cell_is_refused(
    cli: Any, unchanged: Unchanged, tmp_path: Path
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["question_type", "question_text", "options", "correct_answer"])
    sheet.append(["multiple_choice", "Two plus two?", "4|5", "4"])
    sheet["XFD1048576"] = "x"
    book.save(tmp_path / "bank.xlsx")
    started = time.monotonic()
    with unchanged():
        result = cli("quizzes", "import", "some-course/quiz", str(tmp_path / "bank.xlsx"))
    assert time.monotonic() - started < 2
    assert result.exit_code == 1, result.output
    no_traceback(result)
    assert "line 1048576, column XFD" in result.stderr, result.stderr
    assert "a cell at XFD1048576" in result.stderr, result.stderr


def test_a_grading_worksheet_with_a_far_cell_is_refused(
    cli: Any, unchanged: Unchanged, tmp_path: Path
) -> None:
    path = _workbook(tmp_path / "grades.xlsx", "XFD1048576")
    with unchanged():
        result = cli("grading", "import", str(path))
    assert result.exit_code == 1, result.output
    no_traceback(result)
    assert "a cell at XFD1048576" in result.stderr, result.stderr
