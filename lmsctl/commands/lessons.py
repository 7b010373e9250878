"""lmsctl lessons: add, list, update, delete, reorder."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lmsctl.options import JsonOpt, by_field, group, with_options
from lmsctl.output import emit_rows, report_change, reporting
from lmsctl.runtime import acting

app = group("Add, update, reorder and delete the lessons of a course.")

CourseArg = Annotated[str, typer.Argument(help="The course's slug.", show_default=False)]
LessonArg = Annotated[str, typer.Argument(help="The lesson's slug.", show_default=False)]
LIST_COLUMNS = (
    "order_index",
    "slug",
    "title",
    "lesson_type",
    "duration_minutes",
    "is_required",
    "is_preview",
)
Content = Annotated[str | None, typer.Option("--content", help="Text or HTML of the lesson.")]
Duration = Annotated[int | None, typer.Option("--duration", help="Minutes.", min=0)]
VideoUrl = Annotated[str | None, typer.Option("--video-url", help="Video URL.")]
Preview = Annotated[
    bool | None, typer.Option("--preview/--no-preview", help="Visible before enrolling.")
]
Required = Annotated[
    bool | None, typer.Option("--required/--optional", help="Counts toward completion.")
]


#: The options shared by add and update, and the lesson field each one sets.
_OPTION_FIELDS = {
    "lesson_type": "lesson_type",
    "content": "content",
    "duration": "duration_minutes",
    "video_url": "video_url",
    "preview": "is_preview",
    "required": "is_required",
}
#: Those options add and update declare alike (after their own ``--type``).
_shared_options = with_options(
    ("content", Content, None),
    ("duration", Duration, None),
    ("video_url", VideoUrl, None),
    ("preview", Preview, None),
    ("required", Required, None),
)


@app.command("add")
@_shared_options
def add(
    ctx: typer.Context,
    course: CourseArg,
    slug: LessonArg,
    title: Annotated[str, typer.Option("--title", help="Title.", show_default=False)],
    lesson_type: Annotated[
        str, typer.Option("--type", help="video, text, quiz or assignment.")
    ] = "text",
    position: Annotated[
        int | None, typer.Option("--position", help="1-based place; default last.", min=1)
    ] = None,
    json_out: JsonOpt = False,
    **options: Any,
) -> None:
    """Add a lesson at the end of a course (or at --position).

    Example: lmsctl lessons add intro-to-python variables --title "Variables" --type text --duration 15
    """
    with reporting(as_json=json_out):
        from lms_core.catalog.fields import LessonCreate
        from lms_core.catalog.lessons import add_lesson, lesson_row

        fields = by_field({**locals(), **options}, _OPTION_FIELDS)
        data = LessonCreate(slug=slug, title=title, position=position, **fields)
    with acting(ctx, as_json=json_out) as (session, actor):
        row = lesson_row(add_lesson(session, actor=actor, course_slug=course, data=data))
    report_change(
        f"added lesson {row['slug']} to {course} at position {row['order_index']}",
        row,
        as_json=json_out,
    )


@app.command("list")
def list_(ctx: typer.Context, course: CourseArg, json_out: JsonOpt = False) -> None:
    """List a course's lessons in order.

    Example: lmsctl lessons list intro-to-python --json
    """
    from lms_core.catalog.lessons import lesson_row, list_lessons

    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        rows = [
            lesson_row(lesson) for lesson in list_lessons(session, actor=actor, course_slug=course)
        ]
    emit_rows(rows, LIST_COLUMNS, as_json=json_out, title=course)


@app.command("update")
@_shared_options
def update(
    ctx: typer.Context,
    course: CourseArg,
    slug: LessonArg,
    new_slug: Annotated[str | None, typer.Option("--slug", help="New slug.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
    lesson_type: Annotated[
        str | None, typer.Option("--type", help="video, text, quiz or assignment.")
    ] = None,
    json_out: JsonOpt = False,
    **options: Any,
) -> None:
    """Change the given fields of a lesson.

    Example: lmsctl lessons update intro-to-python variables --optional --duration 20
    """
    with reporting(as_json=json_out):
        from lms_core.catalog.fields import LessonUpdate
        from lms_core.catalog.lessons import lesson_row, update_lesson

        changes = LessonUpdate(
            slug=new_slug, title=title, **by_field({**locals(), **options}, _OPTION_FIELDS)
        )
    with acting(ctx, as_json=json_out) as (session, actor):
        row = lesson_row(
            update_lesson(session, actor=actor, course_slug=course, slug=slug, data=changes)
        )
    report_change(f"updated lesson {row['slug']} of {course}", row, as_json=json_out)


@app.command("delete")
def delete(
    ctx: typer.Context, course: CourseArg, slug: LessonArg, json_out: JsonOpt = False
) -> None:
    """Delete a lesson; the ones after it move up, progress is recomputed.

    Example: lmsctl lessons delete intro-to-python variables
    """
    from lms_core.catalog.lessons import delete_lesson

    with acting(ctx, as_json=json_out) as (session, actor):
        delete_lesson(session, actor=actor, course_slug=course, slug=slug)
    report_change(
        f"deleted lesson {slug} of {course}",
        {"course_slug": course, "slug": slug, "deleted": True},
        as_json=json_out,
    )


@app.command("reorder")
def reorder(
    ctx: typer.Context,
    course: CourseArg,
    slugs: Annotated[
        list[str], typer.Argument(help="Every lesson slug, in the new order.", show_default=False)
    ],
    json_out: JsonOpt = False,
) -> None:
    """Put a course's lessons in a new order (name every lesson once).

    Example: lmsctl lessons reorder intro-to-python setup variables loops functions
    """
    from lms_core.catalog.lessons import lesson_row, reorder_lessons

    with acting(ctx, as_json=json_out) as (session, actor):
        rows = [
            lesson_row(x)
            for x in reorder_lessons(session, actor=actor, course_slug=course, slugs=slugs)
        ]
    emit_rows(rows, LIST_COLUMNS, as_json=json_out, title=course)
