"""Every group and command has --help with an example, and --help loads nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmsctl.main import app

ROOT = Path(__file__).resolve().parents[2]

#: Every group and its commands; a command added without help (or not registered) fails here.
COMMANDS: dict[str, list[str]] = {
    "init": [],
    "doctor": [],
    "db": ["upgrade", "downgrade", "current", "check"],
    "users": [
        "create",
        "list",
        "show",
        "update",
        "deactivate",
        "reactivate",
        "unlock",
        "set-role",
        "reset-password",
        "delete",
        "invite",
        "mfa",
    ],
    "courses": ["create", "list", "show", "update", "publish", "unpublish", "delete"],
    "lessons": ["add", "list", "update", "delete", "reorder"],
    "enrollments": ["enroll", "drop", "list", "complete-lesson", "review"],
    "certificates": [
        "eligible",
        "issue",
        "verify",
        "revoke",
        "reinstate",
        "reissue",
        "list",
        "export",
        "preview",
    ],
    "quizzes": [
        "create",
        "update",
        "list",
        "show",
        "publish",
        "questions",
        "remove-question",
        "import",
        "export",
        "attempts",
        "attempt",
        "regrade",
        "close-overdue",
        "start",
        "answer",
        "submit",
        "grade-essay",
    ],
    "files": ["upload", "list", "delete", "download"],
    "assignments": ["create", "update", "list", "show"],
    "submissions": ["list", "submit", "grade"],
    "grading": ["export", "import"],
    "gradebook": ["export"],
    "reports": ["student", "instructor", "course", "system", "chart"],
    "import": [
        "users",
        "courses",
        "enrollments",
        "oneroster",
        "apply",
        "history",
        "undo",
        "template",
    ],
    "export": ["users", "courses", "enrollments"],
    "demo": ["seed", "generate"],
    "email": ["test", "outbox"],
    "jobs": ["worker", "run-due", "list", "show", "retry", "cancel"],
    "webhooks": ["add", "list", "test", "deliveries", "replay", "disable", "enable"],
    "api": ["openapi", "postman"],
    "tokens": ["create", "list", "revoke"],
    "backup": ["create", "list", "verify", "restore", "prune"],
    "schedules": ["add", "list", "remove", "run"],
    "serve": [],
}
#: Groups inside a group (``users mfa``) and their commands.
SUBGROUPS: dict[str, list[str]] = {"users mfa": ["enable", "confirm", "disable", "status"]}
EVERY_COMMAND = [
    (g, c) for g, cs in COMMANDS.items() for c in (cs or [None]) if f"{g} {c}" not in SUBGROUPS
] + [(g.split()[0], f"{g.split()[1]} {c}") for g, cs in SUBGROUPS.items() for c in cs]
HEAVY = {
    "sqlalchemy",
    "alembic",
    "flask",
    "fpdf",
    "openpyxl",
    "huey",
    "passlib",
    "argon2",
    "pydantic_settings",
    "email_validator",
}


def help_of(*args: str) -> str:
    args = tuple(word for arg in args for word in arg.split())  # "mfa enable": two words
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def test_root_help_lists_every_group():
    out = help_of()

    assert "Example:" in out and "Exit codes" in out
    for group in COMMANDS:
        assert f"  {group} " in out, group


def test_short_help_flag():
    result = CliRunner().invoke(app, ["-h"])

    assert result.exit_code == 0 and "Commands" in result.stdout


def test_no_arguments_shows_help_as_a_usage_error():
    result = CliRunner().invoke(app, [])

    assert result.exit_code == 2
    assert "users" in result.output


def test_unknown_group_is_a_usage_error():
    result = CliRunner().invoke(app, ["teleport"])

    assert result.exit_code == 2 and "No such command" in result.stderr


@pytest.mark.parametrize("group", [g for g, cs in COMMANDS.items() if cs])
def test_group_help_lists_its_commands(group):
    out = help_of(group)

    for command in COMMANDS[group]:
        assert command in out, command


def _words(text: str) -> str:
    return " ".join(text.split())


def test_group_help_shows_a_commands_whole_first_sentence():
    """Not cut to one terminal line ("Create a user; without a password the user cannot
    log..."): the listing wraps the summary instead."""
    runner = CliRunner()
    result = runner.invoke(app, ["users", "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output

    listing = _words(result.stdout.split("Commands:", 1)[1])
    assert (
        "create Create a user; without a password the user cannot log in until one is set."
        in listing
    )
    assert "..." not in listing


@pytest.mark.parametrize("group", [g for g, cs in COMMANDS.items() if cs])
def test_no_group_listing_cuts_a_summary(group):
    import importlib

    import typer.main

    from lmsctl.lazy import COMMANDS as LAZY

    result = CliRunner().invoke(app, [group, "--help"], terminal_width=80)
    # Without any spaces: wrapping may break a line after the hyphen of "--lessons-out".
    listing = "".join(result.stdout.split("Commands:", 1)[1].split())
    command = typer.main.get_command(importlib.import_module(LAZY[group][0]).app)
    for name, sub in command.commands.items():  # type: ignore[attr-defined]
        first = _words((sub.help or "").split("\n\n", 1)[0])
        summary = first.split(". ", 1)[0].rstrip(".")
        assert "".join(f"{name} {summary}".split()) in listing, (group, name)


def test_every_registered_command_is_listed_here():
    import importlib

    import typer.main

    from lmsctl.lazy import COMMANDS as LAZY

    assert list(LAZY) == list(COMMANDS)
    for group, commands in COMMANDS.items():
        command = typer.main.get_command(importlib.import_module(LAZY[group][0]).app)
        assert sorted(getattr(command, "commands", {})) == sorted(commands), group


@pytest.mark.parametrize(
    ("group", "command"), EVERY_COMMAND, ids=[f"{g}-{c}" if c else g for g, c in EVERY_COMMAND]
)
def test_every_command_has_help_with_an_example(group, command):
    out = help_of(group, *([command] if command else []))

    assert "Example" in out
    assert "lmsctl " in out.split("Example", 1)[1]
    assert "Usage:" in out


def test_json_option_is_offered_by_every_command():
    for group, command in EVERY_COMMAND:
        assert "--json" in help_of(group, *([command] if command else [])), (group, command)


def _imported_after(argv_lists: list[list[str]]) -> list[str]:
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from lmsctl.main import app\n"
        f"for argv in {argv_lists!r}:\n"
        "    result = CliRunner().invoke(app, argv)\n"
        "    assert result.exit_code == 0, (argv, result.output)\n"
        f"heavy = {sorted(HEAVY)!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or m.startswith('lms_core.models') or m == 'lms_core.settings')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_root_help_imports_nothing_heavy():
    assert _imported_after([["--help"]]) == []


def test_group_and_command_help_import_nothing_heavy():
    argv_lists = [[group, "--help"] for group in COMMANDS]
    argv_lists += [
        [group, *command.split(), "--help"] for group, command in EVERY_COMMAND if command
    ]

    assert _imported_after(argv_lists) == []


@pytest.mark.parametrize("subgroup", sorted(SUBGROUPS))
def test_a_group_inside_a_group_lists_its_commands_with_an_example(subgroup):
    import importlib

    import typer.main

    from lmsctl.lazy import COMMANDS as LAZY

    out = help_of(subgroup)
    assert "Example: lmsctl " + subgroup in out
    for command in SUBGROUPS[subgroup]:
        assert f"  {command} " in out, command
    group, name = subgroup.split()
    found = typer.main.get_command(importlib.import_module(LAZY[group][0]).app)
    inner = found.commands[name]  # type: ignore[attr-defined]
    assert sorted(inner.commands) == sorted(SUBGROUPS[subgroup])
