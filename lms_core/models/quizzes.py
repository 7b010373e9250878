"""Quizzes (one per lesson of type ``quiz``), their questions, and learners' attempts.

How a question's ``options`` and ``correct_answer`` are shaped per type, and what an answer
looks like, is documented (and enforced) in ``lms_core.quizzes.bank.shapes``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms_core.models.base import Base, TimestampMixin, utcnow
from lms_core.models.courses import Lesson
from lms_core.models.partial_index import partial_unique_index
from lms_core.models.users import _in


class QuizType(StrEnum):
    practice = "practice"
    graded = "graded"


class GradingMethod(StrEnum):
    highest = "highest"
    latest = "latest"
    first = "first"
    average = "average"


class QuestionType(StrEnum):
    multiple_choice = "multiple_choice"
    #: Several right options, weighted; partial credit, never below 0.
    multiple_response = "multiple_response"
    true_false = "true_false"
    short_answer = "short_answer"
    numerical = "numerical"
    matching = "matching"
    #: Graded by hand.
    essay = "essay"


class AttemptStatus(StrEnum):
    in_progress = "in_progress"
    #: Submitted, waiting for hand grading (an essay).
    submitted = "submitted"
    graded = "graded"


class Quiz(TimestampMixin, Base):
    __tablename__ = "quizzes"
    __table_args__ = (
        CheckConstraint(_in("quiz_type", QuizType), name="quiz_type_valid"),
        CheckConstraint(_in("grading_method", GradingMethod), name="grading_method_valid"),
        CheckConstraint(
            "passing_score >= 0 AND passing_score <= 100", name="passing_score_in_range"
        ),
        CheckConstraint(
            "time_limit_minutes IS NULL OR time_limit_minutes > 0", name="time_limit_positive"
        ),
        CheckConstraint("max_attempts IS NULL OR max_attempts > 0", name="max_attempts_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), unique=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    quiz_type: Mapped[str] = mapped_column(String(20), default=QuizType.graded.value)
    #: Score (%) needed to pass.
    passing_score: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("70"))
    #: NULL: no time limit. Enforced on the server from ``Attempt.deadline_at``.
    time_limit_minutes: Mapped[int | None]
    #: NULL: unlimited attempts.
    max_attempts: Mapped[int | None]
    shuffle_questions: Mapped[bool] = mapped_column(default=False)
    shuffle_options: Mapped[bool] = mapped_column(default=False)
    show_correct_answers: Mapped[bool] = mapped_column(default=True)
    #: Which attempt(s) make the learner's final score for this quiz.
    grading_method: Mapped[str] = mapped_column(String(10), default=GradingMethod.highest.value)
    is_published: Mapped[bool] = mapped_column(default=False)

    lesson: Mapped[Lesson] = relationship(lazy="joined")
    questions: Mapped[list[Question]] = relationship(
        back_populates="quiz", order_by="Question.order_index", cascade="all, delete-orphan"
    )


class Question(TimestampMixin, Base):
    __tablename__ = "questions"
    __table_args__ = (
        CheckConstraint(_in("question_type", QuestionType), name="question_type_valid"),
        CheckConstraint("points >= 0", name="points_positive"),
        CheckConstraint("order_index >= 1", name="order_index_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    #: Optional short name (GIFT ``::title::``).
    title: Mapped[str | None] = mapped_column(String(200))
    question_text: Mapped[str] = mapped_column(Text)
    #: ``plain``, ``markdown`` or ``html`` (GIFT ``[markdown]``/``[html]`` markers).
    text_format: Mapped[str] = mapped_column(String(10), default="plain")
    question_type: Mapped[str] = mapped_column(String(20))
    points: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal("1"))
    #: Type-specific list of options (see ``lms_core.quizzes.bank.shapes``).
    options: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: Type-specific key where options do not carry it (true/false: ``true``/``false``).
    correct_answer: Mapped[Any] = mapped_column(JSON, nullable=True)
    explanation: Mapped[str | None] = mapped_column(Text)
    #: GIFT ``$CATEGORY`` the question came from, kept for export.
    category: Mapped[str | None] = mapped_column(String(200))
    #: Position in the quiz, 1..n.
    order_index: Mapped[int]

    quiz: Mapped[Quiz] = relationship(back_populates="questions")

    @property
    def option_count(self) -> int:
        """How many options it offers: what an answer's option indexes are checked against
        (``scoring.check_answer``; a save's plain row counts them as this does,
        ``answer_rows.QuestionRow``)."""
        return len(self.options or [])


class Attempt(Base):
    __tablename__ = "attempts"
    __table_args__ = (
        CheckConstraint(_in("status", AttemptStatus), name="status_valid"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score_in_range"),
        UniqueConstraint("enrollment_id", "quiz_id", "number", name="uq_attempts_number"),
        # At most one attempt in progress per learner and quiz, even under racing starts.
        partial_unique_index(
            "uq_attempts_one_in_progress",
            "enrollment_id",
            "quiz_id",
            where="status = 'in_progress'",
        ),
        Index("ix_attempts_quiz_status", "quiz_id", "status"),
        # Reports: active learners in the last 7 and 30 days, from the index alone (time,
        # then whose: migration f6a8b0c2d4e6).
        Index("ix_attempts_started_at_enrollment", "started_at", "enrollment_id"),
        Index("ix_attempts_submitted_at_enrollment", "submitted_at", "enrollment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE"), index=True
    )
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    #: 1 for the learner's first attempt at this quiz, 2 for the second...
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=AttemptStatus.in_progress.value)
    #: Percentage 0..100 of the points possible; NULL until graded.
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    points_earned: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    points_possible: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    passed: Mapped[bool | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: started_at + time limit; answers saved after it are not counted.
    deadline_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    graded_at: Mapped[datetime | None]
    #: Who graded the hand-graded questions (NULL: graded automatically).
    graded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: ``{question_id: answer}`` as saved (see ``lms_core.quizzes.bank.shapes``).
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: ``{question_id: points}`` awarded per question (hand grades included).
    question_scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Seed for question and option shuffling: the same order on every resume.
    shuffle_seed: Mapped[int]
