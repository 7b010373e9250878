"""``doctor`` warns about stored e-mail domains that mix Latin with look-alike letters.

New addresses like that are refused (tests/cli/test_bidi_cli.py); these were stored before the
rule, or by hand, so the test writes them with SQL, as such a database would hold them.
"""

from __future__ import annotations

import json

from sqlalchemy import text

from tests.cli.helpers import ok, refused

ADMIN = "admin@school.example"
STRONG = "Correct-Horse-Battery-9"
LOOKALIKE = "sch\u043eol.example"  # a Cyrillic o (U+043E) in a Latin label


def _store(scratch, email: str) -> None:
    with scratch.engine() as engine, engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET email = :email WHERE email = :old"),
            {"email": email, "old": "sam@school.example"},
        )


def test_doctor_warns_about_a_stored_look_alike_domain(scratch):
    ok(scratch("init", "--admin-email", ADMIN, "--password-stdin", input=f"{STRONG}\n"))
    ok(scratch("users", "create", "sam@school.example", "--name", "Sam"))
    clean = json.loads(ok(scratch("doctor", "--json")).stdout)
    assert "email_domains" not in [c["check"] for c in clean["checks"]]

    refused(scratch("users", "create", f"eve@{LOOKALIKE}", "--name", "Eve"), "email")
    _store(scratch, f"sam@{LOOKALIKE}")

    result = scratch("doctor")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "warning: email_domains: 1 user(s)" in result.stderr
    assert LOOKALIKE in result.stderr
    data = json.loads(ok(scratch("doctor", "--json")).stdout)
    check = {c["check"]: c for c in data["checks"]}["email_domains"]
    assert check["ok"] is True and check["warning"] is True
    assert f"{LOOKALIKE} (1)" in check["detail"]


def test_doctor_sees_a_look_alike_stored_as_punycode_and_not_a_real_idn(scratch):
    ok(scratch("init", "--admin-email", ADMIN, "--password-stdin", input=f"{STRONG}\n"))
    ok(scratch("users", "create", "sam@school.example", "--name", "Sam"))
    _store(scratch, "sam@" + LOOKALIKE.encode("idna").decode("ascii"))
    ok(
        scratch(
            "users",
            "create",
            "ivan@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
            "--name",
            "Ivan",
        )
    )
    ok(scratch("users", "create", "jo@ex\u00e4mple.org", "--name", "Jo"))

    data = json.loads(ok(scratch("doctor", "--json")).stdout)
    check = {c["check"]: c for c in data["checks"]}["email_domains"]
    assert "xn--" in check["detail"] and "(1)" in check["detail"]
    assert "\u0440\u0444" not in check["detail"] and "ex\u00e4mple" not in check["detail"]


def test_the_domain_is_after_the_last_at_and_shown_escaped(scratch):
    """The same domain on SQLite and PostgreSQL, and printed so it cannot reorder the report."""
    ok(scratch("init", "--admin-email", ADMIN, "--password-stdin", input=f"{STRONG}\n"))
    ok(scratch("users", "create", "sam@school.example", "--name", "Sam"))
    _store(scratch, f'"sam@home"@{LOOKALIKE}\u202e')

    data = json.loads(ok(scratch("doctor", "--json")).stdout)
    detail = {c["check"]: c for c in data["checks"]}["email_domains"]["detail"]
    assert f"{LOOKALIKE}\\u202e (1)" in detail
    assert "\u202e" not in detail and "home" not in detail
