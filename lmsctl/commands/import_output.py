"""Rendering of ``lmsctl import`` results: counts table, first changes, errors, progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from lmsctl.output import error_line, say

if TYPE_CHECKING:
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
    for error in report.errors:
        typer.echo(error_line(error.as_dict()), err=True)
    if report.error_count > len(report.errors):
        typer.echo(
            f"error: ... and {report.error_count - len(report.errors)} more problems", err=True
        )
    if report.refused:
        say(f"refused: {report.error_count} problem(s); nothing was written")
    elif report.dry_run:
        say("dry run: nothing was written")
    else:
        extra = f", {report.invites} invitation(s)" if report.invites else ""
        say(f"applied as import run {report.run_id} in {report.duration_ms / 1000:.1f} s{extra}")
