"""lmsctl import: the JSON document, exit codes, errors/invites files, history, undo, template."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import ImportRun, OneTimeToken, User
from lms_core.security import token_hash
from tests.cli.helpers import count, db_state, ok, ok_json, usage_error

USERS = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\nS-2,bob@x.org,Bob,student\n"
BAD = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\nS-2,not-an-email,Bob,pupil\n"


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_json_document_of_an_apply_and_a_rerun(cli: Any, session: Session, tmp_path: Path) -> None:
    path = _file(tmp_path, "users.csv", USERS)
    data = ok_json(cli("import", "users", str(path), "--json"))
    assert {"run_id", "counts", "changes", "errors"} <= set(data)
    assert isinstance(data["run_id"], int) and data["errors"] == []
    assert {k: data["counts"][k] for k in ("create", "update", "unchanged", "deactivate")} == {
        "create": 2,
        "update": 0,
        "unchanged": 0,
        "deactivate": 0,
    }
    change = data["changes"][0]
    assert set(change) == {"entity_type", "key", "action", "entity_id", "before", "after"}
    assert change["action"] == "create" and isinstance(change["entity_id"], int)

    again = ok_json(cli("import", "users", str(path), "--recheck", "--json"))
    assert again["counts"]["unchanged"] == 2 and again["changes"] == []
    assert again["run_id"] == data["run_id"] + 1


def test_dry_run_json_has_no_run_and_writes_nothing(
    cli: Any, session: Session, tmp_path: Path
) -> None:
    path = _file(tmp_path, "users.csv", USERS)
    before = db_state(session)
    data = ok_json(cli("import", "users", str(path), "--dry-run", "--json"))
    assert data["run_id"] is None and data["counts"]["create"] == 2 and len(data["changes"]) == 2
    assert db_state(session) == before


def test_refused_file_exit_1_with_every_error(cli: Any, session: Session, tmp_path: Path) -> None:
    path = _file(tmp_path, "bad.csv", BAD)
    before = db_state(session)
    result = cli("import", "users", str(path), "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["run_id"] is None and data["changes"] == []
    assert [(e["file"], e["line"], e["column"], e["value"]) for e in data["errors"]] == [
        ("bad.csv", 3, "email", "not-an-email"),
        ("bad.csv", 3, "role", "pupil"),
    ]
    for error in data["errors"]:
        assert set(error) == {"file", "line", "column", "value", "message"}
    after = db_state(session)
    assert len(after.pop("import_runs")) == len(before.pop("import_runs")) + 1
    assert after == before


def test_refused_file_text_output_and_errors_out(
    cli: Any, session: Session, tmp_path: Path
) -> None:
    path = _file(tmp_path, "bad.csv", BAD)
    errors = tmp_path / "errors.csv"
    result = cli("import", "users", str(path), "--errors-out", str(errors))
    assert result.exit_code == 1
    assert "error: bad.csv, line 3, column email: " in result.stderr
    assert (
        'error: bad.csv, line 3, column role: "pupil": must be one of admin, instructor, student'
        in result.stderr
    )
    assert "refused: 2 problem(s); nothing was written" in result.stdout
    rows = list(csv.DictReader(errors.open(encoding="utf-8")))
    assert [r["email"] for r in rows] == ["ann@x.org", "not-an-email"]
    assert rows[0]["error"] == "" and "email:" in rows[1]["error"] and "role:" in rows[1]["error"]
    # The fixed errors file imports as it is (the error column is ignored).
    fixed = (
        errors.read_text(encoding="utf-8")
        .replace("not-an-email", "bob@x.org")
        .replace("pupil", "student")
    )
    errors.write_text(fixed, encoding="utf-8")
    assert ok_json(cli("import", "users", str(errors), "--json"))["counts"]["create"] == 2


def test_text_output_counts_changes_and_summary(cli: Any, tmp_path: Path) -> None:
    result = ok(cli("import", "users", str(_file(tmp_path, "u.csv", USERS))))
    assert "create" in result.stdout and "ann@x.org" not in result.stderr
    assert "S-1" in result.stdout and "applied as import run" in result.stdout


def test_invites_out_links_match_hashed_tokens(
    cli: Any, session: Session, settings: Any, tmp_path: Path
) -> None:
    invites = tmp_path / "invites.csv"
    ok(cli("import", "users", str(_file(tmp_path, "u.csv", USERS)), "--invites-out", str(invites)))
    rows = list(csv.DictReader(invites.open(encoding="utf-8-sig")))
    assert [r["email"] for r in rows] == ["ann@x.org", "bob@x.org"]
    prefix = settings.public_base_url.rstrip("/") + "/set-password/"
    stored = set(
        session.scalars(select(OneTimeToken.token_hash).where(OneTimeToken.purpose == "invitation"))
    )
    for row in rows:
        assert row["link"].startswith(prefix)
        raw = row["link"][len(prefix) :]
        assert raw not in stored and token_hash(raw) in stored


def test_invites_file_not_written_when_refused(cli: Any, tmp_path: Path) -> None:
    invites = tmp_path / "invites.csv"
    result = cli(
        "import", "users", str(_file(tmp_path, "bad.csv", BAD)), "--invites-out", str(invites)
    )
    assert result.exit_code == 1 and not invites.exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_usage_errors_exit_2(cli: Any, tmp_path: Path) -> None:
    usage_error(cli("import", "users", str(_file(tmp_path, "u.csv", USERS)), "--mode", "merge"))
    usage_error(cli("import", "users", str(tmp_path / "missing.csv")))


def test_plan_out_then_apply_then_history_and_undo(
    cli: Any, session: Session, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    ok(
        cli(
            "import",
            "users",
            str(_file(tmp_path, "u.csv", USERS)),
            "--dry-run",
            "--plan-out",
            str(plan),
        )
    )
    applied = ok_json(cli("import", "apply", str(plan), "--json"))
    assert applied["counts"]["create"] == 2
    stale = cli("import", "apply", str(plan), "--json")
    assert stale.exit_code == 1 and "created since the plan" in stale.stdout

    history = ok_json(cli("import", "history", "--json"))
    assert [h["status"] for h in history[:2]] == ["refused", "applied"]
    assert {
        "id",
        "started_at",
        "actor",
        "entity",
        "file",
        "sha256",
        "mode",
        "counts",
        "duration_ms",
        "status",
    } <= set(history[0])

    undone = ok_json(cli("import", "undo", str(applied["run_id"]), "--json"))
    assert undone["deleted"]["user"] == 2
    assert count(session, User) == 0
    again = cli("import", "undo", str(applied["run_id"]))
    assert again.exit_code == 1 and "only an applied run" in again.stderr
    run = session.get(ImportRun, applied["run_id"])
    assert run is not None and run.status == "undone"


def test_template_is_wired(cli: Any, tmp_path: Path) -> None:
    result = ok(cli("import", "template", "users"))
    assert result.stdout.lstrip("\ufeff").startswith("external_id,email,full_name,role")
    out = tmp_path / "users.xlsx"
    ok(cli("import", "template", "users", "--format", "xlsx", "-o", str(out)))
    assert out.stat().st_size > 0


def test_instructors_cannot_import(cli: Any, make: Any, tmp_path: Path) -> None:
    teacher = make.user("instructor")
    result = cli(
        "import", "users", str(_file(tmp_path, "u.csv", USERS)), "--json", as_=teacher.email
    )
    assert result.exit_code == 1 and "administrator" in result.stdout


posix_only = pytest.mark.skipif(
    os.name != "posix", reason="file permission bits (0o600) are a POSIX notion"
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_invites_file_is_readable_by_its_owner_only(cli: Any, tmp_path: Path) -> None:
    """Invitation links carry set-password tokens: the file is created 0o600 whatever the umask."""
    invites = tmp_path / "invites.csv"
    ok(cli("import", "users", str(_file(tmp_path, "u.csv", USERS)), "--invites-out", str(invites)))
    assert _mode(invites) == 0o600


@posix_only
def test_saved_plan_is_readable_by_its_owner_only(cli: Any, tmp_path: Path) -> None:
    """A plan holds every row of personal data it would write."""
    plan = tmp_path / "plan.json"
    source = _file(tmp_path, "u.csv", USERS)
    ok(cli("import", "users", str(source), "--dry-run", "--plan-out", str(plan)))
    assert _mode(plan) == 0o600


@posix_only
def test_errors_file_is_readable_by_its_owner_only(cli: Any, tmp_path: Path) -> None:
    """The errors file repeats the refused file's rows, personal data included."""
    errors = tmp_path / "errors.csv"
    result = cli(
        "import", "users", str(_file(tmp_path, "bad.csv", BAD)), "--errors-out", str(errors)
    )
    assert result.exit_code == 1 and errors.exists()
    assert _mode(errors) == 0o600
