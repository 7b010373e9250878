"""The demo school's quiz: one question of each type, imported from GIFT, and a graded attempt.

Called by ``demo.seed``; idempotent like the rest of the seed (what exists is kept, so a second
run creates nothing and writes no audit entry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from lms_core.actor import Actor
from lms_core.models import Attempt, Enrollment, Quiz

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

COURSE = "demo-python-basics"
LESSON = "checkpoint"
REF = f"{COURSE}/{LESSON}"

#: One question of each of the seven types, the way an instructor would write them.
GIFT = """\
$CATEGORY: demo/python-basics

// multiple choice, with feedback per answer
::types:: Which of these is a Python integer? {
  =42 # Right: a whole number.
  ~"42" # That is a string.
  ~4.2 # That is a float.
}

// several right answers, a wrong one costs
::immutable:: Which of these types are immutable? {
  ~%50%tuple
  ~%50%str
  ~%-100%list
}

::indent:: Python uses indentation to mark blocks. {TRUE}

::keyword:: Which keyword defines a function? {=def}

::len:: What does len("hello") return? {#5:0}

::literals:: Match each literal to its type. {
  =42 -> int
  =3.5 -> float
  ="hi" -> str
}

::why functions:: In two sentences, why are functions useful? {}
"""

#: The demo student's answers, by question number: all right (the essay is graded by hand).
ANSWERS: dict[int, Any] = {
    1: 0,
    2: [0, 1],
    3: True,
    4: "def",
    5: "5",
    6: {"0": "int", "1": "float", "2": "str"},
    7: "A function names a piece of work so it can be reused. "
    "It also makes that piece easy to test on its own.",
}


def seed_demo_quiz(
    session: Session, *, actor: Actor, instructor_email: str, student_email: str
) -> list[tuple[str, bool]]:
    """Quiz, questions, publication and the student's graded attempt; ``(what, created)`` notes."""
    from lms_core.accounts import users
    from lms_core.catalog import courses
    from lms_core.quizzes import attempts, questions, quizzes, review
    from lms_core.quizzes.fields import QuizCreate

    notes: list[tuple[str, bool]] = []
    course = courses.get_course(session, COURSE)
    lesson = next(lesson for lesson in course.lessons if lesson.slug == LESSON)
    quiz = session.scalars(select(Quiz).where(Quiz.lesson_id == lesson.id)).first()
    created = quiz is None
    if quiz is None:
        quiz = quizzes.create_quiz(
            session,
            actor=actor,
            course_slug=COURSE,
            lesson_slug=LESSON,
            data=QuizCreate(
                title="Checkpoint: Python basics",
                description="One question of each kind; the essay is graded by the instructor.",
                passing_score="70",
                max_attempts=3,
                shuffle_options=True,
            ),
        )
    if quizzes.question_count(session, quiz.id) == 0:
        parsed = questions.parse_bank(GIFT.encode(), file="demo-checkpoint.gift", fmt="gift")
        questions.import_questions(
            session, actor=actor, quiz_ref=quiz.id, questions=parsed, source="demo"
        )
    if not quiz.is_published:
        quizzes.publish_quiz(session, actor=actor, quiz_ref=quiz.id)
    notes.append((f"quiz {REF}", created))

    student = users.get_user(session, student_email)
    enrollment = session.scalars(
        select(Enrollment).where(
            Enrollment.student_id == student.id, Enrollment.course_id == course.id
        )
    ).one()
    attempt = session.scalars(
        select(Attempt)
        .where(Attempt.enrollment_id == enrollment.id, Attempt.quiz_id == quiz.id)
        .order_by(Attempt.number)
    ).first()
    created = attempt is None
    if attempt is None:
        attempt = attempts.start_attempt(
            session, actor=actor, quiz_ref=quiz.id, email=student.email
        ).attempt
    if attempt.status == "in_progress":
        attempts.save_answers(session, actor=actor, attempt_id=attempt.id, answers=ANSWERS)
        attempts.submit_attempt(session, actor=actor, attempt_id=attempt.id)
    if attempt.status == "submitted":
        instructor = Actor.for_user(users.get_user(session, instructor_email))
        review.grade_essay(
            session, actor=instructor, attempt_id=attempt.id, question_number=7, points="1"
        )
    notes.append((f"quiz attempt {student.email} at {REF}", created))
    return notes
