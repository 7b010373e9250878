"""Create forms of the assessing areas (quizzes, assignments): where a new one may go, and the
service's refusal shown on the field it is about.

The choices offered are the actor's own courses and their lessons of the right type that
have no quiz or assignment yet (:mod:`lms_core.scopes`), all of them: a browser's select
offers nothing else, so a list cut short would hide a course from an administrator of a
large school (a few thousand options weigh some hundred kilobytes, once per new form). A
forged value is refused by the form's choice check, on its field (a NUL included, which
PostgreSQL would refuse in a query), and, were it not, by the service's own rule
(``require_course_manager``). The service decides everything else and names the field it
refuses (``passing_score``, ``due_date``...): the message is put under that field of the
form, as well as flashed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import flash
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute

from admin_ui.auth import current_actor
from admin_ui.db import error_text, request_session
from lms_core import scopes
from lms_core.actor import Actor
from lms_core.errors import LmsError
from lms_core.models import Course, Lesson

T = TypeVar("T")


def course_choices(actor: Actor) -> list[tuple[str, str]]:
    """``(slug, "slug: title")`` of the courses the actor manages, by slug."""
    stmt = select(Course.slug, Course.title).order_by(Course.slug)
    where = scopes.courses(actor)
    if where is not None:
        stmt = stmt.where(where)
    return [(slug, f"{slug}: {title}") for slug, title in request_session().execute(stmt)]


def lesson_choices(
    actor: Actor, lesson_type: str, taken: InstrumentedAttribute[Any]
) -> list[tuple[str, str]]:
    """``("course/lesson", label)`` of the actor's lessons of ``lesson_type`` whose id is not
    in ``taken`` (the lesson ids that already have a quiz, or an assignment)."""
    stmt = (
        select(Course.slug, Lesson.slug, Lesson.title)
        .join(Course, Course.id == Lesson.course_id)
        .where(Lesson.lesson_type == lesson_type)
        .where(Lesson.id.not_in(select(taken).where(taken.is_not(None))))
        .order_by(Course.slug, Lesson.order_index, Lesson.id)
    )
    where = scopes.lessons(actor)
    if where is not None:
        stmt = stmt.where(where)
    rows = request_session().execute(stmt)
    return [(f"{c}/{le}", f"{c} / {le}: {title}") for c, le, title in rows]


def split_lesson(value: str | None) -> tuple[str, str | None]:
    """``"course/lesson"`` as ``(course, lesson)``; a bare course slug as ``(course, None)``."""
    course, _, lesson = (value or "").partition("/")
    return course.strip(), lesson.strip() or None


def create_with_field_errors(
    form: Any,
    action: Callable[[Any, Actor], T],
    done: Callable[[T], str],
    aliases: Mapping[str, str] | None = None,
) -> T | None:
    """Call one create service in the request's unit of work and commit; a refusal rolls back,
    is flashed, and is written under the form field it names (``aliases`` maps the service's
    field names to the form's, e.g. ``lesson_slug`` to ``lesson``)."""
    session = request_session()
    try:
        result = action(session, current_actor())
        session.commit()
    except LmsError as exc:
        session.rollback()
        name = (aliases or {}).get(exc.field or "", exc.field)
        field = getattr(form, name, None) if name else None
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, exc.message]
            flash(f"{field.label.text}: {exc.message}", "error")  # the form's words
        else:
            flash(error_text(exc), "error")
        return None
    flash(done(result), "success")
    return result
