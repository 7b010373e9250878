"""Rendering of ``lmsctl import`` results: counts table, first changes, errors, progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from lmsctl.output import say, with_hint

if TYPE_CHECKING:
    from lms_core.errors import FileProblem
    from lms_core.imports.report import ImportReport

COUNT_COLUMNS = ("create", "update", "unchanged", "deactivate", "skipped")


@contextmanager
def progress_display(as_json: bool) -> Iterator[Callable[[str, int], None]]:
    """A progress display on stderr, only on a terminal (never under cron or with --json)."""
    if as_json or not sys.stderr.isatty():
        yield lambda _what, _n: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def tick(what: str, done: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=None)
            bar.update(tasks[what], completed=done, description=f"{what}: {done:,}")

        yield tick


def render(report: ImportReport, as_json: bool) -> None:
    if as_json:
        report.write_json(sys.stdout)
        sys.stdout.flush()
    else:
        _render_text(report)
    report.close()
    if report.refused:
        raise typer.Exit(1)


def _count_rows(counts: dict[str, Any], entity: str) -> list[dict[str, Any]]:
    nested = {k: v for k, v in counts.items() if isinstance(v, dict)}
    if entity == "oneroster":
        return [{"records": name, **c} for name, c in nested.items()]
    top = {k: v for k, v in counts.items() if not isinstance(v, dict)}
    return [{"records": entity, **top}] + [{"records": name, **c} for name, c in nested.items()]


def _render_text(report: ImportReport) -> None:
    if report.unchanged_since is not None:
        say(f"{report.skip_message} (use --recheck to read it anyway)")
        return
    for warning in report.warnings:
        typer.echo(problem_line("warning", warning), err=True)
    if report.refused:
        _render_refusal(report)  # the problems only: a plan of a refused file is no plan
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="import plan" if report.dry_run else "import")
    for column in ("records", *COUNT_COLUMNS):
        table.add_column(column, justify="left" if column == "records" else "right")
    for row in _count_rows(report.counts, report.entity):
        table.add_row(str(row["records"]), *(str(row.get(c, 0)) for c in COUNT_COLUMNS))
    console.print(table)
    if not report.refused and report.head:
        changes = Table(title=f"first {len(report.head)} changes", show_lines=False)
        for column in ("action", "record", "key", "changes"):
            changes.add_column(column, overflow="fold")
        for c in report.head:
            if c.before:
                what = ", ".join(
                    f"{f}: {c.before.get(f)!r} → {(c.after or {}).get(f)!r}" for f in c.fields
                )
            else:
                what = ", ".join(f for f in c.fields if (c.after or {}).get(f) is not None)
            changes.add_row(c.action, c.entity_type, c.key, what)
        console.print(changes)
    inactive = (report.counts.get("enrollments") or {}).get("inactive_learners")
    if inactive:
        say(
            f"{inactive} enrollment(s) of disabled users kept: they sign in once the SIS "
            "enables them"
        )
    if report.dry_run:
        say("dry run: nothing was written")
    else:
        extra = f", {report.invites} invitation(s)" if report.invites else ""
        say(f"applied as import run {report.run_id} in {report.duration_ms / 1000:.1f} s{extra}")
        if report.uninvited:
            say(
                f"{report.uninvited} user(s) need an invitation: "
                f"lmsctl users invite --run {report.run_id} -o invites.csv"
            )


def _render_refusal(report: ImportReport) -> None:
    """Every problem on stderr, by line, a repeated one once with its lines; then the verdict."""
    from lms_core.imports.report import grouped

    for group in grouped(report.errors):
        typer.echo(problem_line("error", group.first, group.lines), err=True)
    if report.error_count > len(report.errors):
        typer.echo(
            f"error: ... and {report.error_count - len(report.errors)} more problems", err=True
        )
    say(f"refused: {report.error_count} problem(s); nothing was written")


#: Lines of a repeated problem listed before "..." and the count.
SHOWN_LINES = 5
#: Characters of a value shown in a problem's line.
SHOWN_VALUE = 60


def _shown_value(problem: FileProblem) -> str:
    """``"teacher": `` before the message: the value as typed, invisible characters written
    out (``\\u00a0``), long ones cut; nothing when it is empty or the message quotes it."""
    value = problem.value
    if value is None or value == "" or not problem.column or value == problem.column:
        return ""  # a file's own problem (a sync threshold's count) is in its message
    text = str(value)
    if f'"{text}"' in problem.message or f'"{text.strip()}"' in problem.message:
        return ""
    cut = text[:SHOWN_VALUE]
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in cut)
    return f'"{shown}{"..." if len(text) > SHOWN_VALUE else ""}": '


def problem_line(kind: str, problem: FileProblem, lines: list[int] | None = None) -> str:
    """``error: term.csv, line 6, column role: "teacher": must be one of ...``; a problem on
    several lines: ``error: term.csv, column course_slug: "ds": no course ..., lines 4, 9,
    12, 15, 20, ... (14)``."""
    where = problem.file
    several = lines is not None and len(lines) > 1
    if problem.line is not None and not several:
        where += f", line {problem.line}"
    if problem.column:
        where += f", column {problem.column}"
    text = _shown_value(problem) + problem.message
    if several and lines is not None:
        listed = ", ".join(str(n) for n in lines[:SHOWN_LINES])
        more = f", ... ({len(lines)})" if len(lines) > SHOWN_LINES else f" ({len(lines)})"
        text += f", lines {listed}{more}"
    hint = problem.hint.as_dict() if problem.hint else None
    return f"{kind}: {where}: {with_hint(text, hint)}"
