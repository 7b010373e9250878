"""An unedited export imports with no change, whatever the text: names that start with
apostrophes before a formula character (``'+x``, ``'=already quoted``) included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lms_core.exports.entities import export
from tests.imports.importing import Importer

NAMES = ["'+x", "'=already quoted", "''-1", '=HYPERLINK("x")', "'quoted'", "O'Neill", "'@home"]


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_unedited_users_export_plans_no_change(
    fmt: str, imp: Importer, session: Any, make: Any, operator: Any, tmp_path: Path
) -> None:
    for n, name in enumerate(NAMES):
        make.user(email=f"u{n}@example.org", name=name)
    session.commit()
    out = tmp_path / f"users.{fmt}"
    export(session, actor=operator, entity="users", fmt=fmt, out=out)
    report = imp("users", out, dry_run=True)
    assert not report.errors
    assert report.counts["update"] == 0, report.changes_list
    assert report.counts["create"] == 0
