"""lmsctl enrollments: enroll, drop, list, complete-lesson, review."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsctl.options import (
    JsonlOpt,
    JsonOpt,
    LessonRefArg,
    LessonSlugArg,
    ListJsonOpt,
    PageOpt,
    PerPageOpt,
    group,
)
from lmsctl.output import emit_query, listing_format, report_change
from lmsctl.runtime import acting

app = group("Enroll learners, drop them, record lesson progress, review courses.")

EmailArg = Annotated[str, typer.Argument(help="The learner's e-mail.", show_default=False)]
CourseArg = Annotated[str, typer.Argument(help="The course's slug.", show_default=False)]
LIST_COLUMNS = (
    "user_email",
    "course_slug",
    "status",
    "progress_percentage",
    "enrolled_at",
    "completed_at",
    "rating",
)


@app.command("enroll")
def enroll(
    ctx: typer.Context, email: EmailArg, course: CourseArg, json_out: JsonOpt = False
) -> None:
    """Enroll a learner in a course; again changes nothing; a dropped learner is re-enrolled.

    Example: lmsctl enrollments enroll student@example.org intro-to-python
    """
    from lms_core.catalog.enrollments import enroll as enroll_service
    from lms_core.catalog.enrollments import enrollment_row

    with acting(ctx, as_json=json_out) as (session, actor):
        result = enroll_service(session, actor=actor, email=email, course_slug=course)
        row = enrollment_row(result.enrollment)
    messages = {
        "created": "enrolled",
        "reenrolled": "re-enrolled",
        "unchanged": "already enrolled:",
    }
    report_change(
        f"{messages[result.outcome]} {row['user_email']} in {row['course_slug']}",
        {**row, "outcome": result.outcome},
        as_json=json_out,
    )


@app.command("drop")
def drop(ctx: typer.Context, email: EmailArg, course: CourseArg, json_out: JsonOpt = False) -> None:
    """Drop a learner from a course (progress is kept for a later re-enroll).

    Example: lmsctl enrollments drop student@example.org intro-to-python
    """
    from lms_core.catalog.enrollments import drop as drop_service
    from lms_core.catalog.enrollments import enrollment_row

    with acting(ctx, as_json=json_out) as (session, actor):
        row = enrollment_row(drop_service(session, actor=actor, email=email, course_slug=course))
    report_change(f"dropped {row['user_email']} from {row['course_slug']}", row, as_json=json_out)


@app.command("list")
def list_(
    ctx: typer.Context,
    course: Annotated[str | None, typer.Option("--course", help="Only this course (slug).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this learner (e-mail).")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="active, completed or dropped.")
    ] = None,
    page: PageOpt = None,
    per_page: PerPageOpt = None,
    jsonl_out: JsonlOpt = False,
    json_out: ListJsonOpt = False,
) -> None:
    """List enrollments you may see.

    Example: lmsctl enrollments list --course intro-to-python --status active --json
    """
    from lms_core.catalog.enrollments import enrollment_row, enrollments_query

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        stmt = enrollments_query(
            session, actor=actor, course_slug=course, email=user, status=status
        )
        emit_query(
            session,
            stmt,
            enrollment_row,
            LIST_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
            page=page,
            per_page=per_page,
            noun="enrollment(s)",
        )


@app.command("complete-lesson")
def complete_lesson(
    ctx: typer.Context,
    email: EmailArg,
    lesson: LessonRefArg,
    slug: LessonSlugArg = None,
    json_out: JsonOpt = False,
) -> None:
    """Mark a lesson complete for a learner; recomputes progress and detects course completion.

    Quiz and assignment lessons are refused: they complete when the quiz is passed (a practice
    quiz: handed in) or the assignment's submission is graded.

    Example: lmsctl enrollments complete-lesson student@example.org intro-to-python/variables
    """
    from lms_core.catalog.enrollments import complete_lesson as complete_service
    from lms_core.catalog.enrollments import enrollment_row
    from lms_core.catalog.lessons import lesson_ref

    with acting(ctx, as_json=json_out) as (session, actor):
        ref = lesson_ref(lesson, slug)
        enrollment, finished = complete_service(
            session, actor=actor, email=email, course_slug=ref.course, lesson_slug=ref.lesson
        )
        row = enrollment_row(enrollment)
    report_change(
        f"{row['user_email']}: completed {ref}; {row['course_slug']} at "
        f"{row['progress_percentage']:g}%" + (" - course completed" if finished else ""),
        {**row, "lesson": str(ref), "course_completed_now": finished},
        as_json=json_out,
    )


@app.command("review")
def review(
    ctx: typer.Context,
    email: EmailArg,
    course: CourseArg,
    rating: Annotated[int, typer.Option("--rating", help="1 to 5.", show_default=False)],
    text: Annotated[str | None, typer.Option("--text", help="The review.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Rate (1-5) and review a course the learner is enrolled in.

    Example: lmsctl --as student@example.org enrollments review student@example.org intro-to-python --rating 5 --text "Clear"
    """
    from lms_core.catalog.enrollments import enrollment_row
    from lms_core.catalog.enrollments import review as review_service

    with acting(ctx, as_json=json_out) as (session, actor):
        row = enrollment_row(
            review_service(
                session, actor=actor, email=email, course_slug=course, rating=rating, text=text
            )
        )
    report_change(
        f"{row['user_email']} rated {row['course_slug']} {row['rating']}/5", row, as_json=json_out
    )
