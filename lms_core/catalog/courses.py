"""Courses: create, update, publish (only with lessons), unpublish, delete, list."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.accounts.users import get_user
from lms_core.actor import Actor
from lms_core.catalog.fields import COURSE, CourseCreate, CourseDetail, CourseRow, CourseUpdate
from lms_core.errors import Conflict, HintCode, NotFound, PermissionDenied, ValidationError, hint
from lms_core.fields import check_values, command_values, iso
from lms_core.kept import PREPARE
from lms_core.models import Course, Enrollment, Lesson, Role, User
from lms_core.pagination import Page, paginate, search_filter
from lms_core.permissions import require_course_manager

_AUDITED = COURSE.audited()


def course_row(course: Course) -> CourseRow:
    """The course as listings and ``--json`` show it: the instructor by e-mail, as users are
    named, and the certificate grade as a number."""
    return listing_row(course, course.instructor.email)


def listing_row(course: Any, instructor_email: str) -> CourseRow:
    """:func:`course_row` of anything with a course's attributes: a ``Course``, or a row of
    plain columns (the API's catalog and outline, :mod:`lms_core.catalog.kept_reads`)."""
    return CourseRow(
        id=course.id,
        slug=course.slug,
        title=course.title,
        description=course.description,
        instructor_email=instructor_email,
        category=course.category,
        difficulty_level=course.difficulty_level,
        thumbnail_url=course.thumbnail_url,
        estimated_duration_minutes=course.estimated_duration_minutes,
        is_published=course.is_published,
        external_id=course.external_id,
        certificate_min_grade=float(course.certificate_min_grade),
        auto_certificate=course.auto_certificate,
        created_at=iso(course.created_at),
        updated_at=iso(course.updated_at),
    )


def get_course(session: Session, slug: str) -> Course:
    course = session.scalars(_course_by_slug(), {"slug": (slug or "").strip()}).first()
    if course is None:
        raise NotFound(f"no course with slug {slug}", field="course_slug", value=slug)
    return course


@cache
def _course_by_slug() -> Select[Course]:
    """Built once (the API's outline reads it on every visit; see ``token_lookup``)."""
    return (
        select(Course).where(Course.slug == bindparam("slug")).execution_options(**{PREPARE: True})
    )


def _instructor(session: Session, email: str) -> User:
    user = get_user(session, email)
    if user.role not in (Role.instructor.value, Role.admin.value) or not user.is_active:
        raise ValidationError(
            f"{user.email} is not an active instructor (role {user.role})",
            field="instructor_email",
            value=email,
        )
    return user


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


def create_course(session: Session, *, actor: Actor, data: CourseCreate) -> Course:
    """Create an unpublished course. Instructors create courses for themselves only."""
    if actor.role is Role.student:
        raise PermissionDenied(f"students cannot create courses (acting as {actor.label})")
    values = check_values(COURSE, command_values(data, COURSE), creating=True)
    instructor_email = values.pop("instructor_email", None)
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
    _check_slug_free(session, values["slug"], data.slug)
    _check_external_id_free(session, values.get("external_id"), None)
    course = Course(instructor_id=instructor.id, **values)
    session.add(course)
    session.flush()
    audit.record(session, actor, "course.create", course, after=audit.snapshot(course, _AUDITED))
    return course


def _check_slug_free(session: Session, slug: str, given: str | None) -> None:
    if session.scalars(select(Course.id).where(Course.slug == slug)).first() is not None:
        raise Conflict(f"a course with slug {slug} already exists", field="slug", value=given)


def update_course(session: Session, *, actor: Actor, slug: str, data: CourseUpdate) -> Course:
    """Change the given fields. Moving a course to another instructor is for admins only."""
    course = get_course(session, slug)
    require_course_manager(actor, course, "update this course")
    # An empty instructor is refused ("is required"), not taken for "no change".
    values = check_values(COURSE, command_values(data, COURSE), required=("instructor_email",))
    if "instructor_email" in values:
        if not actor.is_admin:
            raise PermissionDenied("only an administrator may change a course's instructor")
        values["instructor_id"] = _instructor(session, values.pop("instructor_email")).id
    if not values:
        raise ValidationError("nothing to change: give at least one field", field="fields")
    if values.get("slug", course.slug) != course.slug:
        _check_slug_free(session, values["slug"], data.slug)
    _check_external_id_free(session, values.get("external_id"), course.id)
    return _change(session, actor, course, "course.update", **values)


def _change(session: Session, actor: Actor, course: Course, action: str, **values: Any) -> Course:
    audit.apply_change(session, actor, action, course, fields=_AUDITED, values=values)
    session.refresh(course, ["instructor"])
    return course


def show_course(session: Session, *, actor: Actor, slug: str) -> CourseDetail:
    """A course with its lesson and enrollment counts; unpublished ones only for their managers."""
    course = get_course(session, slug)
    if not course.is_published:
        require_course_manager(actor, course, "see an unpublished course")
    return CourseDetail(
        **course_row(course),
        lessons=len(course.lessons),
        enrollments=enrollment_count(session, course.id),
    )


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
            f"course {course.slug} has {count} enrollment(s); confirm to delete them too",
            field="course_slug",
            value=slug,
            hint=hint(HintCode.delete_with_enrollments, course=course.slug),
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


def courses_query(
    session: Session,
    *,
    actor: Actor,
    search: str | None = None,
    published: bool | None = None,
    instructor_email: str | None = None,
    category: str | None = None,
    difficulty: str | None = None,
) -> Select[Course]:
    """The query behind ``list_courses``, for a page or a stream (``pagination.iter_rows``)."""
    stmt = select(Course).order_by(Course.slug)
    if not actor.is_admin:
        visible: ColumnElement[bool] = Course.is_published.is_(True)
        if actor.user_id is not None and actor.role is Role.instructor:
            visible = or_(visible, Course.instructor_id == actor.user_id)
        stmt = stmt.where(visible)
    if search:
        stmt = stmt.where(search_filter(search, Course.slug, func.lower(Course.title)))
    if published is not None:
        stmt = stmt.where(Course.is_published.is_(published))
    if instructor_email:
        stmt = stmt.where(Course.instructor_id == get_user(session, instructor_email).id)
    if category:
        stmt = stmt.where(Course.category == category)
    if difficulty:
        wanted = check_values(COURSE, {"difficulty_level": difficulty})["difficulty_level"]
        stmt = stmt.where(Course.difficulty_level == wanted)
    return stmt


def list_courses(
    session: Session,
    *,
    actor: Actor,
    search: str | None = None,
    published: bool | None = None,
    instructor_email: str | None = None,
    category: str | None = None,
    difficulty: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Course]:
    """Courses the actor may see: admins all, instructors published and their own, students published."""
    stmt = courses_query(
        session,
        actor=actor,
        search=search,
        published=published,
        instructor_email=instructor_email,
        category=category,
        difficulty=difficulty,
    )
    return paginate(session, stmt, page=page, per_page=per_page)
