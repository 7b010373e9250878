"""Activity notes are written when the unit of work commits, not where the activity happens
(lms_core/accounts/activity.py): nothing is written before the commit, a rollback drops the
notes, a rolled-back savepoint drops only its own, a loaded user shows the new time and
keeps it after its session closes, and the listeners are registered once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lms_core.accounts import auth
from lms_core.accounts.activity import (
    note_activity,
    note_activity_of_enrollments,
    pending_activity,
    register_listeners,
)
from lms_core.accounts.users import user_row
from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory
from lms_core.models import User
from lms_core.ops import schema
from lms_core.security import PasswordHasher
from tests.conftest import cheap_settings
from tests.factories import PASSWORD, Factories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def stored(session: Session, user: User) -> datetime | None:
    return session.scalar(select(User.last_activity_at).where(User.id == user.id))


def test_a_note_is_written_at_commit_not_before(session: Session, learner: User) -> None:
    session.commit()
    note_activity(session, learner.id, T0)
    assert pending_activity(session) == {learner.id: T0}
    assert stored(session, learner) is None  # no UPDATE yet: no row lock held to the commit
    session.commit()
    assert pending_activity(session) == {}
    assert stored(session, learner) == T0


def test_the_latest_note_per_learner_wins_and_never_moves_the_time_back(
    session: Session, learner: User
) -> None:
    note_activity(session, learner.id, T0)
    note_activity(session, learner.id, T0 + timedelta(hours=1))
    note_activity(session, learner.id, T0 - timedelta(hours=1))
    assert pending_activity(session) == {learner.id: T0 + timedelta(hours=1)}
    session.commit()
    note_activity(session, learner.id, T0)  # older than the stored time
    session.commit()
    assert stored(session, learner) == T0 + timedelta(hours=1)


def test_a_rollback_drops_the_notes(session: Session, learner: User) -> None:
    session.commit()
    note_activity(session, learner.id, T0)
    session.rollback()
    assert pending_activity(session) == {}
    session.commit()  # the next unit of work does not write the rolled-back one's note
    assert stored(session, learner) is None


def test_a_rolled_back_savepoint_drops_only_its_own_notes(session: Session, make: Any) -> None:
    kept, dropped = make.user(), make.user()
    session.commit()
    note_activity(session, kept.id, T0)
    savepoint = session.begin_nested()
    note_activity(session, dropped.id, T0)
    note_activity(session, kept.id, T0 + timedelta(days=1))
    savepoint.rollback()
    assert pending_activity(session) == {kept.id: T0}
    with session.begin_nested():  # a released savepoint writes nothing yet, keeps its notes
        note_activity(session, dropped.id, T0 + timedelta(days=2))
    assert stored(session, dropped) is None
    session.commit()
    assert (stored(session, kept), stored(session, dropped)) == (T0, T0 + timedelta(days=2))


def test_a_savepoint_undone_by_a_failed_flush_drops_its_notes(session: Session, make: Any) -> None:
    """The flush rolls the savepoint back itself (no soft rollback is seen): its notes go."""
    kept, dropped = make.user(), make.user()
    session.commit()
    note_activity(session, kept.id, T0)
    with pytest.raises(IntegrityError), session.begin_nested():
        note_activity(session, dropped.id, T0)
        session.add(User(email=kept.email, full_name="Same Address", role="student"))
        session.flush()
    assert pending_activity(session) == {kept.id: T0}


def test_a_closed_session_keeps_no_notes(session_factory: Any, make: Any) -> None:
    """A unit left without a rollback (``with factory() as s`` after an exception only closes)
    does not hand its notes to the session's next unit."""
    learner = make.user()
    reused = session_factory()
    note_activity(reused, learner.id, T0)
    reused.close()
    assert pending_activity(reused) == {}
    reused.commit()
    reused.close()


def test_noting_leaves_updated_at_and_other_columns_alone(session: Session, learner: User) -> None:
    session.commit()
    stamp = session.scalar(select(User.updated_at).where(User.id == learner.id))
    note_activity(session, learner.id, T0)
    session.commit()
    assert session.scalar(select(User.updated_at).where(User.id == learner.id)) == stamp


def test_a_loaded_user_shows_the_noted_time_and_only_the_noted_ones_change(
    session: Session, make: Any
) -> None:
    course = make.course(lessons=1, published=True)
    noted, other = make.user(), make.user()
    enrollment = make.enroll(noted, course)
    make.enroll(other, course)
    session.commit()
    note_activity_of_enrollments(session, [enrollment.id], T0)
    assert noted.last_activity_at == T0  # no SELECT needed, no expiry
    assert other.last_activity_at is None
    assert "last_activity_at" in other.__dict__  # the others stay loaded, not expired
    assert not session.dirty  # a committed value: nothing for the flush to write
    note_activity(session, noted.id, T0 - timedelta(days=1))
    assert noted.last_activity_at == T0


def test_a_logged_in_user_is_readable_after_the_session_closes(
    scratch_url: str, tmp_path: Path
) -> None:
    """The sessions of the application do not expire on commit: a user returned by a login
    is read after its session closed (the expired column raised DetachedInstanceError)."""
    settings = cheap_settings(scratch_url, tmp_path / "files")
    engine = make_engine(settings)
    schema.upgrade(engine)
    factory = make_session_factory(engine)
    hasher = PasswordHasher.from_settings(settings)
    try:
        with factory() as s:
            email = Factories(s, hasher, Actor.operator("pytest")).user().email
            s.commit()
        with factory() as s:
            out = auth.authenticate(
                s, email=email, password=PASSWORD, hasher=hasher, settings=settings
            )
            s.commit()
        assert out.user is not None
        row = user_row(out.user)
        assert row["last_activity_at"] is not None
        assert row["last_activity_at"] == row["last_login_at"]
    finally:
        engine.dispose()


def test_the_listeners_are_registered_once(session: Session, learner: User) -> None:
    from lms_core.accounts import activity

    register_listeners()
    register_listeners()
    for name, fn in activity._LISTENERS:
        assert event.contains(Session, name, fn)
    session.commit()
    note_activity(session, learner.id, T0)
    session.commit()
    assert stored(session, learner) == T0
