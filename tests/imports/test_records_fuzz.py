"""Malformed files never raise anything but our own errors, and never write a row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from lms_core.errors import LmsError
from lms_core.models import User
from tests.cli.helpers import count
from tests.imports.importing import Importer

HEADERS = ["external_id", "email", "full_name", "role", "is_active", "password", "E-mail", ""]
cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["student", "admin", "ann@x.org", "1.2E+05", "yes", "Ã©", "\u00a0a@x.org"]),
)


def _csv(header: list[str], rows: list[list[str]], sep: str) -> str:
    def cell(value: str) -> str:
        return (
            '"' + value.replace('"', '""') + '"'
            if any(c in value for c in f'"\n\r{sep}')
            else value
        )

    return "\n".join(sep.join(cell(v) for v in row) for row in [header, *rows]) + "\n"


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    header=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6),
    rows=st.lists(st.lists(cells, max_size=7), max_size=6),
    sep=st.sampled_from([",", ";", "\t"]),
    raw=st.one_of(st.none(), st.binary(max_size=64)),
)
def test_malformed_users_files_are_refused_cleanly(
    session: Session,
    imp: Importer,
    header: list[str],
    rows: list[list[str]],
    sep: str,
    raw: bytes | None,
) -> None:
    path = imp.tmp / "fuzz.csv"
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(_csv(header, rows, sep), encoding="utf-8")
    before = count(session, User)
    try:
        report = imp("users", path, dry_run=True)
    except LmsError:
        return
    for error in report.errors:
        assert error.file == "fuzz.csv" and error.message
    assert count(session, User) == before
