"""lmsctl reports: student, instructor, course and system figures (docs/reports.md)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from lmsctl.options import JsonOpt, group
from lmsctl.output import emit_record, emit_rows, is_terminal, reporting, say
from lmsctl.runtime import runtime

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lms_core.actor import Actor
    from lms_core.reports.base import Period, Report

app = group("Reports: a learner's, an instructor's, a course's and the site's figures.")

SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only from this date or time on (2026-01-31 or 2026-01-31T08:00; UTC).",
        show_default=False,
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="Only before this date or time (excluded); also the day at-risk and active "
        "learners count back from [default: now].",
        show_default=False,
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="table, json, csv or xlsx [default: from the -o suffix, else table; json with "
        "--json].",
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--output",
        help="Write to this file (.json, .csv or .xlsx) instead of standard output.",
        dir_okay=False,
        show_default=False,
    ),
]
SectionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--section",
        help="Only this section (repeat for several); CSV of one section is a plain table.",
        show_default=False,
    ),
]

Build = Callable[["Session", "Actor", "Period"], "Report"]


def _run(
    ctx: typer.Context,
    build: Build,
    *,
    since: str | None,
    until: str | None,
    fmt: str | None,
    output: Path | None,
    sections: list[str] | None,
    json_out: bool,
) -> None:
    """Parse the options, build the report in one read-only transaction, write it."""
    rt = runtime(ctx)
    rows = 0
    with reporting(as_json=json_out):
        from lms_core.errors import UsageError
        from lms_core.formats.output import output_format
        from lms_core.reports.base import Period, parse_when
        from lms_core.reports.output import FORMATS, write_report

        supported = (*FORMATS, "table")
        default = "json" if json_out else "table"
        fmt = output_format(output, supported, fmt, default=default)
        if output is None and fmt == "xlsx":
            raise UsageError("give -o FILE for XLSX", field="output", value=None)
        if output is None and json_out and fmt != "json":
            raise UsageError(
                f"with --json the report on standard output is JSON: give -o FILE for {fmt}",
                field="format",
                value=fmt,
            )
        if output is not None and fmt == "table":
            raise UsageError(
                "a table is for the terminal: write a file as json, csv or xlsx",
                field="format",
                value=fmt,
            )
        period = Period.of(parse_when(since, "since"), parse_when(until, "until"))
        with rt.unit_of_work(write=False) as (session, actor):
            report = build(session, actor, period)
            if sections:
                report = report.only(sections)
            if output is not None:
                with _open(output, fmt) as out:
                    rows = write_report(session, report, fmt, out)
            elif fmt == "table":
                _table(session, report)
            else:
                write_report(session, report, fmt, sys.stdout)
    if output is not None:
        say(f"wrote {output}: {rows} row(s)", as_json=json_out)
        if json_out:
            emit_record({"format": fmt, "rows": rows, "output": str(output)}, as_json=True)


def _table(session: Session, report: Report) -> None:
    """Each section as a table (terminal) or tab-separated rows under its name (a pipe)."""
    for n, section in enumerate(report.sections):
        rows = (dict(zip(section.columns, row, strict=True)) for row in section.rows(session))
        if not is_terminal():
            sys.stdout.write(("\n" if n else "") + f"[{section.name}]\n")
        emit_rows(rows, section.columns, as_json=False, title=section.name)


def _open(output: Path, fmt: str) -> AbstractContextManager[IO[Any]]:
    """The file, written whole or not at all; CSV in the encoding of every CSV we write."""
    from lms_core.formats.atomic import atomic_binary, atomic_text
    from lms_core.formats.output import csv_file

    if fmt == "csv":
        return csv_file(output)
    return atomic_text(output) if fmt == "json" else atomic_binary(output)


@app.command("student")
def student(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The learner's e-mail.", show_default=False)],
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    section: SectionOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A learner's figures: each enrollment's progress, course grade, certificate and last
    activity; quiz final scores; assignment grades.

    Sections: courses, quizzes, assignments. The period keeps the enrollments made in it.
    Learners see their own report; instructors their learners' enrollments in their courses.

    Example: lmsctl reports student student@demo.example.org --format json
    """

    def build(session: Session, actor: Actor, period: Period) -> Report:
        from lms_core.reports.student import student_report

        return student_report(session, actor=actor, email=email, period=period)

    _run(
        ctx,
        build,
        since=since,
        until=until,
        fmt=fmt,
        output=output,
        sections=section,
        json_out=json_out,
    )


@app.command("instructor")
def instructor(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The instructor's e-mail.", show_default=False)],
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    section: SectionOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """An instructor's courses: learners, completion rate, average course grade, ratings,
    submissions and essays waiting to be graded.

    Section: courses. Instructors see their own report only.

    Example: lmsctl reports instructor instructor@demo.example.org -o teaching.xlsx
    """

    def build(session: Session, actor: Actor, period: Period) -> Report:
        from lms_core.reports.instructor import instructor_report

        return instructor_report(session, actor=actor, email=email, period=period)

    _run(
        ctx,
        build,
        since=since,
        until=until,
        fmt=fmt,
        output=output,
        sections=section,
        json_out=json_out,
    )


@app.command("course")
def course(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="The course's slug.", show_default=False)],
    inactive_days: Annotated[
        int,
        typer.Option("--inactive-days", min=1, help="At risk: no activity for this many days."),
    ] = 14,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    section: SectionOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A course's figures: enrollments per week, completion rate and median time to
    complete, the drop-off funnel, quiz score bands, item analysis, ratings, learners at risk.

    Sections: summary, enrollments_per_week, funnel, scores, questions, responses, ratings,
    at_risk. The period keeps the enrollments made in it (the cohort) and the attempts
    submitted in it. Instructors see their own courses.

    Example: lmsctl reports course demo-python-basics --section at_risk -o risk.csv
    """

    def build(session: Session, actor: Actor, period: Period) -> Report:
        from lms_core.reports.course import course_report

        return course_report(
            session, actor=actor, slug=slug, period=period, inactive_days=inactive_days
        )

    _run(
        ctx,
        build,
        since=since,
        until=until,
        fmt=fmt,
        output=output,
        sections=section,
        json_out=json_out,
    )


@app.command("system")
def system(
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    section: SectionOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The site's figures: users by role and state, active learners (7 and 30 days),
    enrollments and completions per week, certificates per month, imports, dead jobs.

    Sections: totals, users, active_learners, enrollments_per_week, certificates_per_month,
    imports, dead_jobs. Administrators only.

    Example: lmsctl reports system --since 2026-01-01 --format csv
    """

    def build(session: Session, actor: Actor, period: Period) -> Report:
        from lms_core.reports.system import system_report

        return system_report(session, actor=actor, period=period)

    _run(
        ctx,
        build,
        since=since,
        until=until,
        fmt=fmt,
        output=output,
        sections=section,
        json_out=json_out,
    )


class Chart(StrEnum):
    course_funnel = "course-funnel"
    enrollments = "enrollments"
    scores = "scores"
    questions = "questions"


@app.command("chart")
def chart(
    ctx: typer.Context,
    kind: Annotated[Chart, typer.Argument(help="Which chart.", show_default=False)],
    slug: Annotated[str, typer.Argument(help="The course's slug.", show_default=False)],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="The image to write: .png or .svg.", dir_okay=False),
    ],
    since: SinceOpt = None,
    until: UntilOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Draw a course's funnel, weekly enrollments, score bands or item analysis (PNG, SVG).

    course-funnel: share of learners per lesson, in order; enrollments: enrollments and
    completions per week; scores: final quiz scores in 10-point bands; questions: facility
    and discrimination index per question.

    The numbers are the course report's (lmsctl reports course); the period works the same.
    The file is written whole or not at all.

    Example: lmsctl reports chart course-funnel demo-python-basics -o funnel.png
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.reports.base import Period, parse_when
        from lms_core.reports.charts import chart_format, draw_chart

        chart_format(output)  # a wrong suffix is refused before any work
        period = Period.of(parse_when(since, "since"), parse_when(until, "until"))
        with rt.unit_of_work(write=False) as (session, actor):
            rows = draw_chart(
                session, actor=actor, kind=kind.value, slug=slug, period=period, output=output
            )
    say(f"wrote {output}: {kind.value} of {slug}, {rows} row(s)", as_json=json_out)
    if json_out:
        emit_record(
            {"chart": kind.value, "course": slug, "rows": rows, "output": str(output)},
            as_json=True,
        )
