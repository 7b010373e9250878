"""lmsctl demo: seed (idempotent) and generate (synthetic data at scale)."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from lms_core.models import Course, Enrollment, Lesson, User
from lms_core.ops.demo import DEMO_COURSES, DEMO_USERS
from lmsctl.main import app
from lmsctl.runtime import Runtime
from tests.cli.helpers import audit_count, count, db_state, ok, ok_json, refused, refused_json
from tests.conftest import cheap_settings


def test_seed_creates_the_demo_school(cli, session, hasher):
    data = ok_json(cli("demo", "seed", "--json"))

    assert data["unchanged"] == []
    assert f"user {DEMO_USERS[0][0]}" in data["created"]
    assert {u["email"] for u in data["users"]} == {email for email, *_ in DEMO_USERS}
    assert count(session, User) == len(DEMO_USERS)
    assert set(session.scalars(select(Course.slug))) == set(DEMO_COURSES)
    assert count(session, Course, Course.is_published.is_(True)) == len(DEMO_COURSES)
    # + the homework lesson that the assignments seed adds
    assert count(session, Lesson) == sum(len(c["lessons"]) for c in DEMO_COURSES.values()) + 1
    assert count(session, Enrollment) == len(DEMO_COURSES)
    for email, _, role, password in DEMO_USERS:
        user = session.scalars(select(User).where(User.email == email)).one()
        assert user.role == role.value
        assert hasher.verify(password, user.password_hash)[0]


def test_seed_twice_creates_nothing_the_second_time(cli, session):
    first = ok_json(cli("demo", "seed", "--json"))
    state, audits = db_state(session), audit_count(session)

    second = ok_json(cli("demo", "seed", "--json"))

    assert second["created"] == []
    assert sorted(second["unchanged"]) == sorted(
        what
        for what in first["created"]
        if what.split()[0] in {"user", "course", "enrollment", "certificate", "quiz", "assignment"}
    )
    assert audit_count(session) == audits
    assert db_state(session) == state


def test_seed_prints_the_logins(cli):
    out = ok(cli("demo", "seed")).stdout

    assert out.startswith("demo seed: 19 created, 0 already there")
    for email, _, _, password in DEMO_USERS:
        assert email in out and password in out
    again = ok(cli("demo", "seed")).stdout
    assert again.startswith("demo seed: 0 created, 11 already there")


def test_seed_keeps_existing_users(cli, make, session):
    make.user("student", email=DEMO_USERS[2][0], name="Someone Else")

    data = ok_json(cli("demo", "seed", "--json"))

    assert f"user {DEMO_USERS[2][0]}" in data["unchanged"]
    assert (
        session.scalars(select(User.full_name).where(User.email == DEMO_USERS[2][0])).one()
        == "Someone Else"
    )


def _production_cli(settings, session_factory, *args):
    prod = cheap_settings(
        settings.database_url,
        settings.files_dir,
        environment="production",
        secret_key="x" * 8 + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6",
        public_base_url="https://lms.example.org",
    )
    runtime = Runtime(settings=prod, session_factory=session_factory)
    return CliRunner().invoke(app, list(args), obj=runtime)


def test_seed_and_generate_are_refused_in_production(settings, session_factory, unchanged):
    with unchanged():
        result = _production_cli(settings, session_factory, "demo", "seed")
    refused(result, "environment", contains="refused in production")
    with unchanged():
        result = _production_cli(
            settings,
            session_factory,
            "demo",
            "generate",
            "--users",
            "1",
            "--courses",
            "1",
            "--enrollments",
            "1",
            "--json",
        )
    refused_json(result, "environment")


def test_generate_creates_the_rows_asked_for(cli, session):
    before = {m: count(session, m) for m in (User, Course, Lesson, Enrollment)}

    data = ok_json(
        cli(
            "demo",
            "generate",
            "--users",
            "50",
            "--courses",
            "3",
            "--enrollments",
            "60",
            "--seed",
            "7",
            "--json",
        )
    )

    assert (
        data["users"],
        data["instructors"],
        data["courses"],
        data["lessons"],
        data["enrollments"],
    ) == (50, 1, 3, 15, 60)
    assert data["seconds"] >= 0 and data["tag"]
    after = {m: count(session, m) for m in (User, Course, Lesson, Enrollment)}
    assert after[User] - before[User] == 51
    assert after[Course] - before[Course] == 3
    assert after[Lesson] - before[Lesson] == 15
    assert after[Enrollment] - before[Enrollment] == 60
    tag = data["tag"]
    assert (
        count(session, User, User.email.like(f"synthetic-{tag}-%"), User.password_hash.is_(None))
        == 51
    )
    assert audit_count(session, "demo.generate") == 1


def test_generate_twice_uses_a_new_tag(cli, session):
    first = ok_json(
        cli("demo", "generate", "--users", "2", "--courses", "1", "--enrollments", "2", "--json")
    )
    second = ok_json(
        cli("demo", "generate", "--users", "2", "--courses", "1", "--enrollments", "2", "--json")
    )

    assert first["tag"] != second["tag"]
    assert count(session, Enrollment) == 4


def test_generate_prints_a_summary_and_no_progress_bar_on_stdout(cli):
    result = ok(cli("demo", "generate", "--users", "5", "--courses", "1", "--enrollments", "3"))

    # Exactly the summary line: the progress bar (on stderr, and transient) leaves nothing here.
    assert result.stdout.startswith(
        "generated 5 users, 1 instructors, 1 courses, 5 lessons, 3 enrollments in "
    )
    assert result.stdout.count("\n") == 1


def test_generate_json_is_one_document(cli):
    result = ok(
        cli("demo", "generate", "--users", "5", "--courses", "1", "--enrollments", "3", "--json")
    )

    assert json.loads(result.stdout)["users"] == 5
    assert "generated 5 users" in result.stderr


def test_generate_more_enrollments_than_pairs_is_refused(cli, unchanged):
    with unchanged():
        result = cli("demo", "generate", "--users", "2", "--courses", "1", "--enrollments", "3")
    refused(result, "enrollments", contains="distinct enrollments")
    with unchanged():
        result = cli(
            "demo", "generate", "--users", "2", "--courses", "1", "--enrollments", "3", "--json"
        )
    assert refused_json(result, "enrollments")["value"] == 3


def test_generate_negative_counts_are_usage_errors(cli, unchanged):
    with unchanged():
        result = cli("demo", "generate", "--users", "-1")
    assert result.exit_code == 2
    assert "--users" in result.stderr


def test_generate_dry_run_reports_the_counts_and_writes_nothing(cli, unchanged):
    with unchanged():
        result = cli(
            "demo",
            "generate",
            "--users",
            "40",
            "--courses",
            "21",
            "--enrollments",
            "50",
            "--dry-run",
            "--json",
        )
    plan = ok_json(result)
    assert {k: plan[k] for k in ("users", "instructors", "courses", "lessons", "enrollments")} == {
        "users": 40,
        "instructors": 1,
        "courses": 21,
        "lessons": 105,
        "enrollments": 50,
    }
    assert plan["dry_run"] is True


def test_generate_dry_run_still_refuses_impossible_counts(cli, unchanged):
    with unchanged():
        result = cli(
            "demo", "generate", "--users", "2", "--courses", "1", "--enrollments", "3", "--dry-run"
        )
    refused(result, "enrollments", contains="distinct enrollments")
