"""lmsctl lessons: add, list, update, delete, reorder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from lmsctl.options import (
    JsonlOpt,
    JsonOpt,
    LessonRefArg,
    LessonSlugArg,
    by_field,
    group,
    with_options,
)
from lmsctl.output import emit_rows, listing_format, report_change, reporting
from lmsctl.runtime import acting

if TYPE_CHECKING:
    from lms_core.models import Lesson

app = group("Add, update, reorder and delete the lessons of a course.")

CourseArg = Annotated[str, typer.Argument(help="The course's slug.", show_default=False)]
LIST_COLUMNS = (
    "order_index",
    "lesson",
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
    lesson: LessonRefArg,
    title: Annotated[str, typer.Option("--title", help="Title.", show_default=False)],
    slug: LessonSlugArg = None,
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

    Example: lmsctl lessons add intro-to-python/variables --title "Variables" --type text --duration 15
    """
    with reporting(as_json=json_out):
        from lms_core.catalog.fields import LessonCreate
        from lms_core.catalog.lessons import add_lesson, lesson_ref

        ref = lesson_ref(lesson, slug)
        fields = by_field({**locals(), **options}, _OPTION_FIELDS)
        data = LessonCreate(slug=ref.lesson, title=title, position=position, **fields)
    with acting(ctx, as_json=json_out) as (session, actor):
        row = _row(add_lesson(session, actor=actor, course_slug=ref.course, data=data))
    report_change(
        f"added lesson {row['lesson']} at position {row['order_index']}", row, as_json=json_out
    )


def _row(lesson: Lesson) -> dict[str, Any]:
    """A lesson's row, with ``lesson``: how every command names it (``COURSE/LESSON``)."""
    from lms_core.catalog.lessons import lesson_name, lesson_row

    return {"lesson": lesson_name(lesson), **lesson_row(lesson)}


@app.command("list")
def list_(
    ctx: typer.Context, course: CourseArg, jsonl_out: JsonlOpt = False, json_out: JsonOpt = False
) -> None:
    """List a course's lessons in order.

    Example: lmsctl lessons list intro-to-python --json
    """
    from lms_core.catalog.lessons import list_lessons

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        lessons = list_lessons(session, actor=actor, course_slug=course)
        emit_rows(
            (_row(lesson) for lesson in lessons),
            LIST_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
            title=course,
        )


@app.command("update")
@_shared_options
def update(
    ctx: typer.Context,
    lesson: LessonRefArg,
    slug: LessonSlugArg = None,
    new_slug: Annotated[str | None, typer.Option("--slug", help="New slug.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="New title.")] = None,
    lesson_type: Annotated[
        str | None, typer.Option("--type", help="video, text, quiz or assignment.")
    ] = None,
    json_out: JsonOpt = False,
    **options: Any,
) -> None:
    """Change the given fields of a lesson.

    Example: lmsctl lessons update intro-to-python/variables --optional --duration 20
    """
    with reporting(as_json=json_out):
        from lms_core.catalog.fields import LessonUpdate
        from lms_core.catalog.lessons import lesson_ref, update_lesson

        ref = lesson_ref(lesson, slug)
        changes = LessonUpdate(
            slug=new_slug, title=title, **by_field({**locals(), **options}, _OPTION_FIELDS)
        )
    with acting(ctx, as_json=json_out) as (session, actor):
        row = _row(
            update_lesson(
                session, actor=actor, course_slug=ref.course, slug=ref.lesson, data=changes
            )
        )
    report_change(f"updated lesson {row['lesson']}", row, as_json=json_out)


@app.command("delete")
def delete(
    ctx: typer.Context,
    lesson: LessonRefArg,
    slug: LessonSlugArg = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete a lesson; the ones after it move up, progress is recomputed.

    Example: lmsctl lessons delete intro-to-python/variables
    """
    from lms_core.catalog.lessons import delete_lesson, lesson_ref

    with acting(ctx, as_json=json_out) as (session, actor):
        ref = lesson_ref(lesson, slug)
        delete_lesson(session, actor=actor, course_slug=ref.course, slug=ref.lesson)
        name = str(ref)
    report_change(
        f"deleted lesson {name}",
        {"lesson": name, "course_slug": ref.course, "slug": ref.lesson, "deleted": True},
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
    from lms_core.catalog.lessons import reorder_lessons

    with acting(ctx, as_json=json_out) as (session, actor):
        rows = [
            _row(x) for x in reorder_lessons(session, actor=actor, course_slug=course, slugs=slugs)
        ]
    emit_rows(rows, LIST_COLUMNS, as_json=json_out, title=course)
