"""lmsctl words every hint of lms_core.errors.HintCode as the command that does it."""

from __future__ import annotations

import importlib
import re
import shlex
from typing import Any

import pytest
import typer
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

from lms_core.errors import Hint, HintCode, hint
from lmsctl.lazy import COMMANDS
from lmsctl.output import error_line, hint_text, with_hint

#: Sample parameters for every hint: each code takes some of them.
PARAMS = {
    "course": "py",
    "lesson": "check",
    "quiz": 7,
    "email": "ann@x.org",
    "assignment": 12,
    "removals": 5,
    "encoding": "utf-16-le",
    "field": "lessons_out",
}


def _commands(text: str) -> list[list[str]]:
    """The words of each ``lmsctl ...`` command a hint names (``use: A, or B`` names two)."""
    return [shlex.split(words) for words in re.findall(r"lmsctl ((?:(?!, or ).)*)", text)]


def _check_command(words: list[str]) -> None:
    """The words name a real command, give each required argument and option, name only
    options it has, and nothing is left over: as Click itself parses them (placeholders such
    as FILE or ROLE stand for values, so values are not converted)."""
    group, *rest = words
    assert group in COMMANDS, f"no lmsctl command {group!r}"
    command = _group(group)
    path = [group]
    while isinstance(command, TyperGroup):
        assert rest, f"'lmsctl {' '.join(path)}' needs a sub-command"
        name, *rest = rest
        assert name in command.commands, f"'lmsctl {' '.join(path)}' has no sub-command {name!r}"
        command, path = command.commands[name], [*path, name]
    for word in rest:
        if word.startswith("--"):
            known = {opt for param in command.params for opt in param.opts}
            assert word.split("=", 1)[0] in known, f"'lmsctl {' '.join(path)}' has no {word}"
    ctx = command.make_context(" ".join(path), [], resilient_parsing=True)
    try:
        values, extra, _ = command.make_parser(ctx).parse_args(list(rest))
    except UsageError as exc:
        raise AssertionError(f"lmsctl {' '.join(words)}: {exc}") from None
    assert not extra, f"lmsctl {' '.join(words)}: unexpected {extra}"
    missing = [
        param.opts[-1]
        for param in command.params
        if param.required and values.get(param.name or "") is None
    ]
    assert not missing, f"lmsctl {' '.join(words)}: missing {missing}"


def _group(name: str) -> Any:
    return typer.main.get_command(importlib.import_module(COMMANDS[name][0]).app)


def _every_option() -> set[str]:
    """Every option of every lmsctl command and sub-command."""
    found: set[str] = set()
    stack = [_group(name) for name in COMMANDS]
    while stack:
        command = stack.pop()
        found.update(opt for param in command.params for opt in param.opts)
        if isinstance(command, TyperGroup):
            stack.extend(command.commands.values())
    return found


def _check_options(text: str) -> None:
    """A hint worded as options of the command just run names options lmsctl has."""
    named = re.findall(r"--[\w-]+", text)
    assert named, f"{text!r} names no lmsctl command and no option"
    unknown = set(named) - _every_option()
    assert not unknown, f"{text!r}: no lmsctl command has {sorted(unknown)}"


@pytest.mark.parametrize("code", list(HintCode))
def test_every_hint_code_names_a_real_lmsctl_command_or_option(code: HintCode) -> None:
    """Each hint, rendered with sample parameters, is a command that parses as lmsctl parses
    it (the group and sub-command exist, every required argument and option is given, every
    option exists), or, for a hint about the command just run, options that exist."""
    text = hint_text(Hint(code, PARAMS))
    assert text, f"lmsctl has no wording for {code}"
    assert "{" not in text, text
    commands = _commands(text)
    for words in commands:
        _check_command(words)
    if not commands:
        _check_options(text)


@pytest.mark.parametrize(
    "words",
    [
        "nosuch list",
        "users nosuch",
        "users set-role ann@x.org",
        "users set-role ann@x.org admin extra",
        "lessons update py check --no-such-option x",
        "grading export 12",
    ],
)
def test_the_command_check_refuses_a_wrong_command(words: str) -> None:
    with pytest.raises(AssertionError):
        _check_command(shlex.split(words))


@pytest.mark.parametrize("text", ["pass --no-such-option X", "leave it out"])
def test_the_option_check_refuses_an_unknown_option(text: str) -> None:
    with pytest.raises(AssertionError):
        _check_options(text)


def test_parameters_fill_the_command() -> None:
    assert hint_text(hint(HintCode.promote_user, email="ann@x.org")) == (
        "run: lmsctl users set-role ann@x.org admin"
    )
    assert hint_text(None) == "" and hint_text({"code": "unknown", "params": {}}) == ""
    assert (
        hint_text({"code": "promote_user", "params": {}})
        == "run: lmsctl users set-role EMAIL admin"
    )


def test_an_error_line_ends_with_the_command() -> None:
    assert with_hint("the database is empty", None) == "the database is empty"
    line = error_line(
        {
            "file": "users.csv",
            "line": 3,
            "column": "email",
            "message": "belongs to a deleted user; reactivate it first or remove the row",
            "hint": {"code": "reactivate_user", "params": {"email": "ann@x.org"}},
        }
    )
    assert line == (
        "error: users.csv, line 3, column email: belongs to a deleted user; reactivate it "
        "first or remove the row (run: lmsctl users reactivate ann@x.org)"
    )


def test_an_import_row_problem_shows_its_command(cli, make, tmp_path) -> None:
    make.user("admin", email="boss@x.org")
    make.user("admin", email="boss2@x.org")
    path = tmp_path / "u.csv"
    path.write_text("email,full_name,role\nboss@x.org,Boss,student\n", encoding="utf-8")
    result = cli("import", "users", str(path))
    assert result.exit_code == 1
    assert (
        "not with an import (use: lmsctl users set-role boss@x.org ROLE, "
        "or lmsctl users deactivate boss@x.org)" in result.stderr
    )
