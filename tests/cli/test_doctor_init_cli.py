"""lmsctl init and lmsctl doctor, on a scratch database of each test's own."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from lms_core.db import sqlite_file
from lms_core.ops.schema import head_revision
from lms_core.security import PasswordHasher
from lmsctl.commands.doctor import EXIT_EMPTY
from lmsctl.main import app
from lmsctl.runtime import Runtime
from tests.cli.helpers import ok, ok_json, refused, refused_json, usage_error
from tests.conftest import cheap_settings

pytestmark = pytest.mark.scratch

HEAD = head_revision()
ADMIN = "root@school.example"
STRONG = "Adm1n-Staple-Battery"


def assert_untouched(scratch) -> None:
    """The scratch database is as the test got it: no SQLite file at all, an empty PostgreSQL."""
    path = sqlite_file(scratch.url)
    if path is not None:
        assert not path.exists(), f"{path} was created"
        assert not path.parent.exists() or list(path.parent.iterdir()) == [], "files left"
    else:
        assert scratch.tables() == set()


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


def test_init_with_a_weak_password_leaves_the_database_as_it_was(scratch):
    """Every input is checked before the first write: no schema, no admin (no SQLite file)."""
    refused(scratch("init", "--admin-email", ADMIN, "--password-stdin", input="weak\n"), "password")

    assert_untouched(scratch)
    refused_json(
        scratch("init", "--admin-email", ADMIN, "--password-stdin", "--json", input="weak\n"),
        "password",
    )
    assert_untouched(scratch)


def test_init_with_a_bad_admin_email_is_refused(scratch):
    refused(
        scratch("init", "--admin-email", "not-an-email", "--password-stdin", input=f"{STRONG}\n"),
        "email",
    )

    assert_untouched(scratch)


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
    assert before.exit_code == EXIT_EMPTY
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
    assert failing.exit_code == EXIT_EMPTY

    data = json.loads(failing.stdout)
    assert data["ok"] is False
    assert {c["check"]: c["ok"] for c in data["checks"]} == {
        "settings": True,
        "database": True,
        "migrations": False,
        "files_dir": True,
        "mail": True,
    }

    ok(scratch("db", "upgrade"))

    data = ok_json(scratch("doctor", "--json"))
    assert data["ok"] is True
    assert [c["check"] for c in data["checks"]] == [
        "settings",
        "database",
        "migrations",
        "files_dir",
        "mail",
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


# --- doctor --wait, for a container entry point -------------------------------------------------


def test_doctor_wait_on_an_empty_database_says_run_init_with_its_own_exit_code(scratch):
    """Reachable at once and empty: no waiting, exit 3, and nothing created (no SQLite file)."""
    started = time.monotonic()
    result = scratch("doctor", "--wait", "5")

    assert result.exit_code == EXIT_EMPTY == 3, result.output
    assert time.monotonic() - started < 4
    assert result.stderr.strip() == (
        "error: migrations: database is empty: initialise it (run: lmsctl init)"
    )
    assert_untouched(scratch)
    data = json.loads(scratch("doctor", "--wait", "5", "--json").stdout)
    migrations = {c["check"]: c for c in data["checks"]}["migrations"]
    assert migrations["hint"] == {"code": "initialise_database", "params": {}}

    ok(scratch("init"))  # what the entry point does on exit 3
    ok(scratch("doctor", "--wait", "5"))


def test_doctor_exit_code_is_1_when_something_else_fails_too(scratch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")

    assert scratch("doctor", files_dir=blocker).exit_code == 1


def test_doctor_wait_on_an_unreachable_server_waits_then_fails(tmp_path):
    settings = cheap_settings("postgresql+psycopg2://nobody@127.0.0.1:1/none", tmp_path / "files")

    started = time.monotonic()
    result = CliRunner().invoke(app, ["doctor", "--wait", "2"], obj=Runtime(settings=settings))
    waited = time.monotonic() - started

    assert result.exit_code == 1
    assert 1.8 <= waited < 6, waited
    assert "error: database:" in result.stderr and "unreachable" in result.stderr


# --- --as before there are users -----------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["init"],
        ["db", "upgrade"],
        ["db", "current"],
        ["db", "downgrade", "base", "--yes"],
        ["doctor"],
    ],
    ids=" ".join,
)
def test_as_on_an_empty_database_is_refused_clearly(scratch, command):
    line = refused(scratch("--as", ADMIN, *command), "as", contains="has no users")
    assert "act as the operator" in line
    assert_untouched(scratch)


def test_as_is_checked_by_init_db_and_doctor_once_there_are_users(scratch):
    ok(scratch("init", "--admin-email", ADMIN, "--password-stdin", input=f"{STRONG}\n"))
    ok(scratch("users", "create", "sam@school.example", "--name", "Sam"))
    before = scratch.scalar("SELECT version_num FROM alembic_version")

    for command in (["init"], ["doctor"], ["db", "current"], ["db", "downgrade", "base", "--yes"]):
        refused(
            scratch("--as", "sam@school.example", *command),
            "as",
            contains="only an administrator may",
        )
    assert scratch.scalar("SELECT version_num FROM alembic_version") == before

    assert ok_json(scratch("--as", ADMIN, "db", "current", "--json"))["up_to_date"] is True
    ok(scratch("--as", ADMIN, "doctor"))
    refused(scratch("--as", "nobody@school.example", "db", "current"), "as", contains="no user")


def test_a_learners_downgrade_is_refused_before_any_question(scratch):
    ok(scratch("init", "--admin-email", ADMIN, "--password-stdin", input=f"{STRONG}\n"))
    ok(scratch("users", "create", "sam@school.example", "--name", "Sam"))
    before = scratch.scalar("SELECT version_num FROM alembic_version")
    # Without --yes, a learner who answers "y" is still refused, and is never asked.
    result = scratch("--as", "sam@school.example", "db", "downgrade", "base", input="y\n")
    refused(result, "as", contains="only an administrator may downgrade the schema")
    assert "Downgrade the database" not in result.stderr
    assert scratch.scalar("SELECT version_num FROM alembic_version") == before


def test_a_refusal_after_the_migration_rolls_the_migration_back(scratch):
    """init migrates and creates its admin in one transaction: a refusal met only inside it
    (a deleted user holds the e-mail) leaves the schema at the revision it had."""
    initial = "7615766e684a"
    ok(scratch("db", "upgrade", initial))
    tables = scratch.tables()
    with scratch.engine() as engine, engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (email, role, is_active, failed_login_attempts, full_name, "
                "deleted_at) VALUES (:e, 'student', false, 0, 'Gone', CURRENT_TIMESTAMP)"
            ),
            {"e": ADMIN},
        )

    result = scratch("init", "--admin-email", ADMIN, "--password-stdin", input=f"{STRONG}\n")

    refused(result, "email", contains="already exists (deleted")
    assert scratch.scalar("SELECT version_num FROM alembic_version") == initial
    assert scratch.tables() == tables
    assert scratch.scalar("SELECT count(*) FROM users") == 1
