"""Quiz lesson completion for many learners at once (a regrade can make thousands pass).

``lms_core.catalog.progress.complete_lesson_for_many`` does it: the same rules as
``recompute`` (the share of counted lessons done, 2 decimals half up; completion when every
counted lesson is done), applied set-based. Where progress rules change, change both
(``tests/quizzes/test_regrade.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from lms_core.catalog.progress import complete_lesson_for_many
from lms_core.models import Quiz


def complete_quiz_lesson(session: Session, quiz: Quiz, enrollment_ids: Sequence[int]) -> int:
    """Mark the quiz's lesson done for these enrollments (not dropped, not yet done).

    Returns how many lessons were completed; progress and course completion follow.
    """
    return complete_lesson_for_many(session, quiz.lesson, enrollment_ids)
