"""lmsctl gradebook: export a course's grades."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from lmsctl.options import JsonOpt, group
from lmsctl.output import emit_record, reporting, say
from lmsctl.runtime import runtime

app = group("The gradebook: every learner's quiz scores, assignment grades, total, progress.")


@app.callback()
def gradebook() -> None:
    """The gradebook: every learner's quiz scores, assignment grades, total, progress."""
    # A callback keeps `gradebook` a group (`gradebook export`) though it has one command.


@app.command("export")
def export(
    ctx: typer.Context,
    course: Annotated[str, typer.Argument(help="The course's slug.", show_default=False)],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="csv, xlsx or json [default: from the -o suffix, else csv].",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="The file to write: .csv, .xlsx or .json (default: CSV on standard output).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export the gradebook: one row per learner, streamed in constant memory.

    Columns: email, full_name, each quiz's final score (%), each assignment's final points
    (after the late penalty), total (equal-weight mean of the graded items, in %), progress,
    status, completed_at. An item with no grade (not attempted, not submitted, or submitted
    and not graded yet) is empty (null in JSON). Cells that a spreadsheet would run as
    formulas are neutralised. The format follows the suffix of -o.

    Example: lmsctl gradebook export intro-to-python -o grades.xlsx
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.assignments.gradebook import FORMATS, export_gradebook
        from lms_core.errors import UsageError
        from lms_core.formats.output import output_format

        fmt = output_format(output, FORMATS, fmt, default="csv")
        if output is None and (fmt == "xlsx" or json_out):
            raise UsageError(
                "give -o FILE (XLSX, and --json, need a file)", field="output", value=None
            )
        show = sys.stderr.isatty() and not json_out
        with rt.unit_of_work(write=False) as (session, actor), _progress(show) as bar:
            if show:
                from lms_core.assignments.gradebook import learner_count

                bar.start(learner_count(session, course))
            if output is None:
                rows = export_gradebook(
                    session,
                    actor=actor,
                    course_slug=course,
                    fmt=fmt,
                    out=sys.stdout,
                    progress=bar.tick,
                )
            else:
                with _open(output, fmt) as out:
                    rows = export_gradebook(
                        session,
                        actor=actor,
                        course_slug=course,
                        fmt=fmt,
                        out=out,
                        progress=bar.tick,
                    )
    if output is not None:
        say(f"wrote {output}: {rows} learner(s)", as_json=json_out)
    if json_out:
        emit_record(
            {"course": course, "format": fmt, "rows": rows, "output": str(output)}, as_json=True
        )


def _open(output: Path, fmt: str) -> AbstractContextManager[IO[Any]]:
    """The file, written whole or not at all; CSV in the encoding of every CSV we write."""
    from lms_core.formats.atomic import atomic_binary, atomic_text
    from lms_core.formats.output import csv_file

    if fmt == "csv":
        return csv_file(output)
    return atomic_text(output) if fmt == "json" else atomic_binary(output)


class _Bar:
    """A progress bar on standard error, or nothing (not a terminal, or --json)."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.task: Any = None

    def start(self, total: int) -> None:
        self.task = self.progress.add_task("gradebook", total=total)

    def tick(self, done: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=done)


@contextmanager
def _progress(show: bool) -> Iterator[_Bar]:
    if not show:  # rich is not even imported: a cron job's export starts sooner
        yield _Bar(None)
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        yield _Bar(bar)
