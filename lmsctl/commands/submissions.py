"""lmsctl submissions: list, submit, grade."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmsctl.commands.assignments import AssignmentArg
from lmsctl.options import JsonlOpt, JsonOpt, group
from lmsctl.output import emit_rows, listing_format, report_change, reporting
from lmsctl.runtime import acting, runtime

app = group("Learners' submissions to assignments, and their grades.")

EmailArg = Annotated[str, typer.Argument(help="The learner's e-mail.", show_default=False)]
LIST_COLUMNS = (
    "id",
    "email",
    "full_name",
    "submitted_at",
    "days_late",
    "grade",
    "final",
    "grader",
)


@app.command("list")
def list_(
    ctx: typer.Context,
    assignment: AssignmentArg,
    jsonl_out: JsonlOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """List an assignment's submissions (learners see their own), with grade and late penalty.

    `grade` is what the grader gave, `final` the grade after the late penalty.

    Example: lmsctl submissions list intro-to-python/homework-1 --json
    """
    from lms_core.assignments.submissions import iter_submissions

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        rows = iter_submissions(session, actor=actor, assignment=assignment)
        emit_rows(rows, LIST_COLUMNS, as_json=json_out, jsonl=jsonl_out, title=assignment)


@app.command("submit")
def submit(
    ctx: typer.Context,
    assignment: AssignmentArg,
    email: EmailArg,
    text: Annotated[str | None, typer.Option("--text", help="The submission's text.")] = None,
    files: Annotated[
        list[Path] | None,
        typer.Option(
            "--file", help="A file to attach (repeat for several).", exists=True, dir_okay=False
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Hand in work for a learner (the learner, or staff acting for them).

    Resubmitting before grading replaces the text and files; after grading it is refused.

    Example: lmsctl submissions submit intro-to-python/homework-1 bo@example.org --text "See attached" --file loops.py
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.assignments.fields import SubmissionCreate
        from lms_core.assignments.files import read_upload
        from lms_core.assignments.submissions import submission_row
        from lms_core.assignments.submissions import submit as submit_service

        settings = rt.get_settings()
        data = SubmissionCreate(text=text, files=[read_upload(p, settings) for p in files or []])
    with acting(ctx, as_json=json_out) as (session, actor):
        result = submit_service(
            session,
            actor=actor,
            settings=settings,
            assignment=assignment,
            email=email,
            data=data,
        )
        row = submission_row(result.submission, result.submission.assignment)
    late = f", {row['days_late']} day(s) late" if row["days_late"] else ""
    report_change(
        f"{result.outcome} submission {row['id']} for {row['email']}{late}",
        {**row, "outcome": result.outcome},
        as_json=json_out,
    )


@app.command("grade")
def grade(
    ctx: typer.Context,
    assignment: AssignmentArg,
    email: EmailArg,
    points: Annotated[
        str,
        typer.Option(
            "--grade", help="Points, 0 to the maximum (7,5 accepted).", show_default=False
        ),
    ],
    feedback: Annotated[str | None, typer.Option("--feedback", help="Feedback.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Grade (or regrade) a learner's submission; the late penalty applies to the final.

    Example: lmsctl submissions grade intro-to-python/homework-1 bo@example.org --grade 17.5 --feedback "Good loops"
    """
    with reporting(as_json=json_out):
        from lms_core.assignments.fields import SubmissionGrade
        from lms_core.assignments.submissions import grade as grade_service
        from lms_core.assignments.submissions import submission_row

        data = SubmissionGrade(points=points, feedback=feedback)
    with acting(ctx, as_json=json_out) as (session, actor):
        graded = grade_service(session, actor=actor, assignment=assignment, email=email, data=data)
        row = submission_row(graded, graded.assignment)
    report_change(
        f"graded {row['email']}: {row['grade']:g} (final {row['final']:g})", row, as_json=json_out
    )
