"""The statements that read an attempt and its quiz's questions as objects (start, show,
submit, grade), built once with bound parameters.

Building these selects (joins, comparisons) on each call cost more CPU than running them.
(Saving answers, the API's busiest write, reads plain rows instead:
``lms_core.quizzes.answer_rows``.) One statement object per query, its values
bound at execution, also hits SQLAlchemy's compiled cache every time
(see ``lms_core.accounts.token_lookup``).
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload

from lms_core.kept import PREPARE
from lms_core.models import Attempt, Enrollment, Lesson, Question, Quiz, User


@cache
def attempt_with_student() -> Select[Attempt, User, Quiz]:
    """An attempt (``attempt_id``), the learner whose enrollment it belongs to, and its quiz
    with the quiz's lesson and course: one statement where reading the quiz, then its
    lesson's course, took three (every submit checks who manages the course)."""
    return (
        select(Attempt, User, Quiz)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .join(User, User.id == Enrollment.student_id)
        .join(Quiz, Quiz.id == Attempt.quiz_id)
        .options(joinedload(Quiz.lesson).joinedload(Lesson.course))
        .where(Attempt.id == bindparam("attempt_id"))
        .execution_options(**{PREPARE: True})  # planning it took 4x its run (lms_core.kept)
    )


@cache
def questions_in_order() -> Select[Question]:
    """A quiz's (``quiz_id``) questions in their stored order."""
    return (
        select(Question)
        .where(Question.quiz_id == bindparam("quiz_id"))
        .order_by(Question.order_index)
        .execution_options(**{PREPARE: True})
    )
