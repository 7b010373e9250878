"""Crashes the seeded fuzzers (tests/fuzz/) found in the import path, each pinned by its case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import ImportRun
from tests.cli.helpers import db_state, no_traceback

USERS = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\n"


def _refused(result: Any) -> dict[str, Any]:
    no_traceback(result)
    assert result.exit_code == 1, result.output
    error: dict[str, Any] = json.loads(result.stdout)["errors"][0]
    return error


def test_utf16_named_for_a_file_without_a_byte_order_mark_is_refused(
    cli: Any, session: Session, tmp_path: Path
) -> None:
    """csv fuzz `users --encoding 'utf-16'`: UnicodeError('UTF-16 stream does not start with BOM')."""
    path = tmp_path / "latin.csv"
    path.write_bytes(USERS.encode("latin-1"))
    before = db_state(session)
    error = _refused(cli("import", "users", str(path), "--encoding", "utf-16", "--json"))
    assert error["file"] == "latin.csv" and error["line"] == 1
    assert "byte-order mark" in error["message"] and "utf-16-le" in error["message"]
    after = db_state(session)
    after.pop("import_runs"), before.pop("import_runs")
    assert after == before


def test_an_encoding_name_with_a_nul_is_refused_as_unknown(
    cli: Any, session: Session, tmp_path: Path
) -> None:
    """csv fuzz `users --encoding '\\x00'`: ValueError('embedded null character') from codecs."""
    path = tmp_path / "users.csv"
    path.write_text(USERS, encoding="utf-8")
    for name in ("\x00", "utf\x008"):
        error = _refused(cli("import", "users", str(path), "--encoding", name, "--json"))
        assert error["file"] == "users.csv" and "unknown encoding" in error["message"]
        assert "\x00" not in error["message"] and "\\x00" in error["message"]


def test_a_refusal_quoting_a_nul_is_recorded_in_the_history_on_every_database(
    cli: Any, session: Session, tmp_path: Path
) -> None:
    """xlsx fuzz `--sheet '\\x00'`: the refused run's message kept the NUL; PostgreSQL raised
    ValueError('A string literal cannot contain NUL') while recording it, SQLite stored it."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["external_id", "email", "full_name", "role"])
    sheet.append(["S-1", "ann@x.org", "Ann", "student"])
    path = tmp_path / "users.xlsx"
    book.save(path)
    before = db_state(session)
    error = _refused(cli("import", "users", str(path), "--sheet", "a\x00b", "--json"))
    assert "no sheet" in error["message"]
    after = db_state(session)
    assert after.pop("import_runs") != before.pop("import_runs") and after == before
    message = session.scalars(select(ImportRun.message).order_by(ImportRun.id.desc())).first()
    assert message is not None and "\x00" not in message and "a\\x00b" in message
