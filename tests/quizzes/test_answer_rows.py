"""Saving answers through plain rows (lms_core/quizzes/answer_rows.py): it stores and audits
what the object path stored, keeps a loaded ``Attempt`` in step, sees changes not yet
flushed, and two saves to one attempt at once queue and merge instead of one losing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lms_core import kept
from lms_core.actor import Actor
from lms_core.db import WRITE_LOCK, make_engine, make_session_factory
from lms_core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from lms_core.models import Attempt, AuditEntry, Question, Role
from lms_core.ops import schema
from lms_core.quizzes import attempts
from lms_core.quizzes.answer_rows import answer_target
from lms_core.quizzes.review import attempt_row
from tests.conftest import cheap_settings
from tests.factories import Factories
from tests.helpers import as_, audit_log
from tests.quizzes.quizkit import make_quiz

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _start(session: Session, setup: Any, now: datetime = T0) -> Attempt:
    return attempts.start_attempt(
        session, actor=as_(setup.student), quiz_ref=setup.ref, email=setup.student.email, now=now
    ).attempt


def _stored(session: Session, attempt_id: int) -> dict[str, Any]:
    return dict(
        session.execute(select(Attempt.answers).where(Attempt.id == attempt_id)).scalar_one()
    )


def test_a_save_stores_merges_and_audits_as_the_object_path_did(
    session: Session, make: Any, operator: Actor
) -> None:
    setup = make_quiz(session, make, operator)
    attempt = _start(session, setup)
    learner = as_(setup.student)
    first = attempts.save_answers(
        session, actor=learner, attempt_id=attempt.id, answers={1: 1, 3: True}, now=T0
    )
    second = attempts.save_answers(
        session, actor=learner, attempt_id=attempt.id, answers={3: False, 4: "Paris"}, now=T0
    )
    ids = {q.order_index: str(q.id) for q in answer_target(session, attempt.id).questions}
    merged = {ids[1]: 1, ids[3]: False, ids[4]: "Paris"}
    assert _stored(session, attempt.id) == merged
    assert second.attempt.answers == merged and first.saved == [1, 3] and second.saved == [3, 4]
    assert second.email == setup.student.email
    assert attempt_row(second.attempt, second.email) == attempt_row(attempt, second.email)

    entries = audit_log(session, "attempt.answer", entity_id=attempt.id)
    assert [e.after for e in entries] == [{"questions": [1, 3]}, {"questions": [3, 4]}]
    for entry in entries:
        assert (entry.actor_id, entry.actor_label) == (learner.user_id, learner.label)
        assert entry.entity_type == "attempts" and entry.before is None
        assert abs(entry.created_at - datetime.now(UTC)) < timedelta(minutes=5)
    # ``before`` is stored as audit.record stores an absent one (the start's entry).
    started = audit_log(session, "attempt.start", entity_id=attempt.id)[0]
    stored_null = text("SELECT before IS NULL FROM audit_log WHERE id = :id")
    assert {session.execute(stored_null, {"id": e.id}).scalar() for e in entries} == {
        session.execute(stored_null, {"id": started.id}).scalar()
    }


def test_the_same_answers_again_are_audited_without_an_update(
    session: Session, make: Any, operator: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = make_quiz(session, make, operator)
    attempt = _start(session, setup)
    learner = as_(setup.student)
    written: list[str] = []
    write = kept.write

    def counted(connection: Any, statement: Any, values: Any, **options: Any) -> int:
        written.append(statement.table.name)  # the raw-cursor path, as in production
        return write(connection, statement, values, **options)

    monkeypatch.setattr(kept, "write", counted)
    for _ in range(2):
        attempts.save_answers(
            session, actor=learner, attempt_id=attempt.id, answers={3: True}, now=T0
        )
    # The second save changed nothing: its audit entry only.
    assert written == ["audit_log", "attempts", "audit_log"]
    assert len(audit_log(session, "attempt.answer", entity_id=attempt.id)) == 2


def test_a_savepoint_rolled_back_around_a_save_leaves_no_answer_to_score(
    session: Session, make: Any, operator: Actor
) -> None:
    """The loaded attempt is expired, not given the new answers as committed: after the
    savepoint's rollback it reads the database again, and a submit scores nothing."""
    setup = make_quiz(session, make, operator)
    attempt = _start(session, setup)
    session.flush()
    with pytest.raises(LookupError), session.begin_nested():
        attempts.save_answers(
            session, actor=as_(setup.student), attempt_id=attempt.id, answers={3: True}, now=T0
        )
        raise LookupError("the caller changes its mind")
    assert attempt.answers == {} and _stored(session, attempt.id) == {}
    done = attempts.submit_attempt(session, actor=as_(setup.student), attempt_id=attempt.id, now=T0)
    assert done.points_earned == 0


def test_a_refused_audit_entry_leaves_nothing_written(
    session: Session, make: Any, operator: Actor, is_postgres: bool
) -> None:
    """The audit entry is written first: an actor whose user row is gone (its foreign key)
    is refused before the answers are stored."""
    setup = make_quiz(session, make, operator)
    attempt = _start(session, setup)
    session.flush()
    gone = Actor(label="gone@example.org", role=Role.admin, user_id=2**31 - 2)
    with pytest.raises(IntegrityError), session.begin_nested():
        if not is_postgres:  # SQLite: the transaction lives on; read what it holds
            try:
                attempts.save_answers(
                    session, actor=gone, attempt_id=attempt.id, answers={3: True}, now=T0
                )
            finally:
                assert _stored(session, attempt.id) == {}
        else:  # PostgreSQL aborted the transaction: the savepoint's rollback tells
            attempts.save_answers(
                session, actor=gone, attempt_id=attempt.id, answers={3: True}, now=T0
            )
    assert _stored(session, attempt.id) == {} and attempt.answers == {}


def test_a_loaded_attempt_reads_the_saved_answers_without_a_change_to_flush(
    session: Session, make: Any, operator: Actor
) -> None:
    setup = make_quiz(session, make, operator)
    attempt = _start(session, setup)
    session.flush()
    attempts.save_answers(
        session, actor=as_(setup.student), attempt_id=attempt.id, answers={3: True}, now=T0
    )
    assert list(attempt.answers.values()) == [True]  # the object in the session, not reloaded
    assert attempt not in session.dirty
    session.expire(attempt)
    assert list(attempt.answers.values()) == [True]  # and the database agrees


def test_changes_not_yet_flushed_are_seen(session: Session, make: Any, operator: Actor) -> None:
    setup = make_quiz(session, make, operator)
    attempt = _start(session, setup)
    session.flush()
    attempt.status = "graded"  # pending in the session, not flushed
    with pytest.raises(Conflict, match="no longer in progress"):
        attempts.save_answers(
            session, actor=as_(setup.student), attempt_id=attempt.id, answers={3: True}, now=T0
        )


def test_refusals_read_the_same_row(session: Session, make: Any, operator: Actor) -> None:
    setup = make_quiz(session, make, operator)
    attempt = _start(session, setup)
    other = make.user("student")
    with pytest.raises(NotFound):
        answer_target(session, 2**31 - 1)
    with pytest.raises(
        PermissionDenied, match=f"only {setup.student.email}, the course's instructor"
    ):
        attempts.save_answers(
            session, actor=as_(other), attempt_id=attempt.id, answers={3: True}, now=T0
        )
    with pytest.raises(ValidationError, match=r"has no question 9 \(it has 1..7\)"):
        attempts.save_answers(
            session, actor=as_(setup.student), attempt_id=attempt.id, answers={9: 1}, now=T0
        )
    # The course's instructor may answer for the learner.
    saved = attempts.save_answers(
        session, actor=as_(setup.teacher), attempt_id=attempt.id, answers={3: True}, now=T0
    )
    assert saved.saved == [3]


def test_a_quiz_without_questions_reads_one_row_and_refuses_any_number(
    session: Session, make: Any, operator: Actor
) -> None:
    setup = make_quiz(session, make, operator)
    # Every question removed (an import refuses an empty file, so a quiz gets here by edits).
    session.execute(delete(Question).where(Question.quiz_id == setup.quiz.id))
    attempt = _start(session, setup)
    assert answer_target(session, attempt.id).questions == ()
    with pytest.raises(ValidationError, match="has no question 1"):
        attempts.save_answers(
            session, actor=as_(setup.student), attempt_id=attempt.id, answers={1: 1}, now=T0
        )


def test_an_overdue_attempt_is_closed_by_the_object_path(
    session: Session, make: Any, operator: Actor
) -> None:
    setup = make_quiz(session, make, operator, time_limit_minutes=30)
    attempt = _start(session, setup)
    late = attempts.save_answers(
        session,
        actor=as_(setup.student),
        attempt_id=attempt.id,
        answers={3: True},
        now=T0 + timedelta(hours=1),
    )
    assert late.late and late.saved == [] and late.email == setup.student.email
    assert late.attempt.status in ("graded", "submitted")
    assert _stored(session, attempt.id) == {}


def test_two_saves_at_once_queue_and_keep_both_answers(
    scratch_url: str, tmp_path: Path, hasher: Any, operator: Actor
) -> None:
    """Without the row lock (PostgreSQL) or the write lock taken first (SQLite, as the
    API's writes take it), the second save read the answers before the first committed and
    wrote over them."""
    settings = cheap_settings(scratch_url, tmp_path / "files")
    engine = make_engine(settings)
    schema.upgrade(engine)
    factory = make_session_factory(engine)
    try:
        with factory() as s:
            setup = make_quiz(s, Factories(s, hasher, operator), operator)
            attempt_id = _start(s, setup).id
            learner = as_(setup.student)
            s.commit()
        first = factory()
        first.connection(execution_options={WRITE_LOCK: True})
        attempts.save_answers(first, actor=learner, attempt_id=attempt_id, answers={1: 1})
        failures: list[BaseException] = []

        def second() -> None:
            try:
                with factory() as other:
                    other.connection(execution_options={WRITE_LOCK: True})
                    attempts.save_answers(
                        other, actor=learner, attempt_id=attempt_id, answers={3: True}
                    )
                    other.commit()
            except BaseException as exc:  # reported below, not lost in the thread
                failures.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # it waits for the first save's lock
        first.commit()
        first.close()
        thread.join(timeout=30)
        assert not thread.is_alive() and failures == []
        with factory() as s:
            target = answer_target(s, attempt_id)
            ids = {q.order_index: str(q.id) for q in target.questions}
            assert target.answers == {ids[1]: 1, ids[3]: True}
            assert (
                len(
                    s.scalars(select(AuditEntry).where(AuditEntry.action == "attempt.answer")).all()
                )
                == 2
            )
    finally:
        engine.dispose()


def test_a_saves_row_counts_options_as_the_object_counts_them(
    session: Session, make: Any, operator: Actor
) -> None:
    setup = make_quiz(session, make, operator)
    attempt = _start(session, setup)
    objects = session.scalars(
        select(Question).where(Question.quiz_id == setup.quiz.id).order_by(Question.order_index)
    ).all()
    objects[2].options = None  # stored as JSON null: no options, as an empty list
    session.flush()
    rows = answer_target(session, attempt.id).questions
    counts = [(q.id, q.question_type, q.option_count) for q in objects]
    assert [(r.id, r.question_type, r.option_count) for r in rows] == counts
    assert sorted({c for _, _, c in counts}) == [0, 1, 2, 3]  # essay and null: 0; others: theirs
