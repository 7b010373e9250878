"""The statements a quiz answer runs on every save, built once with bound parameters.

Saving an answer is the API's busiest write; building these selects (joins, comparisons)
on each call cost more CPU than running them. One statement object per query, its values
bound at execution, also hits SQLAlchemy's compiled cache every time
(see ``lms_core.accounts.token_lookup``).
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Select, bindparam, select

from lms_core.models import Attempt, Enrollment, Question, User


@cache
def attempt_with_student() -> Select[Attempt, User]:
    """An attempt (``attempt_id``) and the learner whose enrollment it belongs to."""
    return (
        select(Attempt, User)
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .join(User, User.id == Enrollment.student_id)
        .where(Attempt.id == bindparam("attempt_id"))
    )


@cache
def questions_in_order() -> Select[Question]:
    """A quiz's (``quiz_id``) questions in their stored order."""
    return (
        select(Question)
        .where(Question.quiz_id == bindparam("quiz_id"))
        .order_by(Question.order_index)
    )
