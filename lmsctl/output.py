"""Rendering: Rich tables for people, one JSON document for scripts, errors on stderr.

A listing prints every row as a JSON array (``--json``, streamed as the rows are read), one
JSON object a line (``--jsonl``), a Rich table on a terminal, or plain tab-separated rows with
a header line when stdout is not a terminal (a pipe or a file: nothing wrapped or cut).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime
from decimal import Decimal
from itertools import chain
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

    from lms_core.pagination import Page

#: Rows a table shows on a terminal when no ``--page``/``--per-page`` is given.
DEFAULT_PER_PAGE = 50

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


def is_terminal() -> bool:
    """Whether stdout is a terminal (people) rather than a pipe or a file (programs)."""
    return sys.stdout.isatty()


def listing_format(as_json: bool, jsonl: bool) -> bool:
    """Check ``--json``/``--jsonl`` (one of them at most); whether the output is for scripts."""
    if as_json and jsonl:
        raise typer.BadParameter("choose one of --json and --jsonl", param_hint="--jsonl")
    return as_json or jsonl


def _json(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, indent=indent)


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: Any) -> Any:
    """A cell for a rich table: plain ``Text``, never markup. Learners type names and answers
    such as ``[/b]`` or ``[link=...]``, which rich would parse (a MarkupError traceback, or a
    changed table) if given as a string."""
    from rich.text import Text

    return Text(_cell(value))


def _title(title: str | None) -> Any:
    """A table's title as plain text (it may carry a course's or a learner's name)."""
    from rich.text import Text

    return None if title is None else Text(title)


def _tsv(value: Any) -> str:
    """A cell of a tab-separated row: as in a table, but numbers in full, and a backslash,
    tab or line break escaped as in PostgreSQL's text format (``\\\\``, ``\\t``, ``\\n``)."""
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):  # ISO timestamps in full: seconds and time zone are data
        return value.translate(_TSV_ESCAPES)
    return _cell(value).translate(_TSV_ESCAPES)


@contextmanager
def _writing() -> Iterator[None]:
    """Writes to stdout; a reader that went away (``| head``) ends the command quietly."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        _stream.started = False
        # Python would report the closed pipe again at exit: point stdout at nothing.
        with suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None


class _Stream:
    """Whether this process has begun writing a listing's rows to stdout."""

    started = False


_stream = _Stream()


class _Marking:
    """stdout that records, at its first write, that a document has begun there."""

    def __init__(self, out: Any) -> None:
        self._out = out

    def write(self, text: str) -> int:
        if text:
            _stream.started = True
        written: int = self._out.write(text)
        return written


@contextmanager
def document_stdout() -> Iterator[Any]:
    """stdout for a document written in pieces (a report's JSON or CSV): once its first byte
    is out, a failure goes to stderr (:func:`fail`), never as a second JSON document into the
    half-written one; a reader that went away ends the command quietly."""
    with _writing():
        yield _Marking(sys.stdout)
        _stream.started = False


def _write_json_array(rows: Iterable[Mapping[str, Any]], out: Any, *, indent: str = "") -> int:
    """``rows`` as one JSON array written row by row (never built as a list); the count."""
    count = 0
    for row in rows:
        item = _json(row, indent=2).replace("\n", "\n  " + indent)
        _stream.started = True
        out.write(("[\n  " if count == 0 else ",\n  ") + indent + item)
        count += 1
    out.write(f"\n{indent}]" if count else "[]")
    return count


def emit_rows(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    as_json: bool,
    jsonl: bool = False,
    title: str | None = None,
    footer: str | None = None,
) -> int:
    """Every row: a JSON array, JSON lines, a table (terminal) or tab-separated rows (pipe).

    ``rows`` may be an iterator (a stream from ``lms_core.pagination.iter_rows``): JSON, JSON
    lines and tab-separated rows are written as each row comes, in constant memory. All keys
    go to JSON, which scripts read; ``columns`` to the table. The footer is for people: under
    the table, or on stderr when stdout is not a terminal. Returns the rows written.
    """
    out = sys.stdout
    with _writing():
        if as_json:
            count = _write_json_array(rows, out)
            out.write("\n")
            _stream.started = False
            return count
        if jsonl:
            count = 0
            for row in rows:
                _stream.started = True
                out.write(_json(row) + "\n")
                count += 1
            _stream.started = False
            return count
        if not is_terminal():
            # The first row is read before the header is written, so that a query that
            # fails at once (no such table) leaves stdout empty for the error on stderr.
            stream = iter(rows)
            first = next(stream, None)
            out.write("\t".join(columns) + "\n")
            count = 0
            for row in chain([] if first is None else [first], stream):
                out.write("\t".join(_tsv(row.get(c)) for c in columns) + "\n")
                count += 1
            if footer:
                typer.echo(footer, err=True)
            return count
    from rich.console import Console
    from rich.table import Table

    table = Table(title=_title(title), show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        table.add_row(*(_text(row.get(c)) for c in columns))
        count += 1
    console = Console()
    console.print(table)
    if footer:
        console.print(footer, style="dim")
    return count


def _n(number: int) -> str:
    return f"{number:,}"


def page_note(page: Page[Any], noun: str) -> str:
    """Where a page is in the listing: ``page 1 of 6,000 (300,000 users); next: --page 2``."""
    note = f"page {_n(page.page)} of {_n(page.pages)} ({_n(page.total)} {noun})"
    if page.next_page is None:
        return note + "; last page"
    return f"{note}; next: --page {page.next_page}"


def more_note(page: Page[Any], noun: str) -> str:
    """Under a table on a terminal: what is shown, how many more rows exist, how to see them."""
    if not page.items:
        return f"no {noun} on page {page.page} ({_n(page.total)} in all)"
    last = page.first_row + len(page.items) - 1
    shown = f"rows {_n(page.first_row)}-{_n(last)} of {_n(page.total)} {noun}"
    if page.remaining == 0:
        return shown
    return (
        f"{shown}; {_n(page.remaining)} more: add --page {page.next_page} "
        f"(or --per-page N; --json, --jsonl or a pipe lists every row)"
    )


def emit_query(
    session: Session,
    stmt: Select[Any],
    to_row: Callable[[Any], Mapping[str, Any]],
    columns: Sequence[str],
    *,
    as_json: bool,
    jsonl: bool,
    page: int | None,
    per_page: int | None,
    noun: str,
    title: str | None = None,
) -> None:
    """A listing of a query's entities, each shown as ``to_row`` makes it.

    Without ``--page``/``--per-page``: every row, streamed (``iter_rows``) as a JSON array,
    JSON lines or tab-separated rows; on a terminal, a table of the first page with how many
    more rows exist. With them: that page; its place (total, next page) goes to stderr, and
    ``--json`` prints ``{"page", "per_page", "pages", "total", "next_page", "items"}``.
    Call it inside the command's transaction: the rows are read as they are written.
    """
    from lms_core.pagination import iter_rows, paginate

    explicit = page is not None or per_page is not None
    if not explicit and (as_json or jsonl or not is_terminal()):
        count = emit_rows(
            (to_row(x) for x in iter_rows(session, stmt)), columns, as_json=as_json, jsonl=jsonl
        )
        if not (as_json or jsonl):
            typer.echo(f"{_n(count)} {noun}", err=True)
        return
    result = paginate(session, stmt, page=page or 1, per_page=per_page or DEFAULT_PER_PAGE)
    rows = (to_row(x) for x in result.items)
    if as_json:
        head = {
            "page": result.page,
            "per_page": result.per_page,
            "pages": result.pages,
            "total": result.total,
            "next_page": result.next_page,
        }
        with _writing():
            sys.stdout.write(_json(head, indent=2)[:-2] + ',\n  "items": ')
            _write_json_array(rows, sys.stdout, indent="  ")
            sys.stdout.write("\n}\n")
        typer.echo(page_note(result, noun), err=True)
        return
    if jsonl or not is_terminal():
        emit_rows(rows, columns, as_json=False, jsonl=jsonl)
        typer.echo(page_note(result, noun), err=True)
        return
    emit_rows(rows, columns, as_json=False, title=title, footer=more_note(result, noun))


def emit_record(row: Mapping[str, Any], *, as_json: bool, title: str | None = None) -> None:
    if as_json:
        print_json(row)
        return
    if not is_terminal():  # a pipe or a file: one ``field<TAB>value`` line each, never wrapped
        with _writing():
            for key, value in row.items():
                sys.stdout.write(f"{key}\t{_tsv(value)}\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=_title(title), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in row.items():
        table.add_row(key, _text(value))
    Console().print(table)


def report_change(message: str, row: Mapping[str, Any], *, as_json: bool) -> None:
    """A change made: the message for people; with ``--json`` also the changed record, the
    message then going to stderr so that stdout stays one JSON document."""
    say(message, as_json=as_json)
    if as_json:
        emit_record(row, as_json=True)


def notice(message: str) -> None:
    """A note while a command works (waiting for the database): always on stderr, so that
    stdout keeps only the command's output, JSON or not."""
    typer.echo(message, err=True)


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
    "add_quiz_lesson": "run: lmsctl lessons add {course}/{lesson} --title TITLE --type quiz",
    "make_quiz_lesson": "run: lmsctl lessons update {course}/{lesson} --type quiz",
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
    """Report problems and exit: one line each on stderr, or ``{"errors": [...]}`` as JSON.

    Once a listing has started streaming rows to stdout, a second JSON document there would
    only make the output harder to tell from a whole one: the problem goes to stderr and the
    exit code says the rows are incomplete.
    """
    streaming, _stream.started = _stream.started, False
    if as_json and not streaming:
        print_json({"errors": errors})
    else:
        for error in errors:
            typer.echo(error_line(error), err=True)
    raise typer.Exit(code)


@contextmanager
def reporting(*, as_json: bool) -> Iterator[None]:
    """Turn known failures into a clean message and exit code 1; never a traceback."""
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

    from lms_core.errors import ErrorList, Hint, HintCode, LmsError, UsageError
    from lms_core.settings_env import SettingsError  # lms_core.settings imports Pydantic

    try:
        yield
    except UsageError as exc:
        fail([exc.as_dict()], as_json=as_json, code=2)
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
        if "no such column" in text or re.search(r"column \S+ does not exist", text):
            # A table without a column the code reads: a schema older than the code.
            error["message"] += "; is the database at the newest revision?"
            error["hint"] = Hint(HintCode.run_migrations).as_dict()
        elif "no such table" in text or "does not exist" in text:
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
