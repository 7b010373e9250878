"""lmsctl assignments: create, update, list, show."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lmsctl.options import JsonOpt, group
from lmsctl.output import emit_record, emit_rows, reporting, say
from lmsctl.runtime import runtime

app = group("Assignments: due dates, points, late policy.")

AssignmentArg = Annotated[
    str,
    typer.Argument(
        help="COURSE_SLUG/LESSON_SLUG, or the id that `assignments list` shows.",
        show_default=False,
    ),
]
Description = Annotated[str | None, typer.Option("--description", help="What to hand in.")]
Due = Annotated[
    str | None,
    typer.Option("--due", help="Due date, ISO 8601 (a bare date means its end, UTC)."),
]
MaxPoints = Annotated[str | None, typer.Option("--max-points", help="Points possible.")]
Policy = Annotated[
    str | None,
    typer.Option("--late-policy", help="accept (until --late-cutoff, with --penalty) or refuse."),
]
Cutoff = Annotated[
    str | None, typer.Option("--late-cutoff", help="Last moment late work is accepted.")
]
Penalty = Annotated[
    str | None, typer.Option("--penalty", help="Percent of the grade off per started day late.")
]
LIST_COLUMNS = ("id", "ref", "title", "due_date", "max_points", "late_policy")


@app.command("create")
def create(
    ctx: typer.Context,
    course: Annotated[str, typer.Argument(help="The course's slug.", show_default=False)],
    lesson: Annotated[
        str | None, typer.Argument(help="A lesson of type assignment (optional).")
    ] = None,
    title: Annotated[str, typer.Option("--title", help="Title.", show_default=False)] = "",
    description: Description = None,
    due: Due = None,
    max_points: MaxPoints = "100",
    late_policy: Policy = "accept",
    late_cutoff: Cutoff = None,
    penalty: Penalty = "0",
    json_out: JsonOpt = False,
) -> None:
    """Create an assignment in a course, or for one of its lessons of type assignment.

    Example: lmsctl assignments create intro-to-python homework-1 --title "Loops" --due 2026-12-01 --max-points 20 --late-policy accept --late-cutoff 2026-12-04 --penalty 10
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.assignments.assignments import assignment_row, create_assignment

        with rt.unit_of_work() as (session, actor):
            row = assignment_row(
                create_assignment(
                    session,
                    actor=actor,
                    course_slug=course,
                    lesson_slug=lesson,
                    title=title,
                    description=description,
                    due_date=due,
                    max_points=max_points or "100",
                    late_policy=late_policy or "accept",
                    late_cutoff=late_cutoff,
                    late_penalty_percent=penalty or "0",
                )
            )
    say(f"created assignment {row['ref']} (id {row['id']})", as_json=json_out)
    if json_out:
        emit_record(row, as_json=True)


@app.command("update")
def update(
    ctx: typer.Context,
    assignment: AssignmentArg,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
    description: Description = None,
    due: Due = None,
    max_points: MaxPoints = None,
    late_policy: Policy = None,
    late_cutoff: Cutoff = None,
    penalty: Penalty = None,
    json_out: JsonOpt = False,
) -> None:
    """Change the given fields; days late are recomputed when the due date moves.

    Example: lmsctl assignments update intro-to-python/homework-1 --due 2026-12-08
    """
    rt = runtime(ctx)
    fields: dict[str, Any] = {
        "title": title,
        "description": description,
        "due_date": due,
        "max_points": max_points,
        "late_policy": late_policy,
        "late_cutoff": late_cutoff,
        "late_penalty_percent": penalty,
    }
    with reporting(as_json=json_out):
        from lms_core.assignments.assignments import assignment_row, update_assignment

        with rt.unit_of_work() as (session, actor):
            row = assignment_row(
                update_assignment(
                    session,
                    actor=actor,
                    ref=assignment,
                    **{k: v for k, v in fields.items() if v is not None},
                )
            )
    say(f"updated assignment {row['ref']}", as_json=json_out)
    if json_out:
        emit_record(row, as_json=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    course: Annotated[str | None, typer.Option("--course", help="Only this course.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the assignments you may see (instructors: their courses'; learners: enrolled ones).

    Example: lmsctl assignments list --course intro-to-python --json
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.assignments.assignments import assignment_row, list_assignments

        with rt.unit_of_work(write=False) as (session, actor):
            rows = [
                assignment_row(a)
                for a in list_assignments(session, actor=actor, course_slug=course)
            ]
    emit_rows(rows, LIST_COLUMNS, as_json=json_out)


@app.command("show")
def show(ctx: typer.Context, assignment: AssignmentArg, json_out: JsonOpt = False) -> None:
    """Show an assignment, with submission counts for its instructor.

    Example: lmsctl assignments show intro-to-python/homework-1
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.assignments.assignments import show_assignment

        with rt.unit_of_work(write=False) as (session, actor):
            row = show_assignment(session, actor=actor, ref=assignment)
    emit_record(row, as_json=json_out, title=row["ref"])
