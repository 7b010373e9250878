"""Rendering: Rich tables for people, one JSON document for scripts, errors on stderr."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn

import typer

_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_default, ensure_ascii=False, indent=2) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, Decimal | float):
        return f"{value:g}"
    text = str(value)
    if _ISO_DATETIME.match(text):  # rows carry JSON-ready ISO strings; people want minutes
        return text[:10] + " " + text[11:16]
    return text


def emit_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    as_json: bool,
    title: str | None = None,
    footer: str | None = None,
) -> None:
    """A table of ``columns`` (all keys go to JSON, which scripts read)."""
    if as_json:
        print_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console = Console()
    console.print(table)
    if footer:
        console.print(footer, style="dim")


def emit_record(row: Mapping[str, Any], *, as_json: bool, title: str | None = None) -> None:
    if as_json:
        print_json(row)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in row.items():
        table.add_row(key, _cell(value))
    Console().print(table)


def report_change(message: str, row: Mapping[str, Any], *, as_json: bool) -> None:
    """A change made: the message for people; with ``--json`` also the changed record, the
    message then going to stderr so that stdout stays one JSON document."""
    say(message, as_json=as_json)
    if as_json:
        emit_record(row, as_json=True)


def say(message: str, *, as_json: bool = False) -> None:
    """A human message: on stdout normally, on stderr when stdout carries JSON."""
    if as_json:
        typer.echo(message, err=True)
    else:
        typer.echo(message)


#: How lmsctl words a hint of lms_core.errors.HintCode that is a command to run. The core says
#: what to do in words; only this front door knows its own commands. A parameter the error
#: does not carry shows as a placeholder in capitals (``ASSIGNMENT``), so the command still
#: parses once the user fills it in.
HINT_COMMANDS = {
    "initialise_database": "run: lmsctl init",
    "run_migrations": "run: lmsctl db upgrade",
    "add_quiz_lesson": "run: lmsctl lessons add {course} {lesson} --title TITLE --type quiz",
    "make_quiz_lesson": "run: lmsctl lessons update {course} {lesson} --type quiz",
    "import_questions": "run: lmsctl quizzes import {quiz} FILE",
    "promote_user": "run: lmsctl users set-role {email} admin",
    "reactivate_user": "run: lmsctl users reactivate {email}",
    "manage_administrator": (
        "use: lmsctl users set-role {email} ROLE, or lmsctl users deactivate {email}"
    ),
    "export_worksheet": "run: lmsctl grading export {assignment} -o FILE.xlsx",
    "delete_with_enrollments": "run: lmsctl courses delete {course} --force",
}

#: Hints that are an option of the command just run (the user runs it again with or without
#: it), worded as that option.
HINT_OPTIONS = {
    "allow_removals": "run it again with --max-removals {removals}, or with --force",
    "choose_encoding": "pass --encoding {encoding}",
    "add_lessons_file": "pass --lessons FILE",
    "save_plan": "write one with --dry-run --plan-out FILE",
    "plan_without_passwords": "import without --plan-out, or use --dry-run to review first",
    "leave_out": "leave out --{option}",
}


class _Placeholders(dict[str, Any]):
    """Format parameters; one the hint does not carry becomes its name in capitals."""

    def __missing__(self, key: str) -> str:
        return key.upper()


def hint_text(hint: Any) -> str:
    """The lmsctl wording of a hint (a ``Hint`` or its ``as_dict()``); '' when there is none."""
    if hint is None:
        return ""
    data = hint if isinstance(hint, dict) else hint.as_dict()
    code = str(data.get("code"))
    template = HINT_COMMANDS.get(code) or HINT_OPTIONS.get(code)
    if template is None:
        return ""
    params = _Placeholders(data.get("params") or {})
    if "field" in params:  # an input field named by the core is an option here
        params.setdefault("option", str(params["field"]).replace("_", "-"))
    return template.format_map(params)


def with_hint(message: str, hint: Any) -> str:
    """``message (run: lmsctl ...)`` when the error carries a hint lmsctl can word (before
    the message's closing full stop, if it has one)."""
    text = hint_text(hint)
    if not text:
        return message
    if message.endswith("."):
        return f"{message[:-1]} ({text})."
    return f"{message} ({text})"


def error_line(error: dict[str, Any]) -> str:
    """One error on one line: ``error: where: message (run: lmsctl ...)``."""
    where = error.get("field") or error.get("file")
    if error.get("file") and error.get("line") is not None:
        where = f"{error['file']}, line {error['line']}"
        if error.get("column"):
            where += f", column {error['column']}"
    message = with_hint(error["message"], error.get("hint"))
    return f"error: {where}: {message}" if where else f"error: {message}"


def fail(errors: list[dict[str, Any]], *, as_json: bool, code: int = 1) -> NoReturn:
    """Report problems and exit: one line each on stderr, or ``{"errors": [...]}`` as JSON."""
    if as_json:
        print_json({"errors": errors})
    else:
        for error in errors:
            typer.echo(error_line(error), err=True)
    raise typer.Exit(code)


@contextmanager
def reporting(*, as_json: bool) -> Iterator[None]:
    """Turn known failures into a clean message and exit code 1; never a traceback."""
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

    from lms_core.errors import ErrorList, Hint, HintCode, LmsError
    from lms_core.settings import SettingsError

    try:
        yield
    except ErrorList as exc:
        fail([e.as_dict() for e in exc.errors], as_json=as_json)
    except LmsError as exc:
        fail([exc.as_dict()], as_json=as_json)
    except SettingsError as exc:
        fail([{"field": f, "value": None, "message": m} for f, m in exc.problems], as_json=as_json)
    except IntegrityError as exc:
        fail(
            [
                {
                    "field": None,
                    "value": None,
                    "message": f"the database refused the change: {exc.orig}",
                }
            ],
            as_json=as_json,
        )
    except (OperationalError, ProgrammingError) as exc:
        text = str(exc.orig)
        error: dict[str, Any] = {
            "field": "database_url",
            "value": None,
            "message": f"database error: {text.strip().splitlines()[0]}",
        }
        if "no such table" in text or "does not exist" in text:
            error["message"] += "; is the database initialised?"
            error["hint"] = Hint(HintCode.initialise_database).as_dict()
        fail([error], as_json=as_json)
    except OSError as exc:
        # A file the user named (-o, --file, a template) that cannot be read or written.
        where = exc.filename or ""
        fail(
            [
                {
                    "field": "file",
                    "value": str(where) or None,
                    "message": f"{exc.strerror or exc}: {where}" if where else str(exc),
                }
            ],
            as_json=as_json,
        )
    except DBAPIError as exc:
        fail(
            [
                {
                    "field": "database_url",
                    "value": None,
                    "message": f"database error: {str(exc.orig).strip()}",
                }
            ],
            as_json=as_json,
        )
