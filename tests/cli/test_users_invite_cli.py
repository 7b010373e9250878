"""lmsctl users invite: new set-password links for users without a password, by e-mail or run;
and what an import says when it wrote no links, or skipped an unchanged file."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts.tokens import consume_token
from lms_core.errors import ValidationError
from lms_core.models import AuditEntry, ImportRun, OneTimeToken, TokenPurpose
from lms_core.security import token_hash
from tests.cli.helpers import count, db_state, ok, ok_json, refused, usage_error

USERS = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\nS-2,bob@x.org,Bob,student\n"


def _import(cli: Any, tmp_path: Path, text: str = USERS, name: str = "u.csv") -> dict[str, Any]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return dict(ok_json(cli("import", "users", str(path), "--json")))


def _raw(link: str, settings: Any) -> str:
    prefix = settings.public_base_url.rstrip("/") + "/set-password/"
    assert link.startswith(prefix), link
    return link[len(prefix) :]


def test_import_without_invites_out_says_how_to_get_the_links(
    cli: Any, session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "u.csv"
    path.write_text(USERS, encoding="utf-8")
    result = ok(cli("import", "users", str(path)))
    run_id = session.scalars(
        select(AuditEntry.entity_id).where(AuditEntry.action == "import.apply")
    ).one()
    assert (
        f"2 user(s) need an invitation: lmsctl users invite --run {run_id} -o invites.csv"
        in result.stdout
    )
    assert count(session, OneTimeToken) == 0


def test_unchanged_file_says_so_and_recheck_reads_it(
    cli: Any, session: Session, tmp_path: Path
) -> None:
    first = _import(cli, tmp_path)
    state = db_state(session)
    path = str(tmp_path / "u.csv")
    result = ok(cli("import", "users", path))
    assert result.stdout.strip() == (
        f"unchanged since run {first['run_id']}: nothing to do (use --recheck to read it anyway)"
    )
    data = ok_json(cli("import", "users", path, "--json"))
    assert data["unchanged_since_run"] == first["run_id"] and data["run_id"] is None
    assert "nothing to do" in data["message"] and data["changes"] == []
    assert db_state(session) == state
    forced = ok_json(cli("import", "users", path, "--recheck", "--json"))
    assert "unchanged_since_run" not in forced and forced["counts"]["unchanged"] == 2


def test_invite_a_run_writes_links_that_work(
    cli: Any, session: Session, settings: Any, tmp_path: Path
) -> None:
    run_id = _import(cli, tmp_path)["run_id"]
    out = tmp_path / "invites.csv"
    result = ok(cli("users", "invite", "--run", str(run_id), "-o", str(out)))
    assert f"invited 2 user(s): links in {out}" in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))  # with a BOM, for Excel
    assert [(r["email"], r["full_name"]) for r in rows] == [
        ("ann@x.org", "Ann"),
        ("bob@x.org", "Bob"),
    ]
    stored = set(session.scalars(select(OneTimeToken.token_hash)))
    raws = [_raw(r["link"], settings) for r in rows]
    assert {token_hash(r) for r in raws} == stored and not stored & set(raws)
    assert consume_token(session, raw=raws[0], purpose=TokenPurpose.invitation).email == "ann@x.org"
    assert count(session, AuditEntry, AuditEntry.action == "token.issue.invitation") == 2


def test_inviting_again_revokes_the_earlier_links(
    cli: Any, session: Session, settings: Any, tmp_path: Path
) -> None:
    _import(cli, tmp_path)
    first = ok_json(cli("users", "invite", "ann@x.org", "--json"))["invited"][0]["link"]
    second = ok_json(cli("users", "invite", "ANN@x.org ", "--json"))["invited"][0]["link"]
    assert first != second and count(session, OneTimeToken) == 1
    try:
        consume_token(session, raw=_raw(first, settings), purpose=TokenPurpose.invitation)
        raise AssertionError("the first link still works")
    except ValidationError as exc:
        assert "not valid" in str(exc)
    user = consume_token(session, raw=_raw(second, settings), purpose=TokenPurpose.invitation)
    assert user.email == "ann@x.org"


def test_users_with_a_password_are_skipped_with_the_reason(
    cli: Any, session: Session, make: Any, tmp_path: Path
) -> None:
    _import(cli, tmp_path)
    has_password = make.user()
    result = ok(cli("users", "invite", "ann@x.org", has_password.email))
    assert f"skipped {has_password.email}: has a password" in result.stderr
    assert "reset-password" in result.stderr
    assert "ann@x.org" in result.stdout and "/set-password/" in result.stdout
    assert count(session, OneTimeToken) == 1


def test_json_lists_invited_and_skipped(cli: Any, make: Any, tmp_path: Path) -> None:
    _import(cli, tmp_path)
    other = make.user()
    data = ok_json(cli("users", "invite", "bob@x.org", other.email, "--json"))
    assert [i["email"] for i in data["invited"]] == ["bob@x.org"]
    assert "/set-password/" in data["invited"][0]["link"]
    assert [s["email"] for s in data["skipped"]] == [other.email]


def test_dry_run_makes_no_token(cli: Any, session: Session, tmp_path: Path) -> None:
    run_id = _import(cli, tmp_path)["run_id"]
    state = db_state(session)
    data = ok_json(cli("users", "invite", "--run", str(run_id), "--dry-run", "--json"))
    assert [i["email"] for i in data["invited"]] == ["ann@x.org", "bob@x.org"]
    assert all(i["link"] is None for i in data["invited"]) and data["dry_run"] is True
    assert db_state(session) == state


def test_unknown_email_refuses_everything(cli: Any, session: Session, tmp_path: Path) -> None:
    _import(cli, tmp_path)
    state = db_state(session)
    out = tmp_path / "invites.csv"
    refused(
        cli("users", "invite", "ann@x.org", "nobody@x.org", "-o", str(out)),
        "email",
        contains="nobody@x.org",
    )
    assert db_state(session) == state and not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_refused_or_unknown_run_and_bad_usage(cli: Any, session: Session, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("email,full_name,role\nbad,Ann,pupil\n", encoding="utf-8")
    assert cli("import", "users", str(tmp_path / "bad.csv")).exit_code == 1
    bad_run = session.scalars(select(ImportRun.id).where(ImportRun.status == "refused")).one()
    result = cli("users", "invite", "--run", str(bad_run), "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["errors"][0]
    assert error["field"] == "run" and "refused: only an applied run" in error["message"]
    refused(cli("users", "invite", "--run", "999999"), "run", contains="no import run 999999")
    usage_error(cli("users", "invite"))
    usage_error(cli("users", "invite", "ann@x.org", "--run", str(bad_run)))


def test_undo_still_removes_invited_users(cli: Any, session: Session, tmp_path: Path) -> None:
    run_id = _import(cli, tmp_path)["run_id"]
    ok(cli("users", "invite", "--run", str(run_id), "--json"))
    ok(cli("users", "invite", "--run", str(run_id), "--json"))
    ok(cli("import", "undo", str(run_id)))
    assert count(session, OneTimeToken) == 0
