"""``--errors-out`` never writes a password back: the column keeps its header, its cells are empty."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tests.imports.importing import Importer

SECRET = "Correct-Horse-Battery-9"
BAD = (
    "email,full_name,role,password\n"
    f"ann@x.org,Ann,student,{SECRET}\n"
    f"not-an-email,Bob,student,{SECRET}x\n"
)


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


def test_an_errors_file_leaves_the_password_cells_empty(imp: Importer, tmp_path: Path) -> None:
    errors = tmp_path / "errors.csv"
    report = imp("users", imp.file("bad.csv", BAD), errors_out=errors)
    assert report.errors
    text = errors.read_text(encoding="utf-8-sig")
    assert SECRET not in text
    rows = list(csv.DictReader(text.splitlines()))
    assert [r["email"] for r in rows] == ["ann@x.org", "not-an-email"]
    assert [r["password"] for r in rows] == ["", ""]
    assert "email:" in rows[1]["error"]
