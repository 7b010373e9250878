"""Progress %: the share of required lessons completed, and course completion.

Progress counts required lessons (all lessons when a course marks none required), so an
optional lesson never holds a learner back from completing the course. Quiz and assignment
lessons are completed only by their work (``enrollments.complete_earned_lesson`` for one
learner, :func:`complete_lesson_for_many` for a regrade or a grading import).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from lms_core import events
from lms_core.accounts.activity import note_activity_of_enrollments
from lms_core.automation.queue import queue_auto_certificates
from lms_core.mail.notify import queue_enrollment_mails
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
        queue_auto_certificates(session, enrollment.course_id, [enrollment.id])
        events.enrollments_completed(session, [enrollment.id])
        queue_enrollment_mails(session, "course_completion", [enrollment.id])
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


_CHUNK = 900


def complete_lesson_for_many(
    session: Session, lesson: Lesson, enrollment_ids: Sequence[int]
) -> int:
    """Mark ``lesson`` done for these enrollments (not dropped, not yet done), set-based: the
    rules of :func:`recompute` with one ``IN``-chunked count and one ``executemany`` per chunk
    (a regrade or a grading import can finish thousands of learners at once).

    Only for work that earned it (a passed quiz, a graded submission); no audit entry per
    learner. Returns how many lessons were completed; progress and course completion follow.
    """
    lessons = session.execute(
        select(Lesson.id, Lesson.is_required).where(Lesson.course_id == lesson.course_id)
    ).all()
    counted = {lid for lid, required in lessons if required} or {lid for lid, _ in lessons}
    enrollments = Enrollment.__table__
    assert isinstance(enrollments, Table)
    write = (
        update(enrollments)
        .where(enrollments.c.id == bindparam("b_id"))
        .values(
            progress_percentage=bindparam("b_progress"),
            status=bindparam("b_status"),
            completed_at=bindparam("b_completed_at"),
        )
    )
    now = utcnow()
    completed = 0
    newly_completed: list[int] = []
    ids = sorted(set(enrollment_ids))
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        todo = list(
            session.scalars(
                select(Enrollment.id).where(
                    Enrollment.id.in_(chunk),
                    Enrollment.status != EnrollmentStatus.dropped.value,
                    ~select(LessonProgress.id)
                    .where(
                        LessonProgress.enrollment_id == Enrollment.id,
                        LessonProgress.lesson_id == lesson.id,
                    )
                    .exists(),
                )
            )
        )
        if not todo:
            continue
        session.execute(
            insert(LessonProgress),
            [{"enrollment_id": e, "lesson_id": lesson.id, "completed_at": now} for e in todo],
        )
        note_activity_of_enrollments(session, todo, now)
        done: dict[int, int] = {
            eid: n
            for eid, n in session.execute(
                select(LessonProgress.enrollment_id, func.count())
                .where(
                    LessonProgress.enrollment_id.in_(todo),
                    LessonProgress.lesson_id.in_(counted),
                )
                .group_by(LessonProgress.enrollment_id)
            )
        }
        states = {
            eid: (status, completed_at)
            for eid, status, completed_at in session.execute(
                select(Enrollment.id, Enrollment.status, Enrollment.completed_at).where(
                    Enrollment.id.in_(todo)
                )
            )
        }
        params = []
        for eid in todo:
            status, completed_at = states[eid]
            n = done.get(eid, 0)
            progress = (
                (Decimal(n * 100) / Decimal(len(counted))).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                )
                if counted
                else Decimal("0")
            )
            if counted and n >= len(counted) and status == EnrollmentStatus.active.value:
                status, completed_at = EnrollmentStatus.completed.value, now
                newly_completed.append(eid)
            params.append(
                {
                    "b_id": eid,
                    "b_progress": progress,
                    "b_status": status,
                    "b_completed_at": completed_at,
                }
            )
        session.execute(write, params)
        completed += len(todo)
    queue_auto_certificates(session, lesson.course_id, newly_completed)
    events.enrollments_completed(session, newly_completed)
    queue_enrollment_mails(session, "course_completion", newly_completed)
    if completed:
        session.expire_all()  # enrollments loaded in the session see their new progress
    return completed
