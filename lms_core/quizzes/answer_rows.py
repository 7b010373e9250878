"""What saving an answer reads and writes, as plain columns and kept statements.

Saving answers is the learners' busiest write (every click of a quiz's page in a client that
saves as it goes). Read through the ORM it built seven objects (the attempt, its learner,
quiz, lesson, course, each question) and flushed twice (the attempt, then its audit entry):
more CPU than the statements themselves. Here the attempt, what the checks need of its
course and learner, and its quiz's questions (what checking an answer needs of each: its type
and its options, as JSON text decoded only for the questions answered) are one kept
statement (:mod:`lms_core.kept`, prepared on PostgreSQL; one row per question, as a course's
outline is read), and the write is one ``UPDATE`` and one audit ``INSERT``, kept statements
too.

The rules stay in :func:`lms_core.quizzes.attempts.save_answers`, which calls these. The
attempt's row is locked as it is read (``FOR UPDATE OF attempts`` on PostgreSQL; SQLite's
writers already take the database's write lock before their first read), so two saves to one
attempt at once (two tabs, a client's retry) queue, and the second merges its answers into
the first's instead of writing over them.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import JSON, Insert, Select, Text, Update, bindparam, cast, insert, select, update
from sqlalchemy.orm import Session

from lms_core import kept
from lms_core.accounts.audit import SECRET_FIELDS
from lms_core.actor import Actor
from lms_core.errors import NotFound
from lms_core.models import (
    Attempt,
    AuditEntry,
    Course,
    Enrollment,
    Lesson,
    Question,
    Quiz,
    User,
    utcnow,
)


class CourseRef(NamedTuple):
    """What the course checks read of a course (``permissions.ManagedCourse``)."""

    slug: str
    instructor_id: int


class QuestionRow(NamedTuple):
    """A question as an answer is checked against it (``scoring.AnswerShape``)."""

    id: int
    order_index: int
    question_type: str
    #: Its options as the database holds them, JSON text: decoded only for a question that
    #: is answered, to count them (a save needs no option's text; decoding every question's
    #: options and key at every save was most of the CPU its read took).
    options_json: str | None

    @property
    def option_count(self) -> int:
        """As ``Question.option_count``."""
        return len(json.loads(self.options_json) or []) if self.options_json else 0


class AnswerTarget(NamedTuple):
    """An attempt as a save needs it: its own columns (those ``review.attempt_row`` shows,
    and its answers), its learner, and who manages its course."""

    id: int
    quiz_id: int
    number: int
    status: str
    score: Decimal | None
    passed: bool | None
    points_earned: Decimal | None
    points_possible: Decimal | None
    started_at: datetime
    deadline_at: datetime | None
    submitted_at: datetime | None
    graded_at: datetime | None
    answers: dict[str, Any] | None
    student_id: int
    email: str
    course_slug: str
    instructor_id: int
    #: The quiz's questions in their stored order.
    questions: tuple[QuestionRow, ...] = ()

    @property
    def course(self) -> CourseRef:
        return CourseRef(self.course_slug, self.instructor_id)


def answer_target(session: Session, attempt_id: int) -> AnswerTarget:
    """The attempt ``attempt_id`` for a save, with its quiz's questions, its row locked until
    the unit of work ends; NotFound when there is none. Changes this session holds but has
    not flushed are flushed first, as the ORM's autoflush would before a query."""
    session.flush()
    rows = kept.look_up(session.connection(), _target(), {"attempt_id": attempt_id})
    if not rows:
        raise NotFound(f"no attempt {attempt_id}", field="attempt", value=attempt_id)
    width = len(AnswerTarget._fields) - 1
    questions = tuple(
        QuestionRow._make(row[width:])
        for row in rows
        if row[width] is not None  # a quiz without questions: one row, its question all NULL
    )
    own = list(rows[0][:width])
    text = own[_ANSWERS]  # read as text, once per question row: decoded once here
    own[_ANSWERS] = json.loads(text) if text is not None else None
    return AnswerTarget._make((*own, questions))


def store_answers(
    session: Session,
    *,
    actor: Actor,
    target: AnswerTarget,
    answers: dict[str, Any],
    numbers: list[int],
) -> AnswerTarget:
    """Write the audit entry ``attempt.answer`` (for a save that changed nothing too, as
    before) and ``answers`` (all of the attempt's, merged); the target as it now is.

    An ``Attempt`` this session has loaded has its answers expired, so its next use reads
    what the database holds: the new answers, or the old ones once a savepoint around the
    save, or the unit of work, is rolled back. The audit entry is written first: the write
    a database refuses in practice (an actor whose user row is gone) then leaves nothing
    written. After any refusal the unit of work must be rolled back, as every entry point
    does on an error (PostgreSQL has aborted the transaction anyway)."""
    connection = session.connection()
    after = {"questions": numbers}
    assert not SECRET_FIELDS & after.keys()  # as audit.record's snapshots
    entry = {
        "created_at": utcnow(),
        "actor_id": actor.user_id,
        "actor_label": actor.label,
        "action": "attempt.answer",
        "entity_type": Attempt.__tablename__,
        "entity_id": target.id,
        "before": JSON.NULL,  # as audit.record writes None: JSON null, not SQL NULL
        "after": after,
    }
    loaded = session.identity_map.get(session.identity_key(Attempt, target.id))
    try:
        kept.write(connection, _audit(), {f"new_{k}": v for k, v in entry.items()}, prepare=True)
        if answers != target.answers:  # the same answers again: no new row version (as the ORM)
            changed = {"attempt_id": target.id, "new_answers": answers}
            kept.write(connection, _update(), changed, prepare=True)
    finally:
        if loaded is not None:
            session.expire(loaded, ["answers"])
    return target._replace(answers=answers)


#: Where the attempt's answers are among its columns (``AnswerTarget``).
_ANSWERS = AnswerTarget._fields.index("answers")


@cache
def _target() -> Select[Any]:
    """The attempt and its questions, one row per question; its answers and the questions'
    options as JSON text (the driver would decode the answers once per row)."""
    own: list[Any] = [getattr(Attempt, name) for name in AnswerTarget._fields[:13]]
    own[_ANSWERS] = cast(Attempt.answers, Text)
    question = [Question.id, Question.order_index, Question.question_type]
    return (
        select(
            *own,
            User.id,
            User.email,
            Course.slug,
            Course.instructor_id,
            *question,
            cast(Question.options, Text),
        )
        .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
        .join(User, User.id == Enrollment.student_id)
        .join(Quiz, Quiz.id == Attempt.quiz_id)
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .join(Course, Course.id == Lesson.course_id)
        .outerjoin(Question, Question.quiz_id == Attempt.quiz_id)
        .where(Attempt.id == bindparam("attempt_id", required=False))
        .order_by(Question.order_index)
        .with_for_update(of=Attempt)
    )


@cache
def _update() -> Update:
    answers = bindparam("new_answers", type_=Attempt.__table__.c.answers.type, required=False)
    return (
        update(Attempt)
        .where(Attempt.id == bindparam("attempt_id", required=False))
        .values(answers=answers)
    )


#: The audit entry's columns an answer's entry sets (every one but its id).
_AUDIT_COLUMNS = (
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
)


@cache
def _audit() -> Insert:
    table = AuditEntry.__table__
    return insert(AuditEntry).values(
        {
            name: bindparam(f"new_{name}", type_=table.c[name].type, required=False)
            for name in _AUDIT_COLUMNS
        }
    )
