"""lmsctl users: create, list, show, update, set-role, deactivate, reactivate, unlock,
reset-password, delete."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lms_core.models import AuditEntry, OneTimeToken, User, utcnow
from tests.cli.helpers import (
    audit_count,
    count,
    ok,
    ok_json,
    refused,
    refused_json,
    usage_error,
)
from tests.factories import PASSWORD

STRONG = "Tr0ubadour-Horse-42"
OTHER_STRONG = "Sec0nd-Staple-Battery"
USER_KEYS = {
    "email",
    "full_name",
    "role",
    "is_active",
    "external_id",
    "last_login_at",
    "last_activity_at",
    "deleted_at",
    "created_at",
    "updated_at",
}


def fresh(session: Session, email: str) -> User:
    """The user as the database has it now (the CLI changed it through another session)."""
    session.expire_all()
    return session.scalars(select(User).where(User.email == email)).one()


# --- create -------------------------------------------------------------------------------------


def test_create_without_password_says_the_user_cannot_log_in(cli, session):
    result = ok(cli("users", "create", "Ada@Example.org", "--name", "Ada Lovelace"))

    assert (
        result.stdout.strip() == "created student ada@example.org (no password: cannot log in yet)"
    )
    user = fresh(session, "ada@example.org")
    assert (user.full_name, user.role, user.password_hash) == ("Ada Lovelace", "student", None)
    assert audit_count(session, "user.create") == 1


def test_create_json_prints_the_user_and_never_the_hash(cli):
    data = ok_json(
        cli(
            "users",
            "create",
            "ada@example.org",
            "--name",
            "Ada",
            "--role",
            "instructor",
            "--external-id",
            "SIS-1",
            "--password-stdin",
            "--json",
            input=f"{STRONG}\n",
        )
    )

    assert set(data) >= USER_KEYS
    assert data["email"] == "ada@example.org"
    assert data["role"] == "instructor"
    assert data["external_id"] == "SIS-1"
    assert data["created"] is True
    assert "password" not in data and "password_hash" not in data


def test_create_json_sends_the_human_message_to_stderr(cli):
    result = ok(cli("users", "create", "ada@example.org", "--name", "Ada", "--json"))

    assert "created student ada@example.org" in result.stderr


def test_create_with_password_stdin_stores_a_hash_that_verifies(cli, session, hasher):
    ok(
        cli(
            "users",
            "create",
            "ada@example.org",
            "--name",
            "Ada",
            "--password-stdin",
            input=f"{STRONG}\nignored second line\n",
        )
    )

    user = fresh(session, "ada@example.org")
    assert user.password_hash and STRONG not in user.password_hash
    assert hasher.verify(STRONG, user.password_hash)[0]


def test_create_with_password_file_reads_its_first_line(cli, session, hasher, tmp_path):
    secret = tmp_path / "pw.txt"
    secret.write_text(f"{STRONG}\nnot this\n", encoding="utf-8")

    ok(cli("users", "create", "ada@example.org", "--name", "Ada", "--password-file", str(secret)))

    assert hasher.verify(STRONG, fresh(session, "ada@example.org").password_hash)[0]


def test_create_with_prompted_password(cli, session, hasher):
    result = ok(
        cli(
            "users",
            "create",
            "ada@example.org",
            "--name",
            "Ada",
            "--prompt-password",
            input=f"{STRONG}\n{STRONG}\n",
        )
    )

    assert STRONG not in result.output
    assert hasher.verify(STRONG, fresh(session, "ada@example.org").password_hash)[0]


def test_create_with_a_missing_password_file_is_a_usage_error(cli, unchanged, tmp_path):
    with unchanged():
        result = cli(
            "users",
            "create",
            "ada@example.org",
            "--name",
            "Ada",
            "--password-file",
            str(tmp_path / "nope.txt"),
        )
    usage_error(result, "--password-file")


def test_create_with_an_unreadable_password_file_is_refused(cli, unchanged, tmp_path):
    secret = tmp_path / "pw.bin"
    secret.write_bytes(b"\xff\xfe\x00")

    with unchanged():
        result = cli(
            "users", "create", "ada@example.org", "--name", "Ada", "--password-file", str(secret)
        )
    refused(result, "password_file", contains="cannot read")


def test_create_duplicate_email_is_refused_whatever_its_case(cli, make, unchanged):
    make.user(email="ada@example.org")

    with unchanged():
        result = cli("users", "create", "ADA@example.org", "--name", "Other Ada")
    refused(result, "email", contains="already exists")


def test_create_duplicate_email_json(cli, make, unchanged):
    make.user(email="ada@example.org")

    with unchanged():
        result = cli("users", "create", "ada@example.org", "--name", "Other", "--json")
    error = refused_json(result, "email", contains="already exists")
    assert error["value"] == "ada@example.org"


def test_create_duplicate_of_a_soft_deleted_user_says_how_to_get_it_back(cli, make, unchanged):
    user = make.user()
    ok(cli("users", "delete", user.email))

    with unchanged():
        result = cli("users", "create", user.email, "--name", "Again")
    refused(result, "email", contains="reactivate or purge")


def test_create_update_existing_updates_name_role_and_password(cli, make, session, hasher):
    user = make.user(email="ada@example.org")

    data = ok_json(
        cli(
            "users",
            "create",
            "ada@example.org",
            "--name",
            "Ada King",
            "--role",
            "instructor",
            "--update-existing",
            "--password-stdin",
            "--json",
            input=f"{STRONG}\n",
        )
    )

    assert data["created"] is False
    changed = fresh(session, user.email)
    assert (changed.full_name, changed.role) == ("Ada King", "instructor")
    assert hasher.verify(STRONG, changed.password_hash)[0]
    assert audit_count(session, "user.update") == 1


@pytest.mark.parametrize(
    "email", ["not-an-email", "ada@", "@example.org", "ada@@example.org", "  "]
)
def test_create_bad_email_is_refused(cli, unchanged, email):
    with unchanged():
        result = cli("users", "create", email, "--name", "Ada")
    refused(result, "email")


def test_create_bad_email_json(cli, unchanged):
    with unchanged():
        result = cli("users", "create", "not-an-email", "--name", "Ada", "--json")
    error = refused_json(result, "email", contains="not a valid e-mail")
    assert error["value"] == "not-an-email"


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1!", "at least 10 characters"),
        ("onlyletterslong", "mix letters"),
        ("password123", "most common"),
        ("ada-is-9-great", "e-mail name"),
        ("", "at least 10 characters"),
    ],
)
def test_create_weak_password_is_refused(cli, unchanged, password, why):
    with unchanged():
        result = cli(
            "users",
            "create",
            "ada@example.org",
            "--name",
            "Ada",
            "--password-stdin",
            input=f"{password}\n",
        )
    line = refused(result, "password", contains=why)
    assert password not in line or not password


def test_create_weak_password_json(cli, unchanged):
    with unchanged():
        result = cli(
            "users",
            "create",
            "ada@example.org",
            "--name",
            "Ada",
            "--password-stdin",
            "--json",
            input="weak\n",
        )
    error = refused_json(result, "password", contains="at least")
    assert error["value"] is None  # the password itself is never echoed back


def test_create_unknown_role_is_refused(cli, unchanged):
    with unchanged():
        result = cli("users", "create", "ada@example.org", "--name", "Ada", "--role", "wizard")
    refused(result, "role", contains="admin, instructor, student")


def test_create_unknown_role_json(cli, unchanged):
    with unchanged():
        result = cli(
            "users", "create", "ada@example.org", "--name", "Ada", "--role", "wizard", "--json"
        )
    assert refused_json(result, "role")["value"] == "wizard"


def test_create_reports_every_problem_at_once(cli, unchanged):
    with unchanged():
        result = cli("users", "create", "bad", "--name", " ", "--role", "wizard")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["email", "full_name", "role"]

    with unchanged():
        result = cli("users", "create", "bad", "--name", " ", "--role", "wizard", "--json")
    refused_json(result, "email")
    assert [e["field"] for e in json.loads(result.stdout)["errors"]] == [
        "email",
        "full_name",
        "role",
    ]


def test_create_taken_external_id_is_refused(cli, make, unchanged):
    make.user(email="first@example.org", external_id="SIS-1")

    with unchanged():
        result = cli(
            "users", "create", "second@example.org", "--name", "B", "--external-id", "SIS-1"
        )
    refused(result, "external_id", contains="first@example.org")


def test_create_without_name_is_a_usage_error(cli, unchanged):
    with unchanged():
        result = cli("users", "create", "ada@example.org")
    usage_error(result, "--name")


def test_create_as_a_student_is_refused(cli, make, unchanged):
    student = make.user("student")

    with unchanged():
        result = cli("users", "create", "ada@example.org", "--name", "Ada", as_=student.email)
    refused(result, None, contains="only an administrator may create users")


def test_as_an_unknown_user_is_refused(cli, unchanged):
    with unchanged():
        result = cli("users", "create", "ada@example.org", "--name", "Ada", as_="ghost@example.org")
    refused(result, "as", contains="ghost@example.org")


def test_as_an_unknown_user_json(cli, unchanged):
    with unchanged():
        result = cli(
            "users", "create", "ada@example.org", "--name", "Ada", "--json", as_="ghost@example.org"
        )
    assert refused_json(result, "as")["value"] == "ghost@example.org"


def test_as_a_deactivated_user_is_refused(cli, make, unchanged):
    admin = make.user("admin")
    make.user("admin")  # so the first one is not the last admin
    ok(cli("users", "deactivate", admin.email))

    with unchanged():
        result = cli("users", "list", as_=admin.email)
    refused(result, "as", contains="deactivated")


def test_global_as_option_acts_with_that_users_rights(cli, make, unchanged):
    student = make.user("student")

    with unchanged():
        result = cli("--as", student.email, "users", "list")
    refused(result, None, contains=f"acting as {student.email}")
    admin = make.user("admin")
    ok(cli("--as", admin.email, "users", "list"))


def test_audit_log_names_the_actor(cli, make, session):
    admin = make.user("admin")

    ok(cli("users", "create", "ada@example.org", "--name", "Ada", as_=admin.email))

    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.create").order_by(AuditEntry.id.desc())
    ).first()
    assert (entry.actor_id, entry.actor_label) == (admin.id, admin.email)


# --- list ---------------------------------------------------------------------------------------


def test_list_json_is_an_array_of_users_keyed_by_column(cli, make):
    make.user("student", email="zoe@example.org")
    make.user("instructor", email="quinn@example.org")

    data = ok_json(cli("users", "list", "--json"))

    assert [row["email"] for row in data] == ["quinn@example.org", "zoe@example.org"]
    for row in data:
        assert set(row) >= USER_KEYS
        assert "password_hash" not in row
    assert data[0]["role"] == "instructor"
    assert data[0]["is_active"] is True


def test_list_empty_json_is_an_empty_array(cli):
    assert ok_json(cli("users", "list", "--json")) == []


def test_list_table_shows_the_columns_and_a_footer(cli, make):
    make.user("student", email="zoe@example.org", name="Zoe")

    done = ok(cli("users", "list"))

    header, row = done.stdout.splitlines()  # not a terminal: a header line, tab-separated rows
    assert header.split("\t")[:4] == ["email", "full_name", "role", "is_active"]
    assert row.split("\t")[:2] == ["zoe@example.org", "Zoe"]
    assert done.stderr == "1 user(s)\n"


def test_list_filters(cli, make):
    make.user("student", email="sam.smith@example.org", name="Sam Smith")
    make.user("student", email="kim@example.org", name="Kim Jones")
    teacher = make.user("instructor", email="ivan@example.org", name="Ivan Smith")
    gone = make.user("student", email="gone@example.org")
    ok(cli("users", "delete", gone.email))
    ok(cli("users", "deactivate", teacher.email))

    def emails(*args):
        return [row["email"] for row in ok_json(cli("users", "list", "--json", *args))]

    assert emails("--role", "student") == ["kim@example.org", "sam.smith@example.org"]
    assert emails("--search", "SMITH") == ["ivan@example.org", "sam.smith@example.org"]
    assert emails("-s", "kim") == ["kim@example.org"]
    assert emails("--inactive") == ["ivan@example.org"]
    assert emails("--active") == ["kim@example.org", "sam.smith@example.org"]
    assert "gone@example.org" not in emails()
    assert "gone@example.org" in emails("--deleted")


def test_list_pages(cli, make):
    for letter in "xyz":
        make.user(email=f"user-{letter}@example.org")

    second = cli("users", "list", "--per-page", "2", "--page", "2", "--json")
    assert [r["email"] for r in ok_json(second)["items"]] == ["user-z@example.org"]
    assert "page 2 of 2 (3 user(s)); last page" in second.stderr
    assert ok_json(cli("users", "list", "--per-page", "2", "--page", "9", "--json"))["items"] == []
    first = ok(cli("users", "list", "--per-page", "2"))
    assert "page 1 of 2 (3 user(s)); next: --page 2" in first.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--per-page", "0"],
        ["--page", "0"],
        ["--per-page", "x"],
        ["--per-page", "10001"],
        ["--bogus"],
    ],
)
def test_list_bad_options_are_usage_errors(cli, args):
    usage_error(cli("users", "list", *args))


def test_list_unknown_role_filter_is_refused(cli):
    refused(cli("users", "list", "--role", "wizard"), "role")
    refused_json(cli("users", "list", "--role", "wizard", "--json"), "role")


def test_list_as_a_non_admin_is_refused(cli, make):
    teacher = make.user("instructor")

    refused(cli("users", "list", as_=teacher.email), "as", contains="only an administrator")
    refused_json(cli("users", "list", "--json", as_=teacher.email), "as")


# --- show ---------------------------------------------------------------------------------------


def test_show_json(cli, make):
    user = make.user("instructor", email="ada@example.org", name="Ada")

    data = ok_json(cli("users", "show", "ADA@example.org", "--json"))

    assert data["id"] == user.id
    assert (data["email"], data["full_name"], data["role"]) == (
        "ada@example.org",
        "Ada",
        "instructor",
    )
    assert "password_hash" not in data


def test_show_table(cli, make):
    make.user(email="ada@example.org", name="Ada")

    out = ok(cli("users", "show", "ada@example.org")).stdout

    assert "full_name" in out and "Ada" in out
    assert "password" not in out


def test_show_unknown_user_exits_1(cli):
    refused(cli("users", "show", "ghost@example.org"), "email", contains="no user")
    assert (
        refused_json(cli("users", "show", "ghost@example.org", "--json"), "email")["value"]
        == "ghost@example.org"
    )


def test_show_yourself_but_not_others(cli, make):
    me, other = make.user(), make.user()

    assert ok_json(cli("users", "show", me.email, "--json", as_=me.email))["email"] == me.email
    refused(
        cli("users", "show", other.email, as_=me.email),
        None,
        contains="only an administrator or the user",
    )


def test_show_soft_deleted_user_to_admins(cli, make):
    user = make.user()
    ok(cli("users", "delete", user.email))

    assert ok_json(cli("users", "show", user.email, "--json"))["deleted_at"] is not None


# --- update -------------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields(cli, make, session):
    user = make.user(email="ada@example.org", name="Ada")

    data = ok_json(
        cli(
            "users",
            "update",
            user.email,
            "--name",
            "Ada King",
            "--bio",
            "Countess",
            "--avatar-url",
            "https://img.example.org/ada.png",
            "--json",
        )
    )

    assert (data["full_name"], data["bio"], data["avatar_url"]) == (
        "Ada King",
        "Countess",
        "https://img.example.org/ada.png",
    )
    assert fresh(session, user.email).role == "student"
    assert audit_count(session, "user.update") == 1


def test_update_email(cli, make, session):
    user = make.user(email="ada@example.org")

    result = ok(cli("users", "update", user.email, "--email", "Ada.King@Example.org"))

    assert result.stdout.strip() == "updated ada.king@example.org"
    assert fresh(session, "ada.king@example.org").id == user.id


def test_update_to_a_taken_email_is_refused(cli, make, unchanged):
    user = make.user()
    other = make.user()

    with unchanged():
        result = cli("users", "update", user.email, "--email", other.email)
    refused(result, "email", contains="already exists")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--email", "nope"], "email"),
        (["--avatar-url", "ftp://x"], "avatar_url"),
        (["--name", "   "], "full_name"),
        ([], "fields"),
    ],
)
def test_update_bad_values_are_refused(cli, make, unchanged, args, field):
    user = make.user()

    with unchanged():
        result = cli("users", "update", user.email, *args)
    refused(result, field)
    with unchanged():
        result = cli("users", "update", user.email, *args, "--json")
    refused_json(result, field)


def test_update_unknown_user_is_refused(cli, unchanged):
    with unchanged():
        result = cli("users", "update", "ghost@example.org", "--name", "X")
    refused(result, "email", contains="no user")


def test_users_may_update_themselves_but_not_others(cli, make, unchanged, session):
    me, other = make.user(), make.user()

    ok(cli("users", "update", me.email, "--bio", "Hello", as_=me.email))
    assert fresh(session, me.email).bio == "Hello"

    with unchanged():
        result = cli("users", "update", other.email, "--bio", "Hacked", as_=me.email)
    refused(result, None, contains="only an administrator or the user")
    with unchanged():
        result = cli("users", "update", me.email, "--external-id", "X", as_=me.email)
    refused(result, None, contains="external_id")


# --- set-role -----------------------------------------------------------------------------------


def test_set_role(cli, make, session):
    user = make.user("student")

    assert (
        ok(cli("users", "set-role", user.email, "Instructor")).stdout.strip()
        == f"{user.email} is now instructor"
    )
    assert fresh(session, user.email).role == "instructor"
    assert ok_json(cli("users", "set-role", user.email, "admin", "--json"))["role"] == "admin"
    assert audit_count(session, "user.set_role") == 2


def test_set_role_unknown_role_is_refused(cli, make, unchanged):
    user = make.user()

    with unchanged():
        result = cli("users", "set-role", user.email, "wizard")
    refused(result, "role", contains="must be one of")
    with unchanged():
        result = cli("users", "set-role", user.email, "wizard", "--json")
    refused_json(result, "role")


def test_set_role_needs_a_role(cli, make):
    usage_error(cli("users", "set-role", make.user().email), "Missing argument")


def test_the_last_admin_keeps_the_role(cli, make, unchanged):
    admin = make.user("admin")

    with unchanged():
        result = cli("users", "set-role", admin.email, "student")
    refused(result, "email", contains="last active administrator")


def test_set_role_as_an_instructor_is_refused(cli, make, unchanged):
    teacher, student = make.user("instructor"), make.user()

    with unchanged():
        result = cli("users", "set-role", student.email, "admin", as_=teacher.email)
    refused(result, None, contains="only an administrator")


# --- deactivate, reactivate, unlock -------------------------------------------------------------


def test_deactivate_and_reactivate(cli, make, session):
    user = make.user()

    assert ok(cli("users", "deactivate", user.email)).stdout.strip() == f"deactivated {user.email}"
    assert fresh(session, user.email).is_active is False
    data = ok_json(cli("users", "reactivate", user.email, "--json"))
    assert data["is_active"] is True
    assert fresh(session, user.email).is_active is True
    assert audit_count(session, "user.deactivate") == audit_count(session, "user.reactivate") == 1


def test_deactivate_the_last_admin_is_refused(cli, make, unchanged):
    admin = make.user("admin")

    with unchanged():
        result = cli("users", "deactivate", admin.email, "--json")
    refused_json(result, "email", contains="last active administrator")


def test_unlock_clears_the_lockout(cli, make, session):
    user = make.user()
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_login_attempts=7, locked_until=utcnow() + timedelta(hours=1))
    )
    session.flush()

    data = ok_json(cli("users", "unlock", user.email, "--json"))

    assert (data["failed_login_attempts"], data["locked_until"]) == (0, None)
    changed = fresh(session, user.email)
    assert (changed.failed_login_attempts, changed.locked_until) == (0, None)


@pytest.mark.parametrize("action", ["deactivate", "reactivate", "unlock", "delete"])
def test_simple_actions_on_an_unknown_user_exit_1(cli, unchanged, action):
    with unchanged():
        result = cli("users", action, "ghost@example.org")
    refused(result, "email", contains="no user with e-mail ghost@example.org")
    with unchanged():
        result = cli("users", action, "ghost@example.org", "--json")
    refused_json(result, "email")


@pytest.mark.parametrize("action", ["deactivate", "reactivate", "unlock", "delete"])
def test_simple_actions_need_an_admin(cli, make, unchanged, action):
    student, other = make.user(), make.user()

    with unchanged():
        result = cli("users", action, other.email, as_=student.email)
    refused(result, None, contains="only an administrator")


# --- reset-password -----------------------------------------------------------------------------


def _lock(session: Session, user: User) -> None:
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_login_attempts=5, locked_until=utcnow() + timedelta(hours=1))
    )
    session.flush()


def test_reset_password_from_stdin_clears_lockout(cli, make, session, hasher):
    user = make.user()
    _lock(session, user)

    result = ok(cli("users", "reset-password", user.email, "--password-stdin", input=f"{STRONG}\n"))

    assert result.stdout.strip() == f"password set for {user.email}"
    changed = fresh(session, user.email)
    assert hasher.verify(STRONG, changed.password_hash)[0]
    assert not hasher.verify(PASSWORD, changed.password_hash)[0]
    assert (changed.failed_login_attempts, changed.locked_until) == (0, None)
    assert audit_count(session, "user.reset_password") == 1


def test_reset_password_from_file(cli, make, session, hasher, tmp_path):
    user = make.user()
    secret = tmp_path / "pw"
    secret.write_text(STRONG, encoding="utf-8")

    ok(cli("users", "reset-password", user.email, "--password-file", str(secret)))

    assert hasher.verify(STRONG, fresh(session, user.email).password_hash)[0]


def test_reset_password_prompts_twice(cli, make, session, hasher):
    user = make.user()

    result = ok(cli("users", "reset-password", user.email, input=f"{STRONG}\n{STRONG}\n"))

    assert STRONG not in result.output
    assert hasher.verify(STRONG, fresh(session, user.email).password_hash)[0]


def test_reset_password_prompt_keeps_json_on_stdout_clean(cli, make):
    user = make.user()

    data = ok_json(
        cli("users", "reset-password", user.email, "--json", input=f"{STRONG}\n{STRONG}\n")
    )

    assert data["email"] == user.email


def test_reset_password_prompt_mismatch_changes_nothing(cli, make, unchanged):
    user = make.user()

    with unchanged():
        result = cli("users", "reset-password", user.email, input=f"{STRONG}\n{OTHER_STRONG}\n")
    assert result.exit_code == 1
    assert "do not match" in result.stderr
    assert "Traceback" not in result.output


def test_reset_password_weak_is_refused(cli, make, unchanged):
    user = make.user()

    with unchanged():
        result = cli("users", "reset-password", user.email, "--password-stdin", input="weak\n")
    refused(result, "password", contains="at least")
    with unchanged():
        result = cli(
            "users", "reset-password", user.email, "--password-stdin", "--json", input="weak\n"
        )
    refused_json(result, "password")


def test_reset_password_unknown_user_is_refused(cli, unchanged):
    with unchanged():
        result = cli(
            "users", "reset-password", "ghost@example.org", "--password-stdin", input=f"{STRONG}\n"
        )
    refused(result, "email", contains="no user")


def test_reset_password_for_someone_else_is_refused(cli, make, unchanged):
    me, other = make.user(), make.user()

    with unchanged():
        result = cli(
            "users",
            "reset-password",
            other.email,
            "--password-stdin",
            input=f"{STRONG}\n",
            as_=me.email,
        )
    refused(result, None, contains="only an administrator or the user")


def test_reset_password_for_someone_else_is_refused_before_the_prompt(cli, make, unchanged):
    me, other = make.user(), make.user()
    with unchanged():
        result = cli("users", "reset-password", other.email, input="x\nx\n", as_=me.email)
    refused(result, None, contains="only an administrator or the user")
    assert "password" not in result.stderr.lower().split("only an administrator")[0]


def test_reset_password_token(cli, make, session):
    user = make.user()

    result = ok(cli("users", "reset-password", user.email, "--token"))
    assert f"reset token for {user.email}" in result.stdout
    data = ok_json(cli("users", "reset-password", user.email, "--token", "--json"))

    assert data["email"] == user.email and len(data["token"]) >= 32
    tokens = session.scalars(select(OneTimeToken).where(OneTimeToken.user_id == user.id)).all()
    assert len(tokens) == 2
    assert all(data["token"] != t.token_hash for t in tokens)
    assert sum(t.used_at is None for t in tokens) == 1  # the second revoked the first


def test_reset_password_token_for_someone_else_is_refused(cli, make, unchanged):
    me, other = make.user(), make.user()

    assert ok_json(cli("users", "reset-password", me.email, "--token", "--json", as_=me.email))[
        "token"
    ]
    with unchanged():
        result = cli("users", "reset-password", other.email, "--token", as_=me.email)
    refused(result, None, contains="only an administrator or the user")
    with unchanged():
        result = cli("users", "reset-password", "ghost@example.org", "--token", "--json")
    refused_json(result, "email")


# --- delete -------------------------------------------------------------------------------------


def test_delete_is_soft_and_reversible(cli, make, session):
    user = make.user()

    assert ok(cli("users", "delete", user.email)).stdout.strip() == f"deleted {user.email}"
    deleted = fresh(session, user.email)
    assert deleted.deleted_at is not None and deleted.is_active is False
    assert user.email not in [r["email"] for r in ok_json(cli("users", "list", "--json"))]
    ok(cli("users", "reactivate", user.email))
    restored = fresh(session, user.email)
    assert restored.deleted_at is None and restored.is_active is True


def test_delete_json(cli, make):
    user = make.user()

    data = ok_json(cli("users", "delete", user.email, "--json"))

    assert data["email"] == user.email and data["deleted_at"] is not None


def test_purge_with_yes_anonymises_the_user_for_good(cli, make, session):
    user = make.user(email="ada@example.org", name="Ada Lovelace", external_id="SIS-9")
    ok(cli("users", "update", user.email, "--bio", "Countess"))

    data = ok_json(cli("users", "delete", user.email, "--purge", "--yes", "--json"))

    assert data["email"] == f"deleted-{user.id}@deleted.invalid"
    session.expire_all()
    purged = session.get(User, user.id)
    assert (purged.full_name, purged.bio, purged.external_id, purged.password_hash) == (
        "Deleted user",
        None,
        None,
        None,
    )
    assert count(session, User, User.email == "ada@example.org") == 0
    for entry in session.scalars(
        select(AuditEntry).where(AuditEntry.entity_id == user.id, AuditEntry.entity_type == "users")
    ):
        assert "Ada" not in repr((entry.before, entry.after))


def test_purge_asks_for_confirmation(cli, make, session):
    user = make.user()

    result = ok(cli("users", "delete", user.email, "--purge", input="y\n"))

    assert "Purge" in result.stderr  # the question goes to stderr, not into stdout
    assert result.stdout.splitlines()[-1] == f"purged {user.email}"
    assert count(session, User, User.email == user.email) == 0


def test_purge_declined_changes_nothing(cli, make, unchanged):
    user = make.user()

    with unchanged():
        result = cli("users", "delete", user.email, "--purge", input="n\n")
    assert result.exit_code == 1
    assert "Aborted" in result.stderr
    assert "purged" not in result.stdout
    with unchanged():
        result = cli("users", "delete", user.email, "--purge")  # no answer at all
    assert result.exit_code == 1


def test_purge_confirmed_keeps_json_on_stdout_clean(cli, make):
    user = make.user()

    result = ok(cli("users", "delete", user.email, "--purge", "--json", input="y\n"))

    # CliRunner echoes the typed answer to stdout, as a terminal would show it; the rest is JSON.
    answer, _, document = result.stdout.partition("\n")
    assert answer.strip() == "y"
    assert json.loads(document)["full_name"] == "Deleted user"
    assert "Purge" in result.stderr and "Purge" not in result.stdout


def test_delete_the_last_admin_is_refused(cli, make, unchanged):
    admin = make.user("admin")

    with unchanged():
        result = cli("users", "delete", admin.email, "--purge", "--yes")
    refused(result, "email", contains="last active administrator")


def test_delete_yourself_is_refused(cli, make, unchanged):
    admin = make.user("admin")
    make.user("admin")

    with unchanged():
        result = cli("users", "delete", admin.email, as_=admin.email)
    refused(result, "email", contains="cannot delete yourself")


def test_update_existing_without_role_keeps_an_instructor_an_instructor(cli, make, session):
    teacher = make.user("instructor")
    ok(cli("users", "create", teacher.email, "--name", "Renamed", "--update-existing"))
    session.expire_all()
    assert (teacher.role, teacher.full_name) == ("instructor", "Renamed")
