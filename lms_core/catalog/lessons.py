"""Lessons: add, update, delete and reorder, keeping ``order_index`` at 1..n without gaps."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.automation.queue import queue_recompute
from lms_core.catalog.courses import get_course
from lms_core.catalog.fields import LESSON, LessonCreate, LessonRow, LessonUpdate
from lms_core.catalog.progress import recompute_course
from lms_core.errors import Conflict, NotFound, ValidationError
from lms_core.fields import check_values, command_values
from lms_core.kept import PREPARE
from lms_core.models import Course, Lesson
from lms_core.permissions import require_course_manager

_AUDITED = LESSON.audited()


def lesson_row(lesson: Lesson) -> LessonRow:
    """The lesson as listings and ``--json`` show it: its course by slug."""
    return lesson_listing(lesson, lesson.course.slug)


def lesson_listing(lesson: Any, course_slug: str) -> LessonRow:
    """:func:`lesson_row` of anything with a lesson's attributes: a ``Lesson``, or a row of
    plain columns (the API's outline, :mod:`lms_core.catalog.kept_reads`)."""
    return LessonRow(
        id=lesson.id,
        course_slug=course_slug,
        slug=lesson.slug,
        title=lesson.title,
        lesson_type=lesson.lesson_type,
        order_index=lesson.order_index,
        content=lesson.content,
        duration_minutes=lesson.duration_minutes,
        video_url=lesson.video_url,
        is_preview=lesson.is_preview,
        is_required=lesson.is_required,
    )


@dataclass(frozen=True)
class LessonRef:
    """A lesson as every command names it: ``COURSE/LESSON`` (the two slugs)."""

    course: str
    lesson: str

    def __str__(self) -> str:
        return f"{self.course}/{self.lesson}"


def lesson_ref(first: str, second: str | None = None, *, field: str = "lesson") -> LessonRef:
    """The lesson named ``COURSE/LESSON`` in ``first``, or ``COURSE`` and ``LESSON`` apart.

    The one reading of a lesson reference: both forms name the same lesson, in every command.
    """
    text = (first or "").strip()
    if second is None:
        course, sep, lesson = text.partition("/")
        if not sep or "/" in lesson:
            raise ValidationError(
                "name the lesson as COURSE/LESSON (the course's slug, a slash, the lesson's "
                "slug), or give the course and the lesson apart",
                field=field,
                value=first,
            )
    elif "/" in text:
        raise ValidationError(
            f"{text} already names a lesson (COURSE/LESSON); give it alone, or the course "
            f"and the lesson apart, not both",
            field=field,
            value=f"{first} {second}",
        )
    else:
        course, lesson = text, second
    course, lesson = course.strip(), lesson.strip()
    if not course or not lesson:
        raise ValidationError(
            "name the lesson as COURSE/LESSON: both slugs are needed", field=field, value=first
        )
    return LessonRef(course, lesson)


def lesson_name(lesson: Lesson) -> str:
    """How outputs name a lesson: ``COURSE/LESSON``."""
    return str(LessonRef(lesson.course.slug, lesson.slug))


def find_lesson(session: Session, ref: LessonRef) -> Lesson:
    """The lesson ``ref`` names (its course must exist, then the lesson in it)."""
    return get_lesson(session, get_course(session, ref.course), ref.lesson)


def get_lesson(session: Session, course: Course, slug: str) -> Lesson:
    lesson = session.scalars(
        select(Lesson).where(Lesson.course_id == course.id, Lesson.slug == (slug or "").strip())
    ).first()
    if lesson is None:
        raise NotFound(
            f"no lesson {course.slug}/{(slug or '').strip()}: course {course.slug} has no "
            f"lesson {slug}",
            field="lesson_slug",
            value=slug,
        )
    return lesson


def _ordered(session: Session, course: Course) -> list[Lesson]:
    return list(session.scalars(_ordered_stmt(), {"course_id": course.id}))


@cache
def _ordered_stmt() -> Select[Lesson]:
    """Built once (the API's outline reads it on every visit; see ``token_lookup``)."""
    return (
        select(Lesson)
        .where(Lesson.course_id == bindparam("course_id"))
        .order_by(Lesson.order_index, Lesson.id)
        .execution_options(**{PREPARE: True})
    )


def _renumber(lessons: list[Lesson]) -> None:
    for index, lesson in enumerate(lessons, start=1):
        lesson.order_index = index


def _check_slug_free(course: Course, lessons: list[Lesson], slug: str, given: str | None) -> None:
    if any(lesson.slug == slug for lesson in lessons):
        raise Conflict(
            f"course {course.slug} already has a lesson {slug}", field="slug", value=given
        )


def add_lesson(session: Session, *, actor: Actor, course_slug: str, data: LessonCreate) -> Lesson:
    """Add a lesson at the end, or at ``data.position`` (1-based), shifting the ones after it."""
    values = check_values(
        LESSON, {"course_slug": course_slug, **command_values(data, LESSON)}, creating=True
    )
    course = get_course(session, values.pop("course_slug"))
    require_course_manager(actor, course, "add lessons")
    lessons = _ordered(session, course)
    _check_slug_free(course, lessons, values["slug"], data.slug)
    position = data.position
    if position is not None and not 1 <= position <= len(lessons) + 1:
        raise ValidationError(
            f"must be between 1 and {len(lessons) + 1}", field="position", value=position
        )
    lesson = Lesson(course_id=course.id, order_index=len(lessons) + 1, **values)
    session.add(lesson)
    lessons.insert((position or len(lessons) + 1) - 1, lesson)
    _renumber(lessons)
    session.flush()
    audit.record(session, actor, "lesson.add", lesson, after=audit.snapshot(lesson, _AUDITED))
    recompute_course(session, course)
    queue_recompute(session, course.id)
    return lesson


def update_lesson(
    session: Session, *, actor: Actor, course_slug: str, slug: str, data: LessonUpdate
) -> Lesson:
    """Change the given fields of a lesson (``data.slug`` renames it)."""
    course = get_course(session, course_slug)
    require_course_manager(actor, course, "update lessons")
    lesson = get_lesson(session, course, slug)
    values = check_values(LESSON, command_values(data, LESSON))
    if not values:
        raise ValidationError("nothing to change: give at least one field", field="fields")
    if values.get("slug", lesson.slug) != lesson.slug:
        _check_slug_free(course, _ordered(session, course), values["slug"], data.slug)
    after = audit.apply_change(
        session, actor, "lesson.update", lesson, fields=_AUDITED, values=values
    )
    if "is_required" in after:
        recompute_course(session, course)
        queue_recompute(session, course.id)
    return lesson


def delete_lesson(session: Session, *, actor: Actor, course_slug: str, slug: str) -> Lesson:
    course = get_course(session, course_slug)
    require_course_manager(actor, course, "delete lessons")
    lesson = get_lesson(session, course, slug)
    audit.record(session, actor, "lesson.delete", lesson, before=audit.snapshot(lesson, _AUDITED))
    session.delete(lesson)
    session.flush()
    _renumber(_ordered(session, course))
    session.flush()
    recompute_course(session, course)
    queue_recompute(session, course.id)
    return lesson


def reorder_lessons(
    session: Session, *, actor: Actor, course_slug: str, slugs: list[str]
) -> list[Lesson]:
    """Put the lessons in the order of ``slugs``, which must name every lesson exactly once."""
    course = get_course(session, course_slug)
    require_course_manager(actor, course, "reorder lessons")
    lessons = {lesson.slug: lesson for lesson in _ordered(session, course)}
    wanted = [s.strip() for s in slugs]
    unknown = [s for s in wanted if s not in lessons]
    missing = [s for s in lessons if s not in wanted]
    repeated = sorted({s for s in wanted if wanted.count(s) > 1})
    if unknown or missing or repeated:
        parts = []
        if unknown:
            parts.append(f"unknown: {', '.join(unknown)}")
        if missing:
            parts.append(f"missing: {', '.join(missing)}")
        if repeated:
            parts.append(f"named twice: {', '.join(repeated)}")
        raise ValidationError(
            "must name every lesson of the course once (" + "; ".join(parts) + ")",
            field="slugs",
            value=" ".join(slugs),
        )
    before = {s: lesson.order_index for s, lesson in lessons.items()}
    ordered = [lessons[s] for s in wanted]
    _renumber(ordered)
    session.flush()
    audit.record(
        session,
        actor,
        "course.reorder_lessons",
        course,
        before={"order": sorted(before, key=before.__getitem__)},
        after={"order": wanted},
    )
    return ordered


def list_lessons(session: Session, *, actor: Actor, course_slug: str) -> list[Lesson]:
    """Lessons in order; unpublished courses only for their managers."""
    return lessons_of(session, actor=actor, course=get_course(session, course_slug))


def lessons_of(session: Session, *, actor: Actor, course: Course) -> list[Lesson]:
    """:func:`list_lessons` of a course the caller has already read (one query fewer)."""
    if not course.is_published:
        require_course_manager(actor, course, "see the lessons of an unpublished course")
    return _ordered(session, course)
