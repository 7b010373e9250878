"""lmsctl users mfa: enable (seed and recovery codes shown once), confirm with a real code,
status, disable; the seed never appears in users show/list/export output."""

from __future__ import annotations

import json

import pyotp
from sqlalchemy import select, text

from lms_core.models import User
from tests.cli.helpers import audit_count, ok, ok_json, refused_json

EMAIL = "ada@example.org"


def make_admin(cli) -> None:
    ok(cli("users", "create", EMAIL, "--name", "Ada", "--role", "admin"))


def enroll(cli) -> dict:
    make_admin(cli)
    data = ok_json(cli("users", "mfa", "enable", EMAIL, "--json"))
    ok(cli("users", "mfa", "confirm", EMAIL, pyotp.TOTP(data["secret"]).now()))
    return data


def test_enable_prints_uri_secret_and_codes_once_then_confirm_turns_it_on(cli, session):
    make_admin(cli)
    result = ok(cli("users", "mfa", "enable", EMAIL))
    assert "otpauth://totp/LMS:ada%40example.org?secret=" in result.stdout
    assert "lmsctl users mfa confirm ada@example.org CODE" in result.stdout
    codes = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(codes) == 10
    secret = result.stdout.split("secret=", 1)[1].split("&", 1)[0]
    assert ok_json(cli("users", "mfa", "status", EMAIL, "--json"))["mfa"] == "pending"

    refused_json(cli("users", "mfa", "confirm", EMAIL, "000000", "--json"), "code")
    data = ok_json(cli("users", "mfa", "confirm", EMAIL, pyotp.TOTP(secret).now(), "--json"))
    assert (data["mfa"], data["recovery_codes_left"], data["required"]) == ("on", 10, False)
    assert audit_count(session, "user.mfa.enroll") == 1
    assert audit_count(session, "user.mfa.enable") == 1


def test_enable_json_is_one_document(cli):
    make_admin(cli)
    data = ok_json(cli("users", "mfa", "enable", EMAIL, "--json"))
    assert set(data) == {"email", "secret", "otpauth_uri", "recovery_codes", "mfa"}
    assert pyotp.parse_uri(data["otpauth_uri"]).secret == data["secret"]


def test_the_seed_is_never_in_the_database_or_any_output(cli, session, tmp_path):
    data = enroll(cli)
    secret = data["secret"]
    stored = session.execute(text("SELECT mfa_secret FROM users")).scalars().all()
    assert not any(secret in (s or "") for s in stored)
    outputs = [
        cli("users", "show", EMAIL, "--json").stdout,
        cli("users", "list", "--json").stdout,
        cli("users", "list").stdout,
        cli("export", "users").stdout,
        cli("users", "mfa", "status", EMAIL, "--json").stdout,
    ]
    out = tmp_path / "users.xlsx"
    ok(cli("export", "users", "-o", str(out)))
    for output in outputs:
        assert secret not in output and "mfa_secret" not in output
        assert "v1:" not in output
    assert secret.encode() not in out.read_bytes()
    entries = session.execute(text("SELECT before, after FROM audit_log")).all()
    assert secret not in json.dumps([list(map(str, e)) for e in entries])


def test_disable_forgets_the_seed(cli, session):
    enroll(cli)
    data = ok_json(cli("users", "mfa", "disable", EMAIL, "--json"))
    assert data["mfa"] == "off"
    session.expire_all()
    user = session.scalars(select(User).where(User.email == EMAIL)).one()
    assert user.mfa_secret is None
    assert audit_count(session, "user.mfa.disable") == 1
    refused_json(cli("users", "mfa", "disable", EMAIL, "--json"), "email", contains="not set up")


def test_a_second_enable_while_on_is_refused(cli):
    enroll(cli)
    refused_json(
        cli("users", "mfa", "enable", EMAIL, "--json"), "email", contains="disable it first"
    )


def test_a_learner_cannot_see_or_change_someone_elses_mfa(cli):
    enroll(cli)
    ok(cli("users", "create", "sam@example.org", "--name", "Sam"))
    for args in (["status", EMAIL], ["disable", EMAIL], ["enable", EMAIL]):
        refused_json(cli("users", "mfa", *args, "--json", as_="sam@example.org"), "as")
    # their own, yes
    assert (
        ok_json(cli("users", "mfa", "status", "sam@example.org", "--json", as_="sam@example.org"))[
            "mfa"
        ]
        == "off"
    )


def test_the_qr_code_for_a_terminal_is_drawn_from_the_uri(capsys):
    from lmsctl.commands.users_mfa import _qr

    _qr("otpauth://totp/LMS:ada%40example.org?secret=JBSWY3DPEHPK3PXP&issuer=LMS")
    drawn = capsys.readouterr().out
    assert len(drawn.splitlines()) > 10
    assert set(drawn) <= set(" \n▀▄█\x1b[0123456789;m")


def test_confirm_asks_for_the_code_when_it_is_left_out(cli):
    make_admin(cli)
    data = ok_json(cli("users", "mfa", "enable", EMAIL, "--json"))
    code = pyotp.TOTP(data["secret"]).now()
    result = ok(cli("users", "mfa", "confirm", EMAIL, input=code + "\n"))
    assert "Code from the authenticator app" in result.output
    assert code not in result.output  # not echoed
    assert ok_json(cli("users", "mfa", "status", EMAIL, "--json"))["mfa"] == "on"
