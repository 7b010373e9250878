"""lmsctl init and lmsctl doctor, on a scratch database of each test's own."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lms_core.ops.schema import head_revision
from lms_core.security import PasswordHasher
from lmsctl.main import app
from lmsctl.runtime import Runtime
from tests.cli.helpers import ok, ok_json, refused, refused_json, usage_error
from tests.conftest import cheap_settings

pytestmark = pytest.mark.scratch

HEAD = head_revision()
ADMIN = "root@school.example"
STRONG = "Adm1n-Staple-Battery"


def admin_hash(scratch, email: str = ADMIN) -> str | None:
    return scratch.scalar(
        "SELECT password_hash FROM users WHERE email = :e AND role = 'admin'", e=email
    )


# --- init ---------------------------------------------------------------------------------------


def test_init_migrates_and_creates_the_admin_then_is_safe_to_run_again(scratch):
    result = ok(
        scratch(
            "init",
            "--admin-email",
            ADMIN,
            "--admin-name",
            "Root",
            "--password-stdin",
            input=f"{STRONG}\n",
        )
    )

    assert f"at {HEAD} (was empty)" in result.stdout
    assert f"admin {ADMIN} created" in result.stdout
    assert scratch.files_dir.is_dir()
    hashed = admin_hash(scratch)
    assert PasswordHasher.from_settings(scratch.runtime().get_settings()).verify(STRONG, hashed)[0]
    assert scratch.scalar("SELECT full_name FROM users WHERE email = :e", e=ADMIN) == "Root"
    assert scratch.scalar("SELECT count(*) FROM audit_log WHERE action = 'user.create'") == 1

    again = ok(
        scratch("init", "--admin-email", ADMIN, "--password-stdin", input="Other-Passw0rd-9\n")
    )

    assert f"admin {ADMIN} already exists" in again.stdout
    assert f"at {HEAD} (was {HEAD})" in again.stdout
    assert admin_hash(scratch) == hashed  # the password was not replaced
    assert scratch.scalar("SELECT count(*) FROM users") == 1


def test_init_json(scratch):
    first = ok_json(
        scratch("init", "--admin-email", ADMIN, "--password-stdin", "--json", input=f"{STRONG}\n")
    )

    assert first["before"] is None and first["current"] == HEAD
    assert first["admin"] == {"email": ADMIN, "created": True}
    assert first["files_dir"] == str(scratch.files_dir)

    second = ok_json(
        scratch("init", "--admin-email", ADMIN, "--password-stdin", "--json", input=f"{STRONG}\n")
    )

    assert second["before"] == HEAD
    assert second["admin"] == {"email": ADMIN, "created": False}


def test_init_without_an_admin(scratch):
    data = ok_json(scratch("init", "--json"))

    assert data["admin"] is None and data["current"] == HEAD
    assert scratch.scalar("SELECT count(*) FROM users") == 0


def test_init_with_a_password_file(scratch, tmp_path):
    secret = tmp_path / "admin_pw"
    secret.write_text(f"{STRONG}\n", encoding="utf-8")

    ok(scratch("init", "--admin-email", ADMIN, "--password-file", str(secret)))

    assert admin_hash(scratch)


def test_init_prompts_for_the_password(scratch):
    result = ok(scratch("init", "--admin-email", ADMIN, "--json", input=f"{STRONG}\n{STRONG}\n"))

    assert admin_hash(scratch)
    assert STRONG not in result.output
    assert result.stdout.lstrip().startswith("{")  # the prompt went to stderr


def test_init_with_a_weak_password_creates_no_admin(scratch):
    refused(scratch("init", "--admin-email", ADMIN, "--password-stdin", input="weak\n"), "password")

    assert scratch.scalar("SELECT count(*) FROM users") == 0
    assert scratch.scalar("SELECT count(*) FROM audit_log") == 0
    refused_json(
        scratch("init", "--admin-email", ADMIN, "--password-stdin", "--json", input="weak\n"),
        "password",
    )


def test_init_with_a_bad_admin_email_is_refused(scratch):
    refused(
        scratch("init", "--admin-email", "not-an-email", "--password-stdin", input=f"{STRONG}\n"),
        "email",
    )

    assert scratch.scalar("SELECT count(*) FROM users") == 0


def test_init_with_an_existing_non_admin_says_so(scratch):
    ok(scratch("init"))
    ok(scratch("users", "create", "sam@school.example", "--name", "Sam"))

    result = scratch(
        "init", "--admin-email", "sam@school.example", "--password-stdin", input=f"{STRONG}\n"
    )

    refused(result, "admin_email", contains="not an admin")
    assert scratch.scalar("SELECT role FROM users WHERE email = 'sam@school.example'") == "student"


def test_init_with_files_dir_that_cannot_be_created_is_refused(scratch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")

    result = scratch("init", files_dir=blocker / "files")

    refused(result, "files_dir", contains="cannot create")


def test_init_password_file_must_exist(scratch, tmp_path):
    usage_error(
        scratch("init", "--admin-email", ADMIN, "--password-file", str(tmp_path / "nope")),
        "--password-file",
    )


# --- doctor -------------------------------------------------------------------------------------


def test_doctor_fails_before_init_and_passes_after(scratch):
    before = scratch("doctor")
    assert before.exit_code == 1
    assert "Traceback" not in before.output
    assert "migrations" in before.stdout
    assert (
        before.stderr.strip()
        == "error: migrations: database is empty: initialise it (run: lmsctl init)"
    )

    ok(scratch("init"))

    after = ok(scratch("doctor"))
    for check in ("settings", "database", "migrations", "files_dir"):
        assert check in after.stdout
    assert after.stderr == ""


def test_doctor_json(scratch):
    failing = scratch("doctor", "--json")
    assert failing.exit_code == 1

    data = json.loads(failing.stdout)
    assert data["ok"] is False
    assert {c["check"]: c["ok"] for c in data["checks"]} == {
        "settings": True,
        "database": True,
        "migrations": False,
        "files_dir": True,
    }

    ok(scratch("db", "upgrade"))

    data = ok_json(scratch("doctor", "--json"))
    assert data["ok"] is True
    assert [c["check"] for c in data["checks"]] == [
        "settings",
        "database",
        "migrations",
        "files_dir",
    ]
    assert all(c["ok"] for c in data["checks"])
    assert {c["check"]: c["detail"] for c in data["checks"]}["migrations"] == f"at head {HEAD}"


def test_doctor_reports_an_unwritable_files_dir(scratch, tmp_path):
    ok(scratch("init"))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")

    result = scratch("doctor", files_dir=blocker)

    assert result.exit_code == 1
    assert result.stderr.startswith("error: files_dir:")


def test_doctor_reports_unsafe_production_settings(scratch):
    ok(scratch("init"))

    result = scratch("doctor", "--json", environment="production")

    assert result.exit_code == 1

    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["settings"]["ok"] is False
    assert "secret_key" in checks["settings"]["detail"]


def test_doctor_reports_an_unreachable_database(tmp_path):
    settings = cheap_settings("postgresql+psycopg2://nobody@127.0.0.1:1/none", tmp_path / "files")

    result = CliRunner().invoke(app, ["doctor", "--json"], obj=Runtime(settings=settings))

    assert result.exit_code == 1

    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["database"]["ok"] is False and "unreachable" in checks["database"]["detail"]
    assert "migrations" not in checks


def test_doctor_wait_must_not_be_negative(scratch):
    usage_error(scratch("doctor", "--wait", "-1"), "--wait")
