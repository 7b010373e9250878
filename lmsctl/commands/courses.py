"""lmsctl courses: create, list, show, update, publish, unpublish, delete."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lmsctl.options import (
    JsonlOpt,
    JsonOpt,
    ListJsonOpt,
    PageOpt,
    PerPageOpt,
    by_field,
    group,
    with_options,
)
from lmsctl.output import emit_query, emit_record, listing_format, report_change, reporting
from lmsctl.runtime import acting

app = group("Create, publish, list and delete courses (named by slug).")

SlugArg = Annotated[
    str, typer.Argument(help="The course's slug, e.g. intro-to-python.", show_default=False)
]
LIST_COLUMNS = ("slug", "title", "instructor_email", "category", "difficulty_level", "is_published")
Title = Annotated[str | None, typer.Option("--title", help="Title.")]
Description = Annotated[str | None, typer.Option("--description", help="Description.")]
Category = Annotated[str | None, typer.Option("--category", help="Category, e.g. programming.")]
Difficulty = Annotated[
    str | None, typer.Option("--difficulty", help="beginner, intermediate or advanced.")
]
Thumbnail = Annotated[str | None, typer.Option("--thumbnail-url", help="Image URL.")]
Duration = Annotated[
    int | None, typer.Option("--duration", help="Estimated duration in minutes.", min=0)
]
MinGrade = Annotated[
    float | None,
    typer.Option(
        "--certificate-min-grade",
        min=0,
        max=100,
        help="Course grade (%) needed for a certificate where the course has graded work.",
    ),
]
ExternalId = Annotated[str | None, typer.Option("--external-id", help="SIS key.")]
AutoCertificate = Annotated[
    bool | None,
    typer.Option(
        "--auto-certificate/--no-auto-certificate",
        help="Issue each learner's certificate when they complete the course (by a job).",
    ),
]


#: The options shared by create and update, and the course field each one sets.
_OPTION_FIELDS = {
    "instructor": "instructor_email",
    "description": "description",
    "category": "category",
    "difficulty": "difficulty_level",
    "thumbnail_url": "thumbnail_url",
    "duration": "estimated_duration_minutes",
    "external_id": "external_id",
    "min_grade": "certificate_min_grade",
    "auto_certificate": "auto_certificate",
}
#: Those options create and update declare alike (after their own ``--instructor``).
_shared_options = with_options(
    ("description", Description, None),
    ("category", Category, None),
    ("difficulty", Difficulty, None),
    ("thumbnail_url", Thumbnail, None),
    ("duration", Duration, None),
    ("external_id", ExternalId, None),
    ("min_grade", MinGrade, None),
    ("auto_certificate", AutoCertificate, None),
)


@app.command("create")
@_shared_options
def create(
    ctx: typer.Context,
    slug: SlugArg,
    title: Annotated[str, typer.Option("--title", help="Title.", show_default=False)],
    instructor: Annotated[
        str | None,
        typer.Option("--instructor", help="Instructor's e-mail (default: yourself with --as)."),
    ] = None,
    json_out: JsonOpt = False,
    **options: Any,
) -> None:
    """Create an unpublished course.

    Example: lmsctl courses create intro-to-python --title "Intro to Python" --instructor ada@example.org
    """
    with reporting(as_json=json_out):
        from lms_core.catalog.courses import course_row, create_course
        from lms_core.catalog.fields import CourseCreate

        data = CourseCreate(
            slug=slug, title=title, **by_field({**locals(), **options}, _OPTION_FIELDS)
        )
    with acting(ctx, as_json=json_out) as (session, actor):
        row = course_row(create_course(session, actor=actor, data=data))
    report_change(f"created course {row['slug']} (unpublished)", row, as_json=json_out)


@app.command("list")
def list_(
    ctx: typer.Context,
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Part of slug or title.")
    ] = None,
    published: Annotated[
        bool | None, typer.Option("--published/--unpublished", help="Only (un)published.")
    ] = None,
    instructor: Annotated[
        str | None, typer.Option("--instructor", help="Instructor e-mail.")
    ] = None,
    category: Category = None,
    page: PageOpt = None,
    per_page: PerPageOpt = None,
    jsonl_out: JsonlOpt = False,
    json_out: ListJsonOpt = False,
) -> None:
    """List the courses you may see, ordered by slug.

    Example: lmsctl courses list --published --json
    """
    from lms_core.catalog.courses import course_row, courses_query

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        stmt = courses_query(
            session,
            actor=actor,
            search=search,
            published=published,
            instructor_email=instructor,
            category=category,
        )
        emit_query(
            session,
            stmt,
            course_row,
            LIST_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
            page=page,
            per_page=per_page,
            noun="course(s)",
        )


@app.command("show")
def show(ctx: typer.Context, slug: SlugArg, json_out: JsonOpt = False) -> None:
    """Show a course with its lesson and enrollment counts.

    Example: lmsctl courses show intro-to-python --json
    """
    from lms_core.catalog.courses import show_course

    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        row = show_course(session, actor=actor, slug=slug)
    emit_record(row, as_json=json_out)


@app.command("update")
@_shared_options
def update(
    ctx: typer.Context,
    slug: SlugArg,
    new_slug: Annotated[str | None, typer.Option("--slug", help="New slug.")] = None,
    title: Title = None,
    instructor: Annotated[
        str | None, typer.Option("--instructor", help="New instructor (admins).")
    ] = None,
    json_out: JsonOpt = False,
    **options: Any,
) -> None:
    """Change the given fields of a course.

    Example: lmsctl courses update intro-to-python --difficulty intermediate --duration 240
    """
    with reporting(as_json=json_out):
        from lms_core.catalog.courses import course_row, update_course
        from lms_core.catalog.fields import CourseUpdate

        changes = CourseUpdate(
            slug=new_slug, title=title, **by_field({**locals(), **options}, _OPTION_FIELDS)
        )
    with acting(ctx, as_json=json_out) as (session, actor):
        row = course_row(update_course(session, actor=actor, slug=slug, data=changes))
    report_change(f"updated course {row['slug']}", row, as_json=json_out)


def _toggle(action: str, summary: str) -> None:
    def command(ctx: typer.Context, slug: SlugArg, json_out: JsonOpt = False) -> None:
        from lms_core.catalog.courses import course_row, publish_course, unpublish_course

        service = {"publish": publish_course, "unpublish": unpublish_course}[action]
        with acting(ctx, as_json=json_out) as (session, actor):
            row = course_row(service(session, actor=actor, slug=slug))
        report_change(f"{action}ed course {row['slug']}", row, as_json=json_out)

    command.__doc__ = f"{summary}\n\nExample: lmsctl courses {action} intro-to-python"
    app.command(action)(command)


_toggle("publish", "Publish a course (it needs at least one lesson).")
_toggle("unpublish", "Unpublish a course: learners can no longer enroll.")


@app.command("delete")
def delete(
    ctx: typer.Context,
    slug: SlugArg,
    force: Annotated[bool, typer.Option("--force", help="Delete its enrollments too.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete a course and its lessons; refused while it has enrollments unless --force.

    Example: lmsctl courses delete old-course --force
    """
    from lms_core.catalog.courses import delete_course

    with acting(ctx, as_json=json_out) as (session, actor):
        delete_course(session, actor=actor, slug=slug, force=force)
    report_change(f"deleted course {slug}", {"slug": slug, "deleted": True}, as_json=json_out)
