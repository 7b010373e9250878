"""Quiz lesson completion for many learners at once (a regrade can make thousands pass).

The same rules as ``lms_core.catalog.progress.recompute`` (the share of counted lessons done,
2 decimals half up; completion when every counted lesson is done), applied set-based: one
``IN``-chunked count and one ``executemany`` per chunk instead of two queries per learner.
Where progress rules change, change both (``tests/quizzes/test_regrade.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from lms_core.models import Enrollment, EnrollmentStatus, Lesson, LessonProgress, Quiz, utcnow

_CHUNK = 900


def complete_quiz_lesson(session: Session, quiz: Quiz, enrollment_ids: Sequence[int]) -> int:
    """Mark the quiz's lesson done for these enrollments (not dropped, not yet done).

    Returns how many lessons were completed; progress and course completion follow.
    """
    lessons = session.execute(
        select(Lesson.id, Lesson.is_required).where(Lesson.course_id == quiz.lesson.course_id)
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
                        LessonProgress.lesson_id == quiz.lesson_id,
                    )
                    .exists(),
                )
            )
        )
        if not todo:
            continue
        session.execute(
            insert(LessonProgress),
            [{"enrollment_id": e, "lesson_id": quiz.lesson_id, "completed_at": now} for e in todo],
        )
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
    if completed:
        session.expire_all()  # enrollments loaded in the session see their new progress
    return completed
