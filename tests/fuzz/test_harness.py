"""The fuzz harness itself: an accepted case is rolled back, a change is seen, a stored control
character is found. Without these, a fuzzer could pass by never looking."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, update

from lms_core.models import User
from tests.cli.helpers import ok
from tests.fuzz.conftest import Fuzzer
from tests.fuzz.snapshot import db_snapshot, stored_controls

USERS = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\n"


def test_an_accepted_case_is_rolled_back_before_the_next(
    cli: Any, connection: Connection, fuzzer: Callable[[str], Fuzzer], tmp_path: Path
) -> None:
    path = tmp_path / "users.csv"
    path.write_text(USERS, encoding="utf-8")
    before = db_snapshot(connection)
    fuzz = fuzzer("harness")
    for n in range(2):  # the second run creates again: the first left nothing behind
        result = fuzz.run(f"valid #{n}", "import", "users", str(path), "--json")
        assert result.exit_code == 0 and '"create": 1' in result.stdout, result.stdout
    assert db_snapshot(connection) == before
    fuzz.assert_clean()


def test_a_snapshot_sees_a_change_and_a_stored_control_character(
    cli: Any, connection: Connection, tmp_path: Path
) -> None:
    path = tmp_path / "users.csv"
    path.write_text(USERS, encoding="utf-8")
    before = db_snapshot(connection)
    ok(cli("import", "users", str(path), "--json"))
    after = db_snapshot(connection)
    assert {t for t in before if before[t] != after[t]} >= {"users", "import_runs"}
    assert stored_controls(connection) == []
    connection.execute(update(User).values(full_name="A\x1bnn"))
    assert stored_controls(connection) == ["users.full_name = 'A\\x1bnn'"]
