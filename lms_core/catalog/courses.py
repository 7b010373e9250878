"""Courses: create, update, publish (only with lessons), unpublish, delete, list."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.accounts.users import get_user
from lms_core.actor import Actor
from lms_core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from lms_core.models import Course, DifficultyLevel, Enrollment, Lesson, Role, User
from lms_core.pagination import Page, paginate
from lms_core.permissions import require_course_manager
from lms_core.validation import (
    check_non_negative,
    check_slug,
    check_text,
    check_url,
    collect,
    like_pattern,
    parse_choice,
)

#: Course columns for listings, --json and CSV (the instructor by e-mail, as users are named).
COURSE_FIELDS = (
    "id",
    "slug",
    "title",
    "description",
    "instructor_email",
    "category",
    "difficulty_level",
    "thumbnail_url",
    "estimated_duration_minutes",
    "is_published",
    "external_id",
    "certificate_min_grade",
    "created_at",
    "updated_at",
)
_AUDITED = (
    "certificate_min_grade",
    "slug",
    "title",
    "description",
    "instructor_id",
    "category",
    "difficulty_level",
    "thumbnail_url",
    "estimated_duration_minutes",
    "is_published",
    "external_id",
)


def course_row(course: Course) -> dict[str, Any]:
    row = audit.snapshot(course, [f for f in COURSE_FIELDS if f != "instructor_email"])
    row["instructor_email"] = course.instructor.email
    return {f: row[f] for f in COURSE_FIELDS}


def get_course(session: Session, slug: str) -> Course:
    course = session.scalars(select(Course).where(Course.slug == (slug or "").strip())).first()
    if course is None:
        raise NotFound(f"no course with slug {slug}", field="course_slug", value=slug)
    return course


def _instructor(session: Session, email: str) -> User:
    user = get_user(session, email)
    if user.role not in (Role.instructor.value, Role.admin.value) or not user.is_active:
        raise ValidationError(
            f"{user.email} is not an active instructor (role {user.role})",
            field="instructor_email",
            value=email,
        )
    return user


def _check_min_grade(value: object) -> Decimal:
    try:
        grade = Decimal(str(value))
    except ArithmeticError:
        raise ValidationError(
            "must be a number from 0 to 100", field="certificate_min_grade", value=value
        ) from None
    if not grade.is_finite() or not 0 <= grade <= 100:
        raise ValidationError(
            "must be a number from 0 to 100", field="certificate_min_grade", value=value
        )
    return grade.quantize(Decimal("0.01"))


def _field_checks(fields: dict[str, Any]) -> list[tuple[str, Any]]:
    """Checks for the course fields that were given (None means 'not given')."""
    table: dict[str, Callable[[Any], Any]] = {
        "title": lambda v: check_text(v, field="title", max_length=200, required=True),
        "description": lambda v: check_text(v, field="description", max_length=20000) or None,
        "category": lambda v: check_text(v, field="category", max_length=100) or None,
        "difficulty_level": lambda v: (
            parse_choice(DifficultyLevel, v, field="difficulty_level").value
        ),
        "thumbnail_url": lambda v: check_url(v, field="thumbnail_url"),
        "estimated_duration_minutes": lambda v: check_non_negative(
            v, field="estimated_duration_minutes"
        ),
        "external_id": lambda v: check_text(v, field="external_id", max_length=255) or None,
        "certificate_min_grade": _check_min_grade,
    }
    return [
        (name, (lambda check=table[name], v=value: check(v)))
        for name, value in fields.items()
        if value is not None
    ]


def _check_external_id_free(
    session: Session, external_id: str | None, course_id: int | None
) -> None:
    if external_id is None:
        return
    other = session.scalars(select(Course).where(Course.external_id == external_id)).first()
    if other is not None and other.id != course_id:
        raise Conflict(
            f"external_id {external_id} already belongs to course {other.slug}",
            field="external_id",
            value=external_id,
        )


def create_course(
    session: Session,
    *,
    actor: Actor,
    slug: str,
    title: str,
    instructor_email: str | None = None,
    description: str | None = None,
    category: str | None = None,
    difficulty_level: str | None = None,
    thumbnail_url: str | None = None,
    estimated_duration_minutes: int | None = None,
    external_id: str | None = None,
    certificate_min_grade: float | Decimal | None = None,
) -> Course:
    """Create an unpublished course. Instructors create courses for themselves only."""
    if actor.role is Role.student:
        raise PermissionDenied(f"students cannot create courses (acting as {actor.label})")
    checks = [
        ("slug", lambda: check_slug(slug)),
        ("title", lambda: check_text(title, field="title", max_length=200, required=True)),
        *_field_checks(
            {
                "description": description,
                "category": category,
                "difficulty_level": difficulty_level,
                "thumbnail_url": thumbnail_url,
                "estimated_duration_minutes": estimated_duration_minutes,
                "external_id": external_id,
                "certificate_min_grade": certificate_min_grade,
            }
        ),
    ]
    values = collect(checks)
    if instructor_email:
        instructor = _instructor(session, instructor_email)
    elif actor.user_id is not None:
        instructor = session.get(User, actor.user_id)  # type: ignore[assignment]
    else:
        raise ValidationError(
            "is required (the course's instructor e-mail)", field="instructor_email"
        )
    if not actor.is_admin and not actor.is_user(instructor.id):
        raise PermissionDenied("instructors can only create courses they teach themselves")
    if session.scalars(select(Course.id).where(Course.slug == values["slug"])).first() is not None:
        raise Conflict(
            f"a course with slug {values['slug']} already exists", field="slug", value=slug
        )
    _check_external_id_free(session, values.get("external_id"), None)
    course = Course(instructor_id=instructor.id, **values)
    session.add(course)
    session.flush()
    audit.record(session, actor, "course.create", course, after=audit.snapshot(course, _AUDITED))
    return course


def update_course(
    session: Session,
    *,
    actor: Actor,
    slug: str,
    new_slug: str | None = None,
    instructor_email: str | None = None,
    **fields: Any,
) -> Course:
    """Change the given fields. Moving a course to another instructor is for admins only."""
    course = get_course(session, slug)
    require_course_manager(actor, course, "update this course")
    unknown = set(fields) - {
        "title",
        "description",
        "category",
        "difficulty_level",
        "thumbnail_url",
        "estimated_duration_minutes",
        "external_id",
        "certificate_min_grade",
    }
    if unknown:
        raise ValueError(f"unknown course fields {sorted(unknown)}")
    checks = _field_checks(fields)
    if new_slug is not None:
        checks.append(("slug", lambda: check_slug(new_slug)))
    values = collect(checks)
    if instructor_email is not None:
        if not actor.is_admin:
            raise PermissionDenied("only an administrator may change a course's instructor")
        values["instructor_id"] = _instructor(session, instructor_email).id
    if not values:
        raise ValidationError("nothing to change: give at least one field", field="fields")
    if (
        values.get("slug", course.slug) != course.slug
        and session.scalars(select(Course.id).where(Course.slug == values["slug"])).first()
        is not None
    ):
        raise Conflict(
            f"a course with slug {values['slug']} already exists", field="slug", value=new_slug
        )
    _check_external_id_free(session, values.get("external_id"), course.id)
    return _change(session, actor, course, "course.update", **values)


def _change(session: Session, actor: Actor, course: Course, action: str, **values: Any) -> Course:
    before = audit.snapshot(course, _AUDITED)
    for name, value in values.items():
        setattr(course, name, value)
    session.flush()
    after = audit.changed(before, audit.snapshot(course, _AUDITED))
    if after:
        audit.record(session, actor, action, course, before=before, after=after)
    session.refresh(course, ["instructor"])
    return course


def show_course(session: Session, *, actor: Actor, slug: str) -> dict[str, Any]:
    """A course with its lesson and enrollment counts; unpublished ones only for their managers."""
    course = get_course(session, slug)
    if not course.is_published:
        require_course_manager(actor, course, "see an unpublished course")
    return {
        **course_row(course),
        "lessons": len(course.lessons),
        "enrollments": enrollment_count(session, course.id),
    }


def publish_course(session: Session, *, actor: Actor, slug: str) -> Course:
    course = get_course(session, slug)
    require_course_manager(actor, course, "publish this course")
    lessons = session.scalar(
        select(func.count()).select_from(Lesson).where(Lesson.course_id == course.id)
    )
    if not lessons:
        raise Conflict(
            f"course {course.slug} has no lessons; add at least one before publishing",
            field="course_slug",
            value=slug,
        )
    return _change(session, actor, course, "course.publish", is_published=True)


def unpublish_course(session: Session, *, actor: Actor, slug: str) -> Course:
    course = get_course(session, slug)
    require_course_manager(actor, course, "unpublish this course")
    return _change(session, actor, course, "course.unpublish", is_published=False)


def enrollment_count(session: Session, course_id: int) -> int:
    stmt = select(func.count()).select_from(Enrollment).where(Enrollment.course_id == course_id)
    return session.scalar(stmt) or 0


def delete_course(session: Session, *, actor: Actor, slug: str, force: bool = False) -> Course:
    """Delete a course with its lessons; refused while it has enrollments unless ``force``."""
    course = get_course(session, slug)
    require_course_manager(actor, course, "delete this course")
    count = enrollment_count(session, course.id)
    if count and not force:
        raise Conflict(
            f"course {course.slug} has {count} enrollment(s); use --force to delete them too",
            field="course_slug",
            value=slug,
        )
    audit.record(
        session,
        actor,
        "course.delete",
        course,
        before={**audit.snapshot(course, _AUDITED), "enrollments": count},
    )
    session.delete(course)
    session.flush()
    return course


def list_courses(
    session: Session,
    *,
    actor: Actor,
    search: str | None = None,
    published: bool | None = None,
    instructor_email: str | None = None,
    category: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Course]:
    """Courses the actor may see: admins all, instructors published and their own, students published."""
    stmt = select(Course).order_by(Course.slug)
    if not actor.is_admin:
        visible: ColumnElement[bool] = Course.is_published.is_(True)
        if actor.user_id is not None and actor.role is Role.instructor:
            visible = or_(visible, Course.instructor_id == actor.user_id)
        stmt = stmt.where(visible)
    if search:
        pattern = like_pattern(search)
        stmt = stmt.where(
            or_(
                Course.slug.like(pattern, escape="\\"),
                func.lower(Course.title).like(pattern, escape="\\"),
            )
        )
    if published is not None:
        stmt = stmt.where(Course.is_published.is_(published))
    if instructor_email:
        stmt = stmt.where(Course.instructor_id == get_user(session, instructor_email).id)
    if category:
        stmt = stmt.where(Course.category == category)
    return paginate(session, stmt, page=page, per_page=per_page)
