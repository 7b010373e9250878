"""Enrollments of learners in courses, and their progress lesson by lesson."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms_core.models.base import Base, TimestampMixin, utcnow
from lms_core.models.courses import Course, Lesson
from lms_core.models.users import User, _in


class EnrollmentStatus(StrEnum):
    active = "active"
    completed = "completed"
    dropped = "dropped"


class Enrollment(TimestampMixin, Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("student_id", "course_id", name="uq_enrollments_student_id_course_id"),
        CheckConstraint(_in("status", EnrollmentStatus), name="status_valid"),
        CheckConstraint(
            "progress_percentage >= 0 AND progress_percentage <= 100", name="progress_in_range"
        ),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_in_range"),
        # Reports (lms_core.reports): a course's cohort by enrollment date, and the site's
        # enrollments and completions per week over a period.
        Index("ix_enrollments_course_enrolled_at", "course_id", "enrolled_at"),
        Index("ix_enrollments_enrolled_at", "enrolled_at"),
        Index("ix_enrollments_completed_at", "completed_at"),
        # The active-learner figure maps ~30,000 recent enrollments to their learner: with
        # the learner beside the id PostgreSQL answers from the index, not ~30,000 heap pages.
        Index("ix_enrollments_id_student", "id", "student_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=EnrollmentStatus.active.value)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    dropped_at: Mapped[datetime | None]
    #: Share of required lessons completed, 0..100 with two decimals.
    progress_percentage: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    rating: Mapped[int | None]
    review: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None]

    student: Mapped[User] = relationship(lazy="joined")
    course: Mapped[Course] = relationship(lazy="joined")


class LessonProgress(Base):
    __tablename__ = "lesson_progress"
    __table_args__ = (
        UniqueConstraint(
            "enrollment_id", "lesson_id", name="uq_lesson_progress_enrollment_id_lesson_id"
        ),
        # Reports: active learners in the last 7 and 30 days, from the index alone (time,
        # then whose: migration f6a8b0c2d4e6).
        Index("ix_lesson_progress_completed_at_enrollment", "completed_at", "enrollment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE"), index=True
    )
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)

    lesson: Mapped[Lesson] = relationship()
