"""Courses and their ordered lessons."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms_core.models.base import Base, TimestampMixin
from lms_core.models.users import User, _in


class DifficultyLevel(StrEnum):
    beginner = "beginner"
    intermediate = "intermediate"
    advanced = "advanced"


class LessonType(StrEnum):
    video = "video"
    text = "text"
    quiz = "quiz"
    assignment = "assignment"


class Course(TimestampMixin, Base):
    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint(_in("difficulty_level", DifficultyLevel), name="difficulty_level_valid"),
        CheckConstraint(
            "estimated_duration_minutes IS NULL OR estimated_duration_minutes >= 0",
            name="estimated_duration_minutes_positive",
        ),
        CheckConstraint(
            "certificate_min_grade >= 0 AND certificate_min_grade <= 100",
            name="certificate_min_grade_in_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    instructor_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    category: Mapped[str | None] = mapped_column(String(100))
    difficulty_level: Mapped[str] = mapped_column(
        String(20), default=DifficultyLevel.beginner.value
    )
    thumbnail_url: Mapped[str | None] = mapped_column(String(500))
    estimated_duration_minutes: Mapped[int | None]
    is_published: Mapped[bool] = mapped_column(default=False)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: Course grade (%) a learner needs for a certificate, where the course has graded work.
    certificate_min_grade: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), default=Decimal("0"), server_default="0"
    )
    #: Issue the certificate by itself when a learner completes the course (a job, queued
    #: with the completion: lms_core.automation.jobs).
    auto_certificate: Mapped[bool] = mapped_column(default=False, server_default=false())

    instructor: Mapped[User] = relationship(lazy="joined")
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="course", order_by="Lesson.order_index", cascade="all, delete-orphan"
    )


class Lesson(TimestampMixin, Base):
    __tablename__ = "lessons"
    __table_args__ = (
        UniqueConstraint("course_id", "slug", name="uq_lessons_course_id_slug"),
        CheckConstraint(_in("lesson_type", LessonType), name="lesson_type_valid"),
        CheckConstraint("order_index >= 1", name="order_index_positive"),
        CheckConstraint(
            "duration_minutes IS NULL OR duration_minutes >= 0", name="duration_minutes_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100))
    content: Mapped[str | None] = mapped_column(Text)
    lesson_type: Mapped[str] = mapped_column(String(20), default=LessonType.text.value)
    duration_minutes: Mapped[int | None]
    #: Position in the course, 1..n without gaps (the lessons service keeps it so).
    order_index: Mapped[int]
    video_url: Mapped[str | None] = mapped_column(String(500))
    #: Visible to visitors who are not enrolled.
    is_preview: Mapped[bool] = mapped_column(default=False)
    #: Counts toward progress and completion (and certificate eligibility).
    is_required: Mapped[bool] = mapped_column(default=True)

    course: Mapped[Course] = relationship(back_populates="lessons")


class CatalogStamp(Base):
    """One row whose ``stamp`` changes with every committed change to a course or a lesson
    (any column, a row added or removed) and to a user's e-mail (a catalog row shows its
    instructor's): what an API worker checks its kept catalog pages and outlines against
    (``lms_core/catalog/stamp.py``). Written by triggers only: the migration that made this
    table (``catalog_stamp``) adds them, so nothing that writes a course can forget it."""

    __tablename__ = "catalog_stamp"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 32 random hex digits, new at each change: never a count, which a restored backup
    #: would set back to a value this site's workers saw for other rows.
    stamp: Mapped[str] = mapped_column(String(32))
