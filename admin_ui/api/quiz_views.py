"""Quiz attempts: start (or resume), save answers, submit, read the result.

The attempt services are the CLI's (``lmsctl quizzes start|answer|submit|attempt``): the
same checks (published, enrolled, attempts left, time limit), the same audit entries. A
learner sees questions without key or weights; the result shows points per question.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from admin_ui.api.blueprint import api
from admin_ui.api.caller import caller
from admin_ui.api.endpoint import Answer, commit, endpoint
from admin_ui.api.models import twin
from lms_core.quizzes.fields import AttemptRow

ID = "<int:attempt_id>"
LESSON = "<string(maxlength=200):slug>/lessons/<string(maxlength=200):lesson>"
#: The most answers one save carries (a quiz has far fewer questions).
MAX_ANSWERS = 500

Attempt = twin("Attempt", AttemptRow)


class AttemptWithQuestions(BaseModel):
    attempt: Attempt  # type: ignore[valid-type]  # a model made from AttemptRow
    #: In progress: the questions as the learner answers them (choices in display order).
    #: Handed in: each question with the answer given and the points earned.
    questions: list[dict[str, Any]]
    resumed: bool = False


class AnswersBody(BaseModel):
    #: Question number (1..n) → the answer: an option index, a list of them, text or a number.
    #: (JSON object keys are text: the document says they are digits.)
    answers: dict[int, Any] = Field(
        max_length=MAX_ANSWERS, json_schema_extra={"propertyNames": {"pattern": "^[0-9]+$"}}
    )


class Saved(BaseModel):
    attempt: Attempt  # type: ignore[valid-type]
    saved: list[int]


def _check_visible(db: Any, who: Any, attempt_id: int) -> bool:
    """Someone else's attempt is 404, as an unused id is: a learner probing ids learns
    neither which exist nor whose they are (the service's refusal names the owner).
    True when the caller may see the details (a manager of the course, or the quiz shows
    the correct answers)."""
    from lms_core.errors import NotFound
    from lms_core.permissions import can_manage_course
    from lms_core.quizzes.attempts import get_attempt

    _attempt, quiz, student = get_attempt(db, attempt_id)
    if can_manage_course(who, quiz.lesson.course):
        return True
    if not who.is_user(student.id):
        raise NotFound(f"no attempt {attempt_id}", field="attempt", value=attempt_id)
    return bool(quiz.show_correct_answers)


@api.post(f"/courses/{LESSON}/quiz/attempts")
@endpoint(scope="quizzes:write", tag="quizzes", ok=AttemptWithQuestions, status=201, also=(200,))
def start(slug: str, lesson: str) -> Answer:
    """Start an attempt at a quiz lesson (201), or resume the one in progress (200)."""
    from admin_ui.db import request_session
    from lms_core.quizzes.attempts import learner_questions, start_attempt
    from lms_core.quizzes.review import attempt_row

    who = caller().actor
    shown = start_attempt(request_session(), actor=who, quiz_ref=f"{slug}/{lesson}")
    answer = AttemptWithQuestions(
        attempt=attempt_row(shown.attempt, shown.email or who.label),
        questions=learner_questions(shown),
        resumed=shown.resumed,
    )
    commit()
    return answer, 200 if shown.resumed else 201


@api.put(f"/attempts/{ID}/answers")
@endpoint(scope="quizzes:write", tag="quizzes", ok=Saved, json=AnswersBody)
def save(attempt_id: int, json: AnswersBody) -> Answer:
    """Save answers (every one checked before any is stored); after the deadline nothing is
    stored and the attempt is closed on the answers saved in time (409)."""
    from admin_ui.db import request_session
    from lms_core.errors import Conflict, NotFound
    from lms_core.quizzes.answer_rows import answer_target
    from lms_core.quizzes.attempts import may_act_for_learner, save_answers
    from lms_core.quizzes.review import attempt_row

    db = request_session()
    who = caller().actor
    # As _check_visible, on the plain row the save reads anyway (read once, not twice).
    target = answer_target(db, attempt_id)
    if not may_act_for_learner(who, target.student_id, target.course):
        raise NotFound(f"no attempt {attempt_id}", field="attempt", value=attempt_id)
    result = save_answers(db, actor=who, attempt_id=attempt_id, answers=json.answers, read=target)
    row = attempt_row(result.attempt, result.email)
    commit()
    if result.late:
        raise Conflict(
            f"attempt {attempt_id}'s deadline has passed: these answers were not counted; the "
            f"attempt was closed with the answers saved in time (score {row['score']})",
            field="attempt",
            value=attempt_id,
        )
    return Saved(attempt=row, saved=result.saved)


@api.post(f"/attempts/{ID}/submission")
@endpoint(scope="quizzes:write", tag="quizzes", ok=Attempt)
def submit(attempt_id: int) -> Answer:
    """Hand in: graded at once, or ``submitted`` while an essay waits for the instructor."""
    from admin_ui.db import request_session
    from lms_core.quizzes.attempts import submit_attempt
    from lms_core.quizzes.review import learner_row

    db = request_session()
    _check_visible(db, caller().actor, attempt_id)
    row = learner_row(db, submit_attempt(db, actor=caller().actor, attempt_id=attempt_id))
    commit()
    return Attempt.model_validate(row)


@api.get(f"/attempts/{ID}")
@endpoint(scope="quizzes:read", tag="quizzes", ok=AttemptWithQuestions)
def result(attempt_id: int) -> Answer:
    """An attempt: its questions to answer while in progress, its result once handed in
    (totals only when the quiz hides the correct answers; 404 for anyone else's, unless one
    manages the course)."""
    from admin_ui.db import request_session
    from lms_core.models import AttemptStatus
    from lms_core.quizzes.attempts import learner_questions, show_attempt
    from lms_core.quizzes.review import learner_row, review_attempt

    db = request_session()
    who = caller().actor
    details = _check_visible(db, who, attempt_id)
    shown = show_attempt(db, actor=who, attempt_id=attempt_id)
    if shown.attempt.status == AttemptStatus.in_progress.value:
        return AttemptWithQuestions(
            attempt=learner_row(db, shown.attempt), questions=learner_questions(shown)
        )
    if not details:  # the quiz hides the correct answers: its totals only
        return AttemptWithQuestions(attempt=learner_row(db, shown.attempt), questions=[])
    review = review_attempt(db, actor=who, attempt_id=attempt_id)
    return AttemptWithQuestions(attempt=review["attempt"], questions=review["questions"])
