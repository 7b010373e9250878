"""lmsctl gradebook: export a course's grades."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

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
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx.")] = "csv",
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="The file to write (CSV: default stdout).", dir_okay=False
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export the gradebook: one row per learner, streamed in constant memory.

    Columns: email, full_name, each quiz's final score (%), each assignment's final points
    (after the late penalty), total (equal-weight mean of the graded items, in %), progress,
    status, completed_at. Cells that a spreadsheet would run as formulas are neutralised.

    Example: lmsctl gradebook export intro-to-python --format xlsx -o grades.xlsx
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.assignments.gradebook import export_gradebook
        from lms_core.errors import ValidationError

        if output is None and (fmt == "xlsx" or json_out):
            raise ValidationError(
                "give -o FILE (XLSX, and --json, need a file)", field="output", value=None
            )
        from rich.console import Console
        from rich.progress import Progress

        from lms_core.assignments.gradebook import learner_count

        show = sys.stderr.isatty() and not json_out
        with (
            rt.unit_of_work(write=False) as (session, actor),
            Progress(console=Console(stderr=True), disable=not show, transient=True) as bar,
        ):
            task = bar.add_task("gradebook", total=learner_count(session, course) if show else None)

            def tick(done: int) -> None:
                bar.update(task, completed=done)

            if output is None:
                rows = export_gradebook(
                    session, actor=actor, course_slug=course, fmt=fmt, out=sys.stdout, progress=tick
                )
            else:
                from lms_core.formats.atomic import atomic_binary, atomic_text

                with atomic_text(output) if fmt == "csv" else atomic_binary(output) as out:
                    rows = export_gradebook(
                        session, actor=actor, course_slug=course, fmt=fmt, out=out, progress=tick
                    )
    if output is not None:
        say(f"wrote {output}: {rows} learner(s)", as_json=json_out)
    if json_out:
        emit_record({"course": course, "rows": rows, "output": str(output)}, as_json=True)
