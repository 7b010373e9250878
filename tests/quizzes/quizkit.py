"""Quiz test data: one question of each type with a right answer, a ready published quiz, and
quiz and attempt rows written directly (for scoring tests that need many attempts fast)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.catalog import courses
from lms_core.models import Attempt, Course, Enrollment, Quiz, User
from lms_core.quizzes import questions as question_service
from lms_core.quizzes import quizzes
from lms_core.quizzes.bank.shapes import QuestionData
from lms_core.quizzes.fields import QuizCreate


def all_types() -> list[QuestionData]:
    """Seven questions, one per type, 10 points in all (the essay is worth 2)."""
    return [
        QuestionData(
            question_text="2 + 2?",
            question_type="multiple_choice",
            options=[
                {"text": "3", "weight": 0, "feedback": None},
                {"text": "4", "weight": 100, "feedback": "yes"},
                {"text": "5", "weight": 0, "feedback": None},
            ],
            title="sum",
        ),
        QuestionData(
            question_text="Even numbers?",
            question_type="multiple_response",
            options=[
                {"text": "2", "weight": 50, "feedback": None},
                {"text": "4", "weight": 50, "feedback": None},
                {"text": "5", "weight": -50, "feedback": None},
            ],
        ),
        QuestionData(
            question_text="Python is a snake.", question_type="true_false", correct_answer=True
        ),
        QuestionData(
            question_text="Capital of France?",
            question_type="short_answer",
            options=[{"text": "Paris", "weight": 100, "feedback": None}],
        ),
        QuestionData(
            question_text="Pi to 2 decimals?",
            question_type="numerical",
            options=[
                {
                    "min": 3.13,
                    "max": 3.15,
                    "value": 3.14,
                    "tolerance": 0.01,
                    "weight": 100,
                    "feedback": None,
                }
            ],
        ),
        QuestionData(
            question_text="Match the sounds.",
            question_type="matching",
            options=[{"left": "cat", "right": "meow"}, {"left": "dog", "right": "woof"}],
        ),
        QuestionData(question_text="Why test?", question_type="essay", points=Decimal("4")),
    ]


#: Right answers by question number (the essay's is text, graded by hand).
RIGHT: dict[int, Any] = {
    1: 1,
    2: [0, 1],
    3: True,
    4: "  paris ",
    5: "3,14",
    6: {"0": "meow", "1": "woof"},
    7: "Because.",
}
WRONG: dict[int, Any] = {1: 0, 2: [2], 3: False, 4: "Lyon", 5: 2, 6: {"1": "woof"}, 7: ""}


@dataclass
class QuizSetup:
    course: Course
    quiz: Quiz
    teacher: User
    student: User
    ref: str


def make_quiz(
    session: Session,
    make: Any,
    operator: Actor,
    *,
    questions: list[QuestionData] | None = None,
    publish: bool = True,
    lessons: int = 1,
    **settings: Any,
) -> QuizSetup:
    """A published course with ``lessons`` text lessons plus a quiz lesson, and one enrolled learner."""
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=lessons)
    make.lesson(course, slug="quiz", lesson_type="quiz")
    courses.publish_course(session, actor=operator, slug=course.slug)
    quiz = quizzes.create_quiz(
        session,
        actor=operator,
        course_slug=course.slug,
        lesson_slug="quiz",
        data=QuizCreate(title="Quiz", **settings),
    )
    ref = f"{course.slug}/quiz"
    question_service.import_questions(
        session,
        actor=operator,
        quiz_ref=ref,
        questions=questions if questions is not None else all_types(),
    )
    if publish:
        quizzes.publish_quiz(session, actor=operator, quiz_ref=ref)
    student = make.user("student")
    make.enroll(student, course)
    return QuizSetup(course, quiz, teacher, student, ref)


def add_quiz(session: Session, make: Any, course: Course, slug: str, **extra: Any) -> Quiz:
    """A published, graded quiz on a new quiz lesson ``slug`` of ``course`` (a row, no questions);
    ``extra`` sets other Quiz columns (``grading_method``, ``quiz_type``, ...)."""
    lesson = make.lesson(course, slug=slug, lesson_type="quiz")
    values: dict[str, Any] = {
        "lesson_id": lesson.id,
        "title": slug.title(),
        "quiz_type": "graded",
        "is_published": True,
        **extra,
    }
    quiz = Quiz(**values)
    session.add(quiz)
    session.flush()
    return quiz


def add_attempt(
    session: Session,
    quiz: Quiz,
    enrollment: Enrollment,
    number: int,
    score: str | None,
    status: str = "graded",
) -> Attempt:
    """Attempt ``number`` of ``enrollment`` at ``quiz``; only a graded attempt keeps its score."""
    attempt = Attempt(
        enrollment_id=enrollment.id,
        quiz_id=quiz.id,
        number=number,
        status=status,
        score=Decimal(score) if score is not None and status == "graded" else None,
        shuffle_seed=1,
        answers={},
        question_scores={},
    )
    session.add(attempt)
    session.flush()
    return attempt
