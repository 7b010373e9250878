"""lmsctl assignments: create, update, list, show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from lmsctl.options import CourseFilterOpt, F, JsonlOpt, JsonOpt, group, with_options
from lmsctl.output import emit_record, emit_rows, listing_format, report_change, reporting
from lmsctl.runtime import acting

app = group("Assignments: due dates, points, late policy.")

AssignmentArg = Annotated[
    str,
    typer.Argument(
        help="COURSE/LESSON (its lesson), or the id that `assignments list` shows.",
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


def field_options(
    max_points: str | None = None,
    late_policy: str | None = None,
    late_penalty_percent: str | None = None,
) -> Callable[[F], F]:
    """The fields ``create`` and ``update`` take, declared once and named after the assignment's
    fields (``lms_core.assignments.fields.AssignmentFields``); ``create`` shows its defaults."""
    return with_options(
        ("description", Description, None),
        ("due_date", Due, None),
        ("max_points", MaxPoints, max_points),
        ("late_policy", Policy, late_policy),
        ("late_cutoff", Cutoff, None),
        ("late_penalty_percent", Penalty, late_penalty_percent),
    )


@app.command("create")
@field_options(max_points="100", late_policy="accept", late_penalty_percent="0")
def create(
    ctx: typer.Context,
    course: Annotated[
        str,
        typer.Argument(
            metavar="COURSE[/LESSON]",
            help="The course's slug, or COURSE/LESSON for a lesson of type assignment.",
            show_default=False,
        ),
    ],
    lesson: Annotated[
        str | None,
        typer.Argument(help="A lesson of type assignment, when the course is given alone."),
    ] = None,
    title: Annotated[str, typer.Option("--title", help="Title.", show_default=False)] = "",
    json_out: JsonOpt = False,
    **fields: Any,
) -> None:
    """Create an assignment in a course, or for one of its lessons of type assignment.

    Example: lmsctl assignments create intro-to-python/homework-1 --title "Loops" --due 2026-12-01 --max-points 20 --late-policy accept --late-cutoff 2026-12-04 --penalty 10
    """
    with reporting(as_json=json_out):
        from lms_core.assignments.assignments import assignment_row, create_assignment
        from lms_core.assignments.fields import AssignmentCreate
        from lms_core.catalog.lessons import lesson_ref

        data = AssignmentCreate(title=title, **fields)
        if lesson is not None or "/" in course:
            ref = lesson_ref(course, lesson)
            course, lesson = ref.course, ref.lesson
    with acting(ctx, as_json=json_out) as (session, actor):
        row = assignment_row(
            create_assignment(
                session, actor=actor, course_slug=course, lesson_slug=lesson, data=data
            )
        )
    report_change(f"created assignment {row['ref']} (id {row['id']})", row, as_json=json_out)


@app.command("update")
@field_options()
def update(
    ctx: typer.Context,
    assignment: AssignmentArg,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
    json_out: JsonOpt = False,
    **fields: Any,
) -> None:
    """Change the given fields; days late are recomputed when the due date moves.

    Example: lmsctl assignments update intro-to-python/homework-1 --due 2026-12-08
    """
    with reporting(as_json=json_out):
        from lms_core.assignments.assignments import assignment_row, update_assignment
        from lms_core.assignments.fields import AssignmentUpdate

        data = AssignmentUpdate(title=title, **fields)
    with acting(ctx, as_json=json_out) as (session, actor):
        row = assignment_row(update_assignment(session, actor=actor, ref=assignment, data=data))
    report_change(f"updated assignment {row['ref']}", row, as_json=json_out)


@app.command("list")
def list_(
    ctx: typer.Context,
    course: CourseFilterOpt = None,
    jsonl_out: JsonlOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """List the assignments you may see (instructors: their courses'; learners: enrolled ones).

    Example: lmsctl assignments list --course intro-to-python --json
    """
    from lms_core.assignments.assignments import assignment_row, assignments_query
    from lms_core.pagination import iter_rows

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        stmt = assignments_query(session, actor=actor, course_slug=course)
        emit_rows(
            (assignment_row(a) for a in iter_rows(session, stmt)),
            LIST_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
        )


@app.command("show")
def show(ctx: typer.Context, assignment: AssignmentArg, json_out: JsonOpt = False) -> None:
    """Show an assignment, with submission counts for its instructor.

    Example: lmsctl assignments show intro-to-python/homework-1
    """
    from lms_core.assignments.assignments import show_assignment

    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        row = show_assignment(session, actor=actor, ref=assignment)
    emit_record(row, as_json=json_out, title=row["ref"])
