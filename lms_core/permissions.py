"""Role checks shared by the services: one place says who may do what."""

from __future__ import annotations

from lms_core.actor import Actor
from lms_core.errors import PermissionDenied
from lms_core.models import Course


def require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"only an administrator may {what} (acting as {actor.label})")


def can_manage_course(actor: Actor, course: Course) -> bool:
    """Admins manage every course; instructors only their own."""
    return actor.is_admin or actor.is_user(course.instructor_id)


def require_course_manager(actor: Actor, course: Course, what: str) -> None:
    if not can_manage_course(actor, course):
        raise PermissionDenied(
            f"only the course's instructor or an administrator may {what} "
            f"(course {course.slug}, acting as {actor.label})"
        )
