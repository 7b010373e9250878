"""Partial unique indexes keep their WHERE on both databases, without loading both dialects."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex

from lms_core.models import Base

PARTIAL = {
    "uq_attempts_one_in_progress": "WHERE status = 'in_progress'",
    "uq_certificates_valid_enrollment": "WHERE revoked_at IS NULL AND superseded_at IS NULL",
}


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=lambda d: d.name)
def test_create_index_carries_the_predicate(dialect):
    found = {}
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            found[index.name] = str(CreateIndex(index).compile(dialect=dialect)).strip()
    for name, where in PARTIAL.items():
        assert found[name].startswith(f"CREATE UNIQUE INDEX {name} ON "), found[name]
        assert found[name].endswith(where), found[name]
    assert not any("WHERE" in ddl for name, ddl in found.items() if name not in PARTIAL)


def test_defining_the_models_loads_no_database_dialect():
    code = (
        "import sys, lms_core.models; "
        "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy.dialects.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
