"""lmsctl export: users, courses (with lessons), enrollments to CSV or XLSX, re-importable."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from lmsctl.options import JsonOpt, group
from lmsctl.output import print_json, reporting, say
from lmsctl.runtime import acting

app = group(
    "Export users, courses, enrollments to CSV or XLSX, in the import columns "
    "(edit the file, import it again)."
)

FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="csv or xlsx [default: from the -o suffix, else csv].",
        show_default=False,
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--output",
        help="The file to write, .csv or .xlsx (CSV: standard output when omitted).",
        dir_okay=False,
        show_default=False,
    ),
]
CourseOpt = Annotated[
    str | None, typer.Option("--course", help="Only this course (slug).", show_default=False)
]


def _format(fmt: str | None, out: Path | None, json_out: bool, lessons_out: Path | None) -> str:
    """The format of -o's suffix, checked against --format; usage errors exit 2."""
    from lms_core.errors import UsageError
    from lms_core.formats.output import output_format

    fmt = output_format(out, ("csv", "xlsx"), fmt, default="csv")
    if lessons_out is not None:
        output_format(lessons_out, ("csv",), field="lessons_out")
    if fmt == "xlsx" and out is None:
        raise UsageError("XLSX needs a file: add -o FILE.xlsx", field="output")
    if json_out and out is None:
        raise UsageError("--json needs -o FILE (standard output carries the CSV)", field="output")
    return fmt


def _reader_went_away() -> NoReturn:
    """``lmsctl export users | head``: the reader has what it wanted; stop quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so that the exit's final flush does not fail too
    raise typer.Exit(0)


def _run(
    ctx: typer.Context,
    entity: str,
    json_out: bool,
    *,
    fmt: str | None,
    out: Path | None,
    lessons_out: Path | None = None,
    role: str | None = None,
    course: str | None = None,
    include_inactive: bool = False,
) -> None:
    with reporting(as_json=json_out):
        fmt = _format(fmt, out, json_out, lessons_out)
    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        from rich.console import Console
        from rich.progress import Progress

        from lms_core.exports.entities import export

        show = sys.stderr.isatty() and out is not None and not json_out
        with Progress(console=Console(stderr=True), disable=not show, transient=True) as bar:
            task = bar.add_task(f"exporting {entity}", total=None)
            try:
                result = export(
                    session,
                    actor=actor,
                    entity=entity,
                    fmt=fmt,
                    out=out if out is not None else sys.stdout,
                    lessons_out=lessons_out,
                    role=role,
                    course_slug=course,
                    include_inactive=include_inactive,
                    progress=lambda sheet, n: bar.update(task, description=sheet, completed=n),
                )
            except BrokenPipeError:
                _reader_went_away()
    if out is None:
        return
    if json_out:
        print_json(result.as_dict())
        return
    sheets = ", ".join(f"{n} {name}" for name, n in result.rows.items())
    say(f"wrote {sheets} to {', '.join(result.files)}")


@app.command("users")
def users(
    ctx: typer.Context,
    fmt: FormatOpt = None,
    out: OutOpt = None,
    role: Annotated[
        str | None, typer.Option("--role", help="Only this role.", show_default=False)
    ] = None,
    include_inactive: Annotated[
        bool, typer.Option("--include-inactive", help="Also deactivated users (is_active false).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Export users (external_id, email, full_name, role, is_active); never passwords.

    Administrators only. Soft-deleted users are left out.

    Example: lmsctl export users --format xlsx -o users.xlsx
    """
    _run(ctx, "users", json_out, role=role, include_inactive=include_inactive, fmt=fmt, out=out)


@app.command("courses")
def courses(
    ctx: typer.Context,
    fmt: FormatOpt = None,
    out: OutOpt = None,
    lessons_out: Annotated[
        Path | None,
        typer.Option(
            "--lessons-out",
            help="CSV only: also write the lessons to this file (XLSX has a lessons sheet).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    course: CourseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export courses, and their lessons (a second sheet, or --lessons-out for CSV).

    Administrators export every course, instructors their own.

    Example: lmsctl export courses -o courses.csv --lessons-out lessons.csv
    """
    _run(ctx, "courses", json_out, lessons_out=lessons_out, course=course, fmt=fmt, out=out)


@app.command("enrollments")
def enrollments(
    ctx: typer.Context,
    fmt: FormatOpt = None,
    out: OutOpt = None,
    course: CourseOpt = None,
    include_inactive: Annotated[
        bool, typer.Option("--include-inactive", help="Also dropped enrollments.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Export enrollments (user_email, user_external_id, course_slug, course_external_id, status).

    Administrators export every course's, instructors their own courses'.

    Example: lmsctl export enrollments --course intro-python -o enrollments.csv
    """
    _run(
        ctx,
        "enrollments",
        json_out,
        course=course,
        include_inactive=include_inactive,
        fmt=fmt,
        out=out,
    )
