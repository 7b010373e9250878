"""Enrollments: enroll (idempotent), drop, re-enroll, complete lessons, review and rate."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lms_core import events, scopes
from lms_core.accounts import audit
from lms_core.accounts.activity import note_activity
from lms_core.accounts.users import get_user
from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.catalog.fields import ENROLLMENT, EnrollmentRow
from lms_core.catalog.lessons import get_lesson
from lms_core.catalog.progress import recompute
from lms_core.db import insert_or_winner
from lms_core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from lms_core.fields import check_values, iso
from lms_core.mail.notify import queue_enrollment_mails
from lms_core.models import (
    Course,
    Enrollment,
    EnrollmentStatus,
    LessonProgress,
    LessonType,
    User,
    utcnow,
)
from lms_core.pagination import Page, paginate
from lms_core.permissions import can_manage_course
from lms_core.validation import whole_number_between

_AUDITED = ENROLLMENT.audited()
_RATING = ENROLLMENT["rating"]


def enrollment_row(enrollment: Enrollment) -> EnrollmentRow:
    """The enrollment as listings and ``--json`` show it: the learner by e-mail, the course
    by slug (the keys an enrollments file uses)."""
    return EnrollmentRow(
        id=enrollment.id,
        user_email=enrollment.student.email,
        course_slug=enrollment.course.slug,
        status=enrollment.status,
        progress_percentage=float(enrollment.progress_percentage),
        enrolled_at=iso(enrollment.enrolled_at),
        completed_at=iso(enrollment.completed_at),
        dropped_at=iso(enrollment.dropped_at),
        rating=enrollment.rating,
        review=enrollment.review,
    )


@dataclass
class EnrollResult:
    enrollment: Enrollment
    #: ``created``, ``reenrolled`` or ``unchanged``.
    outcome: str


def find_enrollment(session: Session, student_id: int, course_id: int) -> Enrollment | None:
    return session.scalars(
        select(Enrollment).where(
            Enrollment.student_id == student_id, Enrollment.course_id == course_id
        )
    ).first()


def _require_for_learner(actor: Actor, student: User, course: Course, what: str) -> None:
    """Learners act for themselves; course managers and admins act for anyone."""
    if actor.is_user(student.id) or can_manage_course(actor, course):
        return
    raise PermissionDenied(
        f"only {student.email}, the course's instructor or an administrator may {what}"
    )


def _get_enrollment(
    session: Session, email: str, course_slug: str
) -> tuple[User, Course, Enrollment]:
    student = get_user(session, email)
    course = get_course(session, course_slug)
    enrollment = find_enrollment(session, student.id, course.id)
    if enrollment is None:
        raise NotFound(
            f"{student.email} is not enrolled in {course.slug}", field="user_email", value=email
        )
    return student, course, enrollment


def enroll(session: Session, *, actor: Actor, email: str, course_slug: str) -> EnrollResult:
    """Enroll a learner; enrolling again changes nothing, and a dropped learner is re-enrolled."""
    keys = check_values(
        ENROLLMENT,
        {"user_email": email, "course_slug": course_slug},
        creating=True,
        required=("user_email", "course_slug"),
    )
    student = get_user(session, keys["user_email"])
    course = get_course(session, keys["course_slug"])
    _require_for_learner(actor, student, course, "enroll this learner")
    if not student.is_active:
        raise ValidationError(f"{student.email} is deactivated", field="user_email", value=email)
    if student.id == course.instructor_id:
        raise Conflict(
            f"{student.email} teaches {course.slug} and cannot enroll in it",
            field="user_email",
            value=email,
        )
    enrollment = find_enrollment(session, student.id, course.id)
    if enrollment is not None and enrollment.status != EnrollmentStatus.dropped.value:
        return EnrollResult(enrollment, "unchanged")
    if not course.is_published and not can_manage_course(actor, course):
        raise Conflict(
            f"course {course.slug} is not published", field="course_slug", value=course_slug
        )
    if enrollment is None:
        enrollment = Enrollment(
            student_id=student.id,
            course_id=course.id,
            status=EnrollmentStatus.active.value,
            enrolled_at=utcnow(),
        )
        # A concurrent enroll of the same learner may win the race: then that one stands.
        winner = insert_or_winner(
            session, enrollment, lambda: find_enrollment(session, student.id, course.id)
        )
        if winner is not None:
            return EnrollResult(winner, "unchanged")
        recompute(session, enrollment)
        audit.record(
            session,
            actor,
            "enrollment.create",
            enrollment,
            after={"user_email": student.email, "course_slug": course.slug},
        )
        session.refresh(enrollment, ["student", "course"])
        events.enrollment_created(session, enrollment)
        queue_enrollment_mails(session, "enrollment", [enrollment.id])
        return EnrollResult(enrollment, "created")
    before = audit.snapshot(enrollment, _AUDITED)
    enrollment.status = EnrollmentStatus.active.value
    enrollment.dropped_at = None
    recompute(session, enrollment)
    audit.record_change(
        session,
        actor,
        "enrollment.reenroll",
        enrollment,
        before=before,
        fields=_AUDITED,
        unchanged_too=True,
    )
    return EnrollResult(enrollment, "reenrolled")


def drop(session: Session, *, actor: Actor, email: str, course_slug: str) -> Enrollment:
    student, course, enrollment = _get_enrollment(session, email, course_slug)
    _require_for_learner(actor, student, course, "drop this enrollment")
    if enrollment.status == EnrollmentStatus.dropped.value:
        raise Conflict(
            f"{student.email} already dropped {course.slug}", field="status", value="dropped"
        )
    if enrollment.status == EnrollmentStatus.completed.value:
        raise Conflict(
            f"{student.email} completed {course.slug}; a completed course cannot be dropped",
            field="status",
            value="completed",
        )
    before = audit.snapshot(enrollment, _AUDITED)
    enrollment.status = EnrollmentStatus.dropped.value
    enrollment.dropped_at = utcnow()
    audit.record_change(
        session,
        actor,
        "enrollment.drop",
        enrollment,
        before=before,
        fields=_AUDITED,
        unchanged_too=True,
    )
    return enrollment


def complete_lesson(
    session: Session, *, actor: Actor, email: str, course_slug: str, lesson_slug: str
) -> tuple[Enrollment, bool]:
    """Mark a lesson done (idempotent), recompute progress, detect completion.

    Quiz and assignment lessons are refused: they complete only through the work itself (a
    passed attempt, a graded submission), which goes through ``complete_earned_lesson``.
    Returns the enrollment and whether this call completed the course.
    """
    return _complete(session, actor, email, course_slug, lesson_slug, earned=False)


def complete_earned_lesson(
    session: Session, *, actor: Actor, email: str, course_slug: str, lesson_slug: str
) -> tuple[Enrollment, bool]:
    """``complete_lesson`` for the quiz and assignment services once the work earned it
    (any lesson type); not for learners' or operators' direct use."""
    return _complete(session, actor, email, course_slug, lesson_slug, earned=True)


_EARNED_BY = {
    LessonType.quiz.value: "passing its quiz (quizzes start, then quizzes submit)",
    LessonType.assignment.value: "a graded submission (submissions submit, then submissions grade)",
}


def _complete(
    session: Session, actor: Actor, email: str, course_slug: str, lesson_slug: str, *, earned: bool
) -> tuple[Enrollment, bool]:
    student, course, enrollment = _get_enrollment(session, email, course_slug)
    _require_for_learner(actor, student, course, "record progress for this learner")
    if enrollment.status == EnrollmentStatus.dropped.value:
        raise Conflict(
            f"{student.email} dropped {course.slug}; re-enroll first",
            field="status",
            value="dropped",
        )
    lesson = get_lesson(session, course, lesson_slug)
    if not earned and lesson.lesson_type in _EARNED_BY:
        raise Conflict(
            f"{course.slug}/{lesson.slug} is a {lesson.lesson_type} lesson: it completes only by "
            f"{_EARNED_BY[lesson.lesson_type]}, not by complete-lesson",
            field="lesson_slug",
            value=lesson_slug,
        )
    exists = session.scalars(
        select(LessonProgress).where(
            LessonProgress.enrollment_id == enrollment.id, LessonProgress.lesson_id == lesson.id
        )
    ).first()
    if exists is not None:
        return enrollment, False
    was = enrollment.status
    at = utcnow()
    session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=lesson.id, completed_at=at))
    session.flush()
    note_activity(session, student.id, at)
    before = audit.snapshot(enrollment, _AUDITED)
    recompute(session, enrollment)
    audit.record(
        session,
        actor,
        "enrollment.complete_lesson",
        enrollment,
        before=before,
        after={
            "lesson_slug": lesson.slug,
            **audit.changed(before, audit.snapshot(enrollment, _AUDITED)),
        },
    )
    return enrollment, was != enrollment.status == EnrollmentStatus.completed.value


def review(
    session: Session,
    *,
    actor: Actor,
    email: str,
    course_slug: str,
    rating: int,
    text: str | None = None,
) -> Enrollment:
    """Rate (1-5) and review a course; only a learner who is enrolled (not dropped)."""
    student, course, enrollment = _get_enrollment(session, email, course_slug)
    if not (actor.is_user(student.id) or actor.is_admin):
        raise PermissionDenied(
            f"only {student.email} (or an administrator) may review for this learner"
        )
    if enrollment.status == EnrollmentStatus.dropped.value:
        raise Conflict(
            f"{student.email} dropped {course.slug} and cannot review it",
            field="status",
            value="dropped",
        )
    # A rating is typed (an int): a text such as "5", or a None, from an untyped caller is
    # refused, not read as the spec's check reads a file's cell.
    if not isinstance(rating, int):
        raise ValidationError(
            whole_number_between(_RATING.minimum, _RATING.maximum), field="rating", value=rating
        )
    values = check_values(ENROLLMENT, {"rating": rating, "review": text or ""}, creating=True)
    before = audit.snapshot(enrollment, _AUDITED)
    enrollment.rating = values["rating"]
    enrollment.review = values["review"]
    enrollment.reviewed_at = utcnow()
    audit.record_change(
        session,
        actor,
        "enrollment.review",
        enrollment,
        before=before,
        fields=_AUDITED,
        unchanged_too=True,
    )
    return enrollment


def enrollments_query(
    session: Session,
    *,
    actor: Actor,
    course_slug: str | None = None,
    email: str | None = None,
    status: str | None = None,
) -> Select[Enrollment]:
    """The query behind ``list_enrollments``, for a page or a stream (``pagination.iter_rows``)."""
    stmt = (
        select(Enrollment)
        .join(Enrollment.course)
        .join(Enrollment.student)
        .order_by(Course.slug, User.email)
    )
    if course_slug:
        stmt = stmt.where(Enrollment.course_id == get_course(session, course_slug).id)
    if email:
        stmt = stmt.where(Enrollment.student_id == get_user(session, email).id)
    if status:
        wanted = check_values(ENROLLMENT, {"status": status})["status"]
        stmt = stmt.where(Enrollment.status == wanted)
    visible = scopes.enrollments(actor)  # the one rule the back office filters by too
    if visible is not None:
        stmt = stmt.where(visible)
    return stmt


def list_enrollments(
    session: Session,
    *,
    actor: Actor,
    course_slug: str | None = None,
    email: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Enrollment]:
    """Enrollments the actor may see: admins all, instructors their courses', learners their own."""
    stmt = enrollments_query(
        session, actor=actor, course_slug=course_slug, email=email, status=status
    )
    return paginate(session, stmt, page=page, per_page=per_page)
