"""Progress %: the share of required lessons completed, and course completion.

Progress counts required lessons (all lessons when a course marks none required), so an
optional lesson never holds a learner back from completing the course.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.models import Course, Enrollment, EnrollmentStatus, Lesson, LessonProgress, utcnow


def recompute(session: Session, enrollment: Enrollment) -> Decimal:
    """Set the enrollment's progress % and complete it when every counted lesson is done."""
    lessons = list(
        session.execute(
            select(Lesson.id, Lesson.is_required).where(Lesson.course_id == enrollment.course_id)
        )
    )
    counted = {lid for lid, required in lessons if required} or {lid for lid, _ in lessons}
    done = set(
        session.scalars(
            select(LessonProgress.lesson_id).where(LessonProgress.enrollment_id == enrollment.id)
        )
    )
    if counted:
        ratio = Decimal(len(counted & done) * 100) / Decimal(len(counted))
        enrollment.progress_percentage = ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    else:
        enrollment.progress_percentage = Decimal("0")
    if counted and counted <= done and enrollment.status == EnrollmentStatus.active.value:
        enrollment.status = EnrollmentStatus.completed.value
        enrollment.completed_at = utcnow()
    session.flush()
    return enrollment.progress_percentage


def recompute_course(session: Session, course: Course) -> int:
    """Recompute every active enrollment of a course after its lessons changed."""
    enrollments = list(
        session.scalars(
            select(Enrollment).where(
                Enrollment.course_id == course.id,
                Enrollment.status == EnrollmentStatus.active.value,
            )
        )
    )
    for enrollment in enrollments:
        recompute(session, enrollment)
    return len(enrollments)


def completed_count(session: Session, enrollment_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(LessonProgress)
        .where(LessonProgress.enrollment_id == enrollment_id)
    )
    return session.scalar(stmt) or 0
