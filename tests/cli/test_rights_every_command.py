"""Every registered lmsctl command, run as a learner (``--as``), against the rules table.

The table (:data:`lms_core.permissions.COMMAND_RULES`) says who may run each command; this
test walks the Typer app itself, so a new command without a row fails here. A command the
table keeps from learners must refuse them (exit 1, ``errors[0].field == "as"``) and change
nothing; one a learner may run must not be refused for rights.

One demo school is seeded per module inside a transaction; each command runs in a SAVEPOINT
that is rolled back, so the walk stays fast on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from lms_core.db import make_engine
from lms_core.models import Attempt, Certificate
from lms_core.permissions import COMMAND_RULES, Who
from lms_core.settings import Settings
from lmsctl.main import app
from lmsctl.runtime import Runtime
from tests.cli.helpers import audit_count, db_state, no_traceback

LEARNER = "student@demo.example.org"
OTHER = "other.learner@example.org"  # a second learner, in the same course
INSTRUCTOR = "instructor@demo.example.org"
COURSE = "demo-python-basics"
QUIZ = f"{COURSE}/checkpoint"
ASSIGNMENT = f"{COURSE}/homework"


def registered_commands() -> list[str]:
    """Every leaf command of the app, as ``"group sub"`` (or ``"init"``), walked recursively."""
    paths: list[str] = []

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(None):
                walk(command.get_command(None, name), [*path, name])
        else:
            paths.append(" ".join(path))

    walk(typer.main.get_command(app), [])
    return paths


COMMANDS = registered_commands()


def test_every_command_has_a_rule():
    """A command added without a row in the rules table fails here; so does a stale row."""
    assert set(COMMANDS) - set(COMMAND_RULES) == set(), "commands missing from COMMAND_RULES"
    assert set(COMMAND_RULES) - set(COMMANDS) == set(), "rows for commands that do not exist"


class World:
    """The seeded demo school, and what the arguments below refer to."""

    def __init__(self, connection: Connection, settings: Settings, tmp: Path) -> None:
        self.connection = connection
        self.settings = settings
        self.tmp = tmp
        self.runner = CliRunner()
        self.values: dict[str, str] = {}
        #: What ``db``, ``doctor`` and ``init`` would migrate if a check let a learner through:
        #: an empty in-memory database, never the suite's (a regression fails, it cannot drop
        #: the shared schema or hang on its locks).
        self.decoy = make_engine(settings, url="sqlite://")

    def factory(self) -> Session:
        return Session(
            bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    def run(self, args: list[str], *, as_: str | None) -> Result:
        runtime = Runtime(
            settings=self.settings,
            session_factory=self.factory,
            engine=self.decoy,
            actor_email=as_,
        )
        return self.runner.invoke(app, args, obj=runtime)


@pytest.fixture(scope="module")
def world(
    engine: Engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("rights")
    connection = engine.connect()
    outer = connection.begin()
    w = World(connection, settings, tmp)
    seeded = w.run(["demo", "seed", "--json"], as_=None)
    assert seeded.exit_code == 0, seeded.output
    upload = tmp / "notes.txt"
    upload.write_text("notes\n", encoding="utf-8")
    uploaded = w.run(["files", "upload", str(upload), "--json"], as_=None)
    assert uploaded.exit_code == 0, uploaded.output
    w.values["file_id"] = str(json.loads(uploaded.stdout)["id"])
    with w.factory() as session:
        w.values["certificate"] = session.scalars(select(Certificate.number)).first() or ""
        w.values["attempt"] = str(session.scalars(select(Attempt.id)).first())
    for name, body in {
        "users.csv": "email,full_name,role\nnew@example.org,New Person,student\n",
        "courses.csv": "slug,title\nnew-course,New Course\n",
        "enrollments.csv": f"email,course\n{LEARNER},demo-sql-essentials\n",
        "quiz.gift": "::q:: 1 + 1? {=2 ~3}\n",
        "plan.json": "{}\n",
        "password.txt": "Another-Strong-Pass-2026!\n",
        "hook.secret": "a-webhook-signing-secret-of-32-chars\n",
    }.items():
        (tmp / name).write_text(body, encoding="utf-8")
    for args in (
        ["users", "create", OTHER, "--name", "Another Learner"],
        ["enrollments", "enroll", OTHER, COURSE],
    ):
        made = w.run([*args, "--json"], as_=None)
        assert made.exit_code == 0, made.output
    worksheet = w.run(
        ["grading", "export", ASSIGNMENT, "-o", str(tmp / "worksheet.xlsx")], as_=None
    )
    assert worksheet.exit_code == 0, worksheet.output
    (tmp / "oneroster").mkdir()
    yield w
    outer.rollback()
    connection.close()
    w.decoy.dispose()


def arguments(command: str, w: World) -> list[str]:
    """Minimal, valid arguments for each command, about the learner's own data where it has any."""
    t, v = w.tmp, w.values
    table: dict[str, list[str]] = {
        "init": [],
        "doctor": [],
        "db upgrade": [],
        "db downgrade": ["base", "--yes"],
        "db current": [],
        "db check": [],
        "users create": ["new@example.org", "--name", "New Person"],
        "users list": [],
        "users show": [LEARNER],
        "users update": [LEARNER, "--name", "Sam S. Student"],
        "users deactivate": [INSTRUCTOR],
        "users reactivate": [INSTRUCTOR],
        "users unlock": [INSTRUCTOR],
        "users set-role": [LEARNER, "admin"],
        "users reset-password": [LEARNER, "--password-file", str(t / "password.txt")],
        "users delete": [INSTRUCTOR, "--yes"],
        "users invite": [INSTRUCTOR],
        "users mfa enable": [LEARNER],
        "users mfa confirm": [LEARNER, "123456"],
        "users mfa disable": [LEARNER],
        "users mfa status": [LEARNER],
        "courses create": ["new-course", "--title", "New Course"],
        "courses list": [],
        "courses show": [COURSE],
        "courses update": [COURSE, "--title", "Renamed"],
        "courses publish": [COURSE],
        "courses unpublish": [COURSE],
        "courses delete": [COURSE],
        "lessons add": [COURSE, "extra", "--title", "Extra"],
        "lessons list": [COURSE],
        "lessons update": [COURSE, "setup", "--title", "Renamed"],
        "lessons delete": [COURSE, "setup"],
        "lessons reorder": [COURSE, "variables,setup,control-flow,functions,checkpoint,homework"],
        "enrollments enroll": [LEARNER, "demo-sql-essentials"],
        "enrollments drop": [LEARNER, COURSE],
        "enrollments list": [],
        "enrollments complete-lesson": [LEARNER, COURSE, "control-flow"],
        "enrollments review": [LEARNER, COURSE, "--rating", "5"],
        "certificates eligible": [COURSE],
        "certificates issue": [COURSE],
        "certificates verify": [v["certificate"]],
        "certificates revoke": [v["certificate"], "--reason", "test"],
        "certificates reissue": [v["certificate"]],
        "certificates reinstate": [v["certificate"], "--reason", "test"],
        "certificates list": [],
        "certificates export": ["demo-sql-essentials", "-o", str(t / "certs.zip")],
        "certificates preview": ["--name", "Sam", "-o", str(t / "preview.pdf")],
        "quizzes create": [COURSE, "functions", "--title", "Another"],
        "quizzes update": [QUIZ, "--title", "Renamed"],
        "quizzes list": [],
        "quizzes show": [QUIZ],
        "quizzes publish": [QUIZ],
        "quizzes questions": [QUIZ],
        "quizzes remove-question": [QUIZ, "1"],
        "quizzes import": [QUIZ, str(t / "quiz.gift")],
        "quizzes export": [QUIZ, "-o", str(t / "quiz-out.gift")],
        "quizzes attempts": [QUIZ],
        "quizzes attempt": [v["attempt"]],
        "quizzes regrade": [QUIZ],
        "quizzes close-overdue": [],
        "quizzes start": [QUIZ, LEARNER],
        "quizzes answer": [v["attempt"], "1", "0"],
        "quizzes submit": [v["attempt"]],
        "quizzes grade-essay": [v["attempt"], "--question", "1", "--points", "1"],
        "files upload": [str(t / "notes.txt")],
        "files list": [],
        "files delete": [v["file_id"]],
        "files download": [v["file_id"], "-o", str(t / "download.txt")],
        "assignments create": [COURSE, "functions"],
        "assignments update": [ASSIGNMENT, "--title", "Renamed"],
        "assignments list": [],
        "assignments show": [ASSIGNMENT],
        "submissions list": [ASSIGNMENT],
        "submissions submit": [ASSIGNMENT, LEARNER, "--text", "my work"],
        "submissions grade": [ASSIGNMENT, LEARNER, "--grade", "5"],
        "grading export": [ASSIGNMENT, "-o", str(t / "worksheet-out.xlsx")],
        "grading import": [str(t / "worksheet.xlsx")],
        "gradebook export": [COURSE, "-o", str(t / "gradebook.csv")],
        "reports student": [LEARNER],
        "reports instructor": [INSTRUCTOR],
        "reports course": [COURSE],
        "reports system": [],
        "reports chart": ["course-funnel", COURSE, "-o", str(t / "funnel.png")],
        "import users": [str(t / "users.csv")],
        "import courses": [str(t / "courses.csv")],
        "import enrollments": [str(t / "enrollments.csv")],
        "import oneroster": [str(t / "oneroster")],
        "import apply": [str(t / "plan.json")],
        "import history": [],
        "import undo": ["1"],
        "import template": ["users", "-o", str(t / "template.csv")],
        "export users": ["-o", str(t / "users-out.csv")],
        "export courses": ["-o", str(t / "courses-out.csv")],
        "export enrollments": ["-o", str(t / "enrollments-out.csv")],
        "demo seed": [],
        "demo generate": ["--users", "1", "--courses", "1", "--enrollments", "1"],
        "jobs worker": ["--workers", "1"],
        "jobs run-due": [],
        "jobs list": [],
        "jobs show": ["1"],
        "jobs retry": ["1"],
        "jobs cancel": ["1"],
        "webhooks add": [
            "https://hooks.example.org/",
            "--all",
            "--secret-file",
            str(t / "hook.secret"),
        ],
        "webhooks list": [],
        "webhooks test": ["1"],
        "webhooks deliveries": [],
        "webhooks replay": ["0123456789abcdef0123456789abcdef"],
        "webhooks disable": ["1"],
        "webhooks enable": ["1"],
        "api openapi": ["-o", str(t / "openapi.json")],
        "api postman": ["-o", str(t / "collection.json")],
        "tokens create": ["--scope", "courses:read"],
        "tokens list": [],
        "tokens revoke": ["1"],
        "schedules add": ["nightly", "--cron", "0 2 * * *", "--export", "users", "--to", str(t)],
        "schedules list": [],
        "schedules remove": ["nightly"],
        "schedules run": ["nightly"],
        "email test": ["someone@example.org"],
        "email outbox": [],
        "backup create": ["-o", str(t / "backups")],
        "backup list": [str(t / "backups")],
        "backup verify": [str(t / "backup.tar")],
        "backup restore": [str(t / "backup.tar"), "--to", f"sqlite:///{t / 'restored.db'}"],
        "backup prune": ["--dir", str(t / "backups"), "--dry-run"],
        "serve": ["--host", "203.0.113.1"],  # not this machine: fails at once if let through
    }
    if command not in table:
        pytest.fail(f"{command}: give it minimal valid arguments in this test's table")
    return [*command.split(), *table[command], "--json"]


def permission_error(result: Result) -> dict[str, Any] | None:
    """The ``errors[0]`` of a refusal for rights (field ``as``), else None."""
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("errors"):
        first = data["errors"][0]
        if first.get("field") == "as":
            return dict(first)
    return None


def run_and_check(world: World, command: str, actor: str, *, refused: bool) -> None:
    savepoint = world.connection.begin_nested()
    try:
        with world.factory() as session:
            before, audits = db_state(session), audit_count(session)
        result = world.run(arguments(command, world), as_=actor)
        no_traceback(result)
        denied = permission_error(result)
        if not refused:
            assert denied is None, f"{command}: {actor} may run it, but was refused: {denied}"
            return
        who = rule(command).value
        assert result.exit_code == 1 and denied is not None, (
            f"{command}: only {who} may run it, but {actor} got exit {result.exit_code}: "
            f"{result.stdout} {result.stderr}"
        )
        assert actor in denied["message"] or denied["value"] == actor, denied
        with world.factory() as session:
            assert audit_count(session) == audits, "the audit log changed"
            assert db_state(session) == before, "the database changed"
    finally:
        savepoint.rollback()


def rule(command: str) -> Who:
    if command not in COMMAND_RULES:
        pytest.fail(f"{command}: no row in lms_core.permissions.COMMAND_RULES")
    return COMMAND_RULES[command].who


@pytest.mark.parametrize("command", COMMANDS)
def test_a_learner_runs(command: str, world: World) -> None:
    """Refused where the table keeps learners out; never refused for rights elsewhere."""
    who = rule(command)
    run_and_check(world, command, LEARNER, refused=who in (Who.admin, Who.instructor))


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if c not in COMMAND_RULES or COMMAND_RULES[c].who is Who.admin]
)
def test_an_instructor_runs_an_administrators_command(command: str, world: World) -> None:
    rule(command)
    run_and_check(world, command, INSTRUCTOR, refused=True)


def rules_table() -> str:
    """COMMAND_RULES as docs/cli-rules.md prints it: one row per group, commands by level."""
    levels = [Who.admin, Who.instructor, Who.own, Who.anyone]
    groups: dict[str, dict[Who, list[str]]] = {}
    for command, row in COMMAND_RULES.items():
        group, _, name = command.partition(" ")
        groups.setdefault(group, {w: [] for w in levels})[row.who].append(name or group)
    lines = [
        "| group | admin, operator | + instructor (own courses) | + any user (own records) "
        "| anyone |",
        "|---|---|---|---|---|",
    ]
    for group, by_level in groups.items():
        cells = [", ".join(f"`{n}`" for n in by_level[w]) or "" for w in levels]
        lines.append(f"| `{group}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def test_the_docs_print_the_rules_table():
    docs = (Path(__file__).parents[2] / "docs" / "cli-rules.md").read_text(encoding="utf-8")
    assert rules_table() in docs, "docs/cli-rules.md is behind COMMAND_RULES; print:\n" + (
        rules_table()
    )


#: "Own records" commands, pointed at another learner's records: refused for rights.
SOMEONE_ELSES: dict[str, list[str]] = {
    "users show": [OTHER],
    "users update": [OTHER, "--name", "Renamed"],
    "users reset-password": [OTHER, "--token"],
    "users mfa enable": [OTHER],
    "users mfa confirm": [OTHER, "123456"],
    "users mfa disable": [OTHER],
    "users mfa status": [OTHER],
    "enrollments enroll": [OTHER, "demo-sql-essentials"],
    "enrollments drop": [OTHER, COURSE],
    "enrollments complete-lesson": [OTHER, COURSE, "setup"],
    "enrollments review": [OTHER, COURSE, "--rating", "1"],
    "quizzes start": [QUIZ, OTHER],
    "reports student": [OTHER],
    "submissions submit": [ASSIGNMENT, OTHER, "--text", "not mine"],
}


@pytest.mark.parametrize("command", list(SOMEONE_ELSES))
def test_a_learner_cannot_act_on_someone_elses_records(command: str, world: World) -> None:
    assert rule(command) is Who.own
    savepoint = world.connection.begin_nested()
    try:
        with world.factory() as session:
            before = db_state(session)
        result = world.run([*command.split(), *SOMEONE_ELSES[command], "--json"], as_=LEARNER)
        no_traceback(result)
        assert result.exit_code == 1 and permission_error(result) is not None, (
            f"{command}: {result.stdout} {result.stderr}"
        )
        with world.factory() as session:
            assert db_state(session) == before
    finally:
        savepoint.rollback()
