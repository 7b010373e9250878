"""Assignments, learners' submissions, and the files attached to them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms_core.models.base import Base, TimestampMixin
from lms_core.models.courses import Course, Lesson
from lms_core.models.files import StoredFile
from lms_core.models.users import User, _in


class LatePolicy(StrEnum):
    #: Accepted until ``late_cutoff`` with ``late_penalty_percent`` off per started day late.
    accept = "accept"
    #: Nothing accepted after the due date.
    refuse = "refuse"


submission_files = Table(
    "submission_files",
    Base.metadata,
    Column(
        "submission_id",
        ForeignKey("submissions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("file_id", ForeignKey("files.id", ondelete="RESTRICT"), primary_key=True),
)


class Assignment(TimestampMixin, Base):
    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint(_in("late_policy", LatePolicy), name="late_policy_valid"),
        CheckConstraint("max_points > 0", name="max_points_positive"),
        CheckConstraint(
            "late_penalty_percent >= 0 AND late_penalty_percent <= 100",
            name="late_penalty_percent_in_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    #: The lesson of type ``assignment`` it belongs to, if any (one assignment per lesson).
    lesson_id: Mapped[int | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), unique=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[datetime | None]
    max_points: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal("100"))
    late_policy: Mapped[str] = mapped_column(String(10), default=LatePolicy.accept.value)
    #: Last moment a late submission is accepted (NULL: any time, under ``accept``).
    late_cutoff: Mapped[datetime | None]
    #: Percent of the grade taken off per started day late.
    late_penalty_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))

    course: Mapped[Course] = relationship(lazy="joined")
    lesson: Mapped[Lesson | None] = relationship()


class Submission(TimestampMixin, Base):
    __tablename__ = "submissions"
    __table_args__ = (
        # Resubmitting before grading replaces the submission: one row per learner.
        UniqueConstraint("assignment_id", "student_id", name="uq_submissions_assignment_student"),
        CheckConstraint("grade IS NULL OR grade >= 0", name="grade_positive"),
        CheckConstraint("days_late >= 0", name="days_late_positive"),
        # Reports: active learners in the last 7 and 30 days, from the index alone (time,
        # then whose: migration f6a8b0c2d4e6).
        Index("ix_submissions_submitted_at_student", "submitted_at", "student_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    submitted_at: Mapped[datetime]
    content: Mapped[str | None] = mapped_column(Text)
    #: Started days after the due date (0: on time); the penalty is computed from it.
    days_late: Mapped[int] = mapped_column(default=0)
    #: Points as the grader gave them (0..max_points), NULL until graded; the late penalty
    #: applies to the final grade computed from it (see lms_core.assignments.assignments).
    grade: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    feedback: Mapped[str | None] = mapped_column(Text)
    grader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    graded_at: Mapped[datetime | None]

    assignment: Mapped[Assignment] = relationship()
    student: Mapped[User] = relationship(foreign_keys=[student_id], lazy="joined")
    files: Mapped[list[StoredFile]] = relationship(secondary=submission_files)
