"""lmsctl grading: offline grading worksheets, out and back in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmsctl.commands.assignments import AssignmentArg
from lmsctl.options import DryRunOpt, JsonOpt, group
from lmsctl.output import emit_rows, print_json, report_change, reporting, say
from lmsctl.runtime import acting, runtime

app = group("Offline grading: export a worksheet, grade it in a spreadsheet, import it.")


@app.command("export")
def export(
    ctx: typer.Context,
    assignment: AssignmentArg,
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="The XLSX to write (a worksheet is XLSX only: locked cells, signed rows).",
            dir_okay=False,
            show_default=False,
        ),
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="xlsx (the only format).", show_default=False),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a grading worksheet: one row per learner, grade and feedback cells to fill in.

    Identity columns are locked, and every row carries a check, so an edited row is caught
    at import.

    Example: lmsctl grading export intro-to-python/homework-1 --format xlsx -o homework-1.xlsx
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.assignments.worksheet import FORMATS, export_worksheet
        from lms_core.formats.atomic import atomic_binary
        from lms_core.formats.output import output_format

        output_format(output, FORMATS, fmt)  # -o x.csv is refused: nothing to import back
        with rt.unit_of_work(write=False) as (session, actor), atomic_binary(output) as out:
            rows = export_worksheet(
                session, actor=actor, settings=rt.get_settings(), assignment=assignment, out=out
            )
    report_change(
        f"wrote {output}: {rows} learner(s)",
        {"assignment": assignment, "rows": rows, "output": str(output)},
        as_json=json_out,
    )


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="A worksheet from `grading export`.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Check a graded worksheet and apply its grades and feedback, all or nothing.

    Every problem is listed with its line and column; nothing is written unless the whole
    file is valid. --dry-run shows the changes (old -> new) without writing.

    Example: lmsctl grading import homework-1.xlsx --dry-run
    """
    rt = runtime(ctx)
    from lms_core.assignments.worksheet_import import import_worksheet

    with acting(ctx, as_json=json_out, write=not dry_run) as (session, actor):
        plan = import_worksheet(
            session,
            actor=actor,
            settings=rt.get_settings(),
            path=file,
            dry_run=dry_run,
            name=str(file),
        )
    if json_out:
        print_json(plan.as_dict())
        return
    rows = [
        {
            "line": c.line,
            "email": c.email,
            "grade": f"{_num(c.old_grade)} -> {_num(c.new_grade)}",
            "feedback": "changed" if c.feedback_changed else "",
        }
        for c in plan.changes
    ]
    if rows:
        emit_rows(rows, ("line", "email", "grade", "feedback"), as_json=False)
    verb = "would change" if dry_run else "changed"
    say(f"{plan.assignment}: {verb} {len(plan.changes)}, unchanged {plan.unchanged}")


def _num(value: object) -> str:
    return "-" if value is None else f"{value:g}"
