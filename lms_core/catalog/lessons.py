"""Lessons: add, update, delete and reorder, keeping ``order_index`` at 1..n without gaps."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.catalog.progress import recompute_course
from lms_core.errors import Conflict, NotFound, ValidationError
from lms_core.models import Course, Lesson, LessonType
from lms_core.permissions import require_course_manager
from lms_core.validation import (
    check_non_negative,
    check_slug,
    check_text,
    check_url,
    collect,
    parse_choice,
)

LESSON_FIELDS = (
    "id",
    "course_slug",
    "slug",
    "title",
    "lesson_type",
    "order_index",
    "content",
    "duration_minutes",
    "video_url",
    "is_preview",
    "is_required",
)
_AUDITED = (
    "slug",
    "title",
    "lesson_type",
    "order_index",
    "content",
    "duration_minutes",
    "video_url",
    "is_preview",
    "is_required",
)
_CHECKS = {
    "title": lambda v: check_text(v, field="title", max_length=200, required=True),
    "content": lambda v: check_text(v, field="content", max_length=1_000_000) or None,
    "lesson_type": lambda v: parse_choice(LessonType, v, field="lesson_type").value,
    "duration_minutes": lambda v: check_non_negative(v, field="duration_minutes"),
    "video_url": lambda v: check_url(v, field="video_url"),
    "is_preview": bool,
    "is_required": bool,
}


def lesson_row(lesson: Lesson) -> dict[str, Any]:
    row = audit.snapshot(lesson, [f for f in LESSON_FIELDS if f != "course_slug"])
    row["course_slug"] = lesson.course.slug
    return {f: row[f] for f in LESSON_FIELDS}


def get_lesson(session: Session, course: Course, slug: str) -> Lesson:
    lesson = session.scalars(
        select(Lesson).where(Lesson.course_id == course.id, Lesson.slug == (slug or "").strip())
    ).first()
    if lesson is None:
        raise NotFound(
            f"course {course.slug} has no lesson {slug}", field="lesson_slug", value=slug
        )
    return lesson


def _ordered(session: Session, course: Course) -> list[Lesson]:
    return list(
        session.scalars(
            select(Lesson)
            .where(Lesson.course_id == course.id)
            .order_by(Lesson.order_index, Lesson.id)
        )
    )


def _renumber(lessons: list[Lesson]) -> None:
    for index, lesson in enumerate(lessons, start=1):
        lesson.order_index = index


def _checks(fields: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(n, (lambda c=_CHECKS[n], v=v: c(v))) for n, v in fields.items() if v is not None]


def add_lesson(
    session: Session,
    *,
    actor: Actor,
    course_slug: str,
    slug: str,
    title: str,
    lesson_type: str = LessonType.text.value,
    position: int | None = None,
    **fields: Any,
) -> Lesson:
    """Add a lesson at the end, or at ``position`` (1-based), shifting the ones after it."""
    course = get_course(session, course_slug)
    require_course_manager(actor, course, "add lessons")
    values = collect(
        [
            ("slug", lambda: check_slug(slug)),
            *_checks({"title": title, "lesson_type": lesson_type, **fields}),
        ]
    )
    if title is None:
        raise ValidationError("is required", field="title")
    lessons = _ordered(session, course)
    if any(lesson.slug == values["slug"] for lesson in lessons):
        raise Conflict(
            f"course {course.slug} already has a lesson {values['slug']}", field="slug", value=slug
        )
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
    return lesson


def update_lesson(
    session: Session,
    *,
    actor: Actor,
    course_slug: str,
    slug: str,
    new_slug: str | None = None,
    **fields: Any,
) -> Lesson:
    course = get_course(session, course_slug)
    require_course_manager(actor, course, "update lessons")
    lesson = get_lesson(session, course, slug)
    checks = _checks(fields)
    if new_slug is not None:
        checks.append(("slug", lambda: check_slug(new_slug)))
    values = collect(checks)
    if not values:
        raise ValidationError("nothing to change: give at least one field", field="fields")
    if values.get("slug", lesson.slug) != lesson.slug and any(
        other.slug == values["slug"] for other in _ordered(session, course)
    ):
        raise Conflict(
            f"course {course.slug} already has a lesson {values['slug']}",
            field="slug",
            value=new_slug,
        )
    before = audit.snapshot(lesson, _AUDITED)
    for name, value in values.items():
        setattr(lesson, name, value)
    session.flush()
    after = audit.changed(before, audit.snapshot(lesson, _AUDITED))
    if after:
        audit.record(session, actor, "lesson.update", lesson, before=before, after=after)
    if "is_required" in after:
        recompute_course(session, course)
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
    course = get_course(session, course_slug)
    if not course.is_published:
        require_course_manager(actor, course, "see the lessons of an unpublished course")
    return _ordered(session, course)
