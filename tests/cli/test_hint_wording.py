"""How lmsctl words lms_core's hints: runnable commands and real options, never a CLI flag
in lms_core's own text (the back office and jobs show those messages to people with no CLI)."""

from __future__ import annotations

import ast
import importlib
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperGroup

from lms_core.errors import Hint, HintCode
from lmsctl.lazy import COMMANDS
from lmsctl.output import HINT_COMMANDS, HINT_OPTIONS, hint_text

ROOT = Path(__file__).resolve().parents[2]

#: The commands that can raise each hint worded as an option of the command just run: the
#: option must exist on every one of them.
RAISED_BY: dict[HintCode, list[str]] = {
    HintCode.allow_removals: ["import users", "import enrollments", "import oneroster"],
    HintCode.choose_encoding: ["import users", "import courses", "import enrollments"],
    HintCode.add_lessons_file: ["import courses"],
    HintCode.save_plan: ["import users", "import courses", "import enrollments"],
    HintCode.plan_without_passwords: ["import users"],
    HintCode.leave_out: ["export users", "export courses", "export enrollments"],
}
#: ``leave_out``'s ``field`` values lms_core passes, each an option of some export.
LEAVE_OUT_FIELDS = {
    "course": "export courses",
    "role": "export users",
    "lessons_out": "export courses",
}


def _command(words: list[str]) -> tuple[Any, list[str]]:
    """The Click command ``words`` name (group, sub-command) and the words after it."""
    group, *rest = words
    assert group in COMMANDS, f"no lmsctl command {group!r}"
    command = typer.main.get_command(importlib.import_module(COMMANDS[group][0]).app)
    while isinstance(command, TyperGroup):
        assert rest, f"{words}: needs a sub-command"
        name, *rest = rest
        assert name in command.commands, f"{words}: no sub-command {name!r}"
        command = command.commands[name]
    return command, rest


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def _named_options(text: str) -> list[str]:
    return re.findall(r"(?<!\w)(--?[a-z][a-z-]*)", text)


@pytest.mark.parametrize("code", list(HintCode))
def test_every_hint_has_exactly_one_wording(code: HintCode) -> None:
    assert (code.value in HINT_COMMANDS) != (code.value in HINT_OPTIONS), code
    assert code.value in HINT_COMMANDS or code in RAISED_BY, f"{code}: list where it comes from"


@pytest.mark.parametrize("code", [c for c in HintCode if c.value in HINT_COMMANDS])
def test_a_command_hint_names_a_real_command_and_its_options(code: HintCode) -> None:
    """With no parameters at all, placeholders in capitals keep the command parseable."""
    text = hint_text(Hint(code))
    assert "{" not in text and "lmsctl " in text, text
    for words in re.findall(r"lmsctl ((?:(?!, or ).)*)", text):
        command, rest = _command(shlex.split(words))
        for option in _named_options(" ".join(rest)):
            assert option in _options(command), f"{text}: {option} is not an option"
        arguments = [p for p in command.params if isinstance(p, typer.core.TyperArgument)]
        given = [w for w in rest if not w.startswith("-")]
        required = [p for p in arguments if p.required]
        assert len(given) >= len(required), f"{text}: {command.name} needs {required}"


@pytest.mark.parametrize("code", [c for c in HintCode if c.value in HINT_OPTIONS])
def test_an_option_hint_names_options_of_the_commands_that_raise_it(code: HintCode) -> None:
    text = hint_text(Hint(code))
    assert "{" not in text, text
    for where in RAISED_BY[code]:
        command, _ = _command(where.split())
        if code is HintCode.leave_out:
            continue  # the option depends on the field: checked below
        for option in _named_options(text):
            assert option in _options(command), f"lmsctl {where} has no {option} ({text})"


@pytest.mark.parametrize(("field", "where"), sorted(LEAVE_OUT_FIELDS.items()))
def test_leave_out_names_the_option_of_the_field(field: str, where: str) -> None:
    text = hint_text(Hint(HintCode.leave_out, {"field": field}))
    [option] = _named_options(text)
    command, _ = _command(where.split())
    assert option in _options(command), (text, where)


def test_a_missing_parameter_is_a_capitalised_placeholder() -> None:
    assert hint_text(Hint(HintCode.export_worksheet)) == (
        "run: lmsctl grading export ASSIGNMENT -o FILE.xlsx"
    )
    assert hint_text(Hint(HintCode.export_worksheet, {"assignment": "py/hw1"})) == (
        "run: lmsctl grading export py/hw1 -o FILE.xlsx"
    )
    assert hint_text({"code": "manage_administrator", "params": {}}) == (
        "use: lmsctl users set-role EMAIL ROLE, or lmsctl users deactivate EMAIL"
    )
    assert hint_text(Hint(HintCode.choose_encoding)) == "pass --encoding ENCODING"


def _string_constants(tree: ast.AST) -> list[tuple[int, str]]:
    """String literals, docstrings and comments left out (they may name lmsctl for a reader)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_lms_core_messages_name_no_cli_option() -> None:
    """The step in words; lmsctl adds its option or command from the hint."""
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for path in sorted((ROOT / "lms_core").rglob("*.py"))
        for line, value in _string_constants(ast.parse(path.read_text(encoding="utf-8")))
        if re.search(r"(?<![\w-])--[a-z]", value) or "lmsctl " in value
    ]
    assert found == []


# --- The hints as a user sees them, from real commands on a real database -------------------


def test_deleting_a_course_with_enrollments_shows_the_force_command(cli, make) -> None:
    enrollment = make.enroll()
    slug = enrollment.course.slug

    result = cli("courses", "delete", slug)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: course_slug: course {slug} has 1 enrollment(s); confirm to delete them too "
        f"(run: lmsctl courses delete {slug} --force)"
    )
    data = json.loads(cli("courses", "delete", slug, "--json").stdout)
    assert data["errors"][0]["hint"] == {
        "code": "delete_with_enrollments",
        "params": {"course": slug},
    }


@pytest.mark.parametrize(
    ("entity", "arguments", "field"),
    [("users", {"course_slug": "py"}, "course"), ("courses", {"role": "student"}, "role")],
)
def test_an_export_filter_that_does_not_apply_says_leave_it_out(
    session, operator, tmp_path, entity: str, arguments: dict[str, str], field: str
) -> None:
    """Click already refuses these options where they do not exist; other front doors pass
    the filter as data, and lmsctl would word the hint as the option."""
    from lms_core.errors import ValidationError
    from lms_core.exports.entities import export

    with pytest.raises(ValidationError) as caught:
        export(
            session, actor=operator, entity=entity, fmt="csv", out=tmp_path / "x.csv", **arguments
        )
    assert caught.value.field == field and "--" not in caught.value.message
    assert hint_text(caught.value.hint) == f"leave out --{field}"


def test_lessons_out_with_xlsx_says_leave_it_out(cli, tmp_path) -> None:
    result = cli(
        "export",
        "courses",
        "-o",
        str(tmp_path / "c.xlsx"),
        "--lessons-out",
        str(tmp_path / "l.csv"),
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        "error: lessons_out: a separate lessons file goes with a courses CSV export (XLSX has "
        "a lessons sheet) (leave out --lessons-out)"
    )


def test_a_windows_1252_file_names_the_encoding_option(cli, tmp_path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes("email,full_name,role\nj@x.org,José Núñez,student\n".encode("cp1252"))

    result = cli("import", "users", str(path))
    assert result.exit_code == 1
    assert "or read it as cp1252 (pass --encoding cp1252).\n" in result.stderr

    wrong = cli("import", "users", str(path), "--encoding", "utf-8")
    assert "check the encoding (pass --encoding ENCODING)" in wrong.stderr


def test_a_sync_over_the_limit_names_the_options_to_allow_it(cli, make, tmp_path) -> None:
    for n in range(3):
        make.user("student", email=f"s{n}@x.org")
    path = tmp_path / "sync.csv"
    path.write_text("email,full_name,role\ns0@x.org,S Zero,student\n", encoding="utf-8")

    result = cli("import", "users", str(path), "--mode", "sync")
    assert result.exit_code == 1
    assert (
        "or raise the limit or force the sync (run it again with --max-removals 2, or with "
        "--force)" in result.stderr
    ), result.stderr


def test_a_file_that_is_not_a_plan_says_how_to_write_one(cli, tmp_path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("{}", encoding="utf-8")

    result = cli("import", "apply", str(path))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: plan.json: is not an import plan (an import's dry run saves one) "
        "(write one with --dry-run --plan-out FILE)"
    )


def test_a_password_column_refuses_a_plan_naming_the_options(cli, tmp_path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("email,full_name,role,password\na@x.org,A,student,Secret-123!\n")

    result = cli("import", "users", str(path), "--dry-run", "--plan-out", str(tmp_path / "p"))
    assert result.exit_code == 1
    assert result.stderr.strip().endswith(
        "import without saving a plan (or review first with a dry run) "
        "(import without --plan-out, or use --dry-run to review first)"
    ), result.stderr


def test_a_published_course_without_lessons_names_the_lessons_option(cli, make, tmp_path) -> None:
    teacher = make.user("instructor", email="t@x.org")
    path = tmp_path / "courses.csv"
    path.write_text(
        f"slug,title,instructor_email,is_published\nc1,C One,{teacher.email},true\n",
        encoding="utf-8",
    )

    result = cli("import", "courses", str(path))
    assert result.exit_code == 1
    assert (
        "course c1 has no lessons: add its lessons (a lessons file or a lessons sheet) or set "
        "is_published to false (pass --lessons FILE)" in result.stderr
    ), result.stderr


def test_a_file_that_is_not_a_worksheet_names_the_export_command(cli, tmp_path) -> None:
    from openpyxl import Workbook

    path = tmp_path / "grades.xlsx"
    Workbook().save(path)

    result = cli("grading", "import", str(path))
    assert result.exit_code == 1
    assert result.stderr.strip().endswith(
        "export it again (run: lmsctl grading export ASSIGNMENT -o FILE.xlsx)"
    ), result.stderr


def test_an_administrator_in_an_import_names_both_commands_in_full(cli, make, tmp_path) -> None:
    make.user("admin", email="boss@x.org")
    make.user("admin", email="boss2@x.org")
    path = tmp_path / "u.csv"
    path.write_text("email,full_name,role\nboss@x.org,Boss,student\n", encoding="utf-8")

    result = cli("import", "users", str(path))
    assert result.exit_code == 1
    assert (
        "(use: lmsctl users set-role boss@x.org ROLE, or lmsctl users deactivate boss@x.org)"
        in result.stderr
    )


def test_utf16_without_a_byte_order_mark_names_the_encoding_option(cli, tmp_path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes("email,full_name,role\nj@x.org,J,student\n".encode("utf-16-le"))

    result = cli("import", "users", str(path))
    assert result.exit_code == 1
    assert result.stderr.rstrip().endswith("read it as utf-16-le (pass --encoding utf-16-le)."), (
        result.stderr
    )
    assert cli("import", "users", str(path), "--encoding", "utf-16-le", "--dry-run").exit_code == 0
