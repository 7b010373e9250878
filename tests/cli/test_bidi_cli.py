"""Bidirectional controls (Trojan Source) and look-alike e-mail domains (issue 11), through the
real CLI: one rule (the field specs) for ``users create`` and ``import``, on SQLite and
PostgreSQL alike, the database unchanged on refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from tests.cli.helpers import db_state, ok, ok_json, refused, refused_json

CYRILLIC_A = "\u0430"


def test_an_unclosed_override_in_a_name_is_refused(cli: Any, session: Session) -> None:
    before = db_state(session)
    error = refused_json(
        cli("users", "create", "ann@example.org", "--name", "Ann \u202eeviL", "--json"),
        "full_name",
        contains="right-to-left override (U+202E) that is not closed",
    )
    assert error["value"] == "Ann \u202eeviL"
    assert db_state(session) == before


def test_a_balanced_isolate_in_a_name_is_kept(cli: Any) -> None:
    name = "\u2067\u05e9\u05dc\u05d5\u05dd\u2069 Ann"
    ok(cli("users", "create", "ann@example.org", "--name", name))
    shown = ok_json(cli("users", "show", "ann@example.org", "--json"))
    assert shown["full_name"] == name


def test_an_override_in_an_e_mail_or_an_id_is_refused_and_named(cli: Any, session: Session) -> None:
    before = db_state(session)
    refused(
        cli("users", "create", "ann\u202e@example.org", "--name", "Ann"),
        "email",
        contains="contains a right-to-left override (U+202E)",
    )
    refused(
        cli("users", "create", "ann@example.org", "--name", "Ann", "--external-id", "S\u200f1"),
        "external_id",
        contains="right-to-left mark (U+200F)",
    )
    assert db_state(session) == before


def test_a_latin_domain_with_a_cyrillic_letter_is_refused(cli: Any, session: Session) -> None:
    before = db_state(session)
    refused(
        cli("users", "create", f"ann@ex{CYRILLIC_A}mple.org", "--name", "Ann"),
        "email",
        contains="mixes Latin letters with Cyrillic ones",
    )
    assert db_state(session) == before


def test_an_import_refuses_the_look_alike_domain_at_its_cell(
    cli: Any, session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        "email,full_name,role\n"
        "bob@example.org,Bob,student\n"
        f"ann@ex{CYRILLIC_A}mple.org,Ann,student\n",
        encoding="utf-8",
    )
    before = db_state(session)
    result = cli("import", "users", str(path), "--json")
    assert result.exit_code == 1, result.output
    [error] = json.loads(result.stdout)["errors"]
    assert (error["file"], error["line"], error["column"]) == ("users.csv", 3, "email")
    assert "mixes Latin letters with Cyrillic ones" in error["message"]
    after = db_state(session)
    for table in ("import_runs", "import_changes"):
        before.pop(table, None), after.pop(table, None)
    assert after == before
