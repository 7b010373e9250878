"""Server-side back-office sessions: new id per login, ended by logout, idle and age limits."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.accounts import web_sessions
from lms_core.models import AuditEntry, WebSession, utcnow
from lms_core.security import token_hash
from tests.factories import Factories


def test_a_session_is_stored_hashed_and_finds_its_user(session: Session, make: Factories) -> None:
    user = make.user("instructor")
    raw = web_sessions.open_session(session, user=user, user_agent="pytest")
    row = session.scalars(select(WebSession)).one()
    assert row.token_hash == token_hash(raw) and raw not in row.token_hash
    assert web_sessions.session_user(session, raw) is user
    assert web_sessions.session_user(session, raw + "x") is None
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.login")).one()
    assert entry.entity_id == user.id


def test_each_login_gets_a_new_id_and_logout_ends_only_that_one(
    session: Session, make: Factories
) -> None:
    user = make.user("admin")
    first = web_sessions.open_session(session, user=user)
    second = web_sessions.open_session(session, user=user)
    assert first != second
    assert web_sessions.close_session(session, first) is True
    assert web_sessions.session_user(session, first) is None
    assert web_sessions.session_user(session, second) is user
    assert web_sessions.close_session(session, first) is False


def test_idle_and_absolute_limits(session: Session, make: Factories) -> None:
    user = make.user("admin")
    raw = web_sessions.open_session(session, user=user)
    now = utcnow()
    idle = now + web_sessions.IDLE + timedelta(seconds=1)
    assert web_sessions.session_user(session, raw, now=idle) is None
    # Seen every few hours (the front door passes the last request's time), it still ends
    # at the absolute limit; reading never writes.
    at = now
    while at < now + web_sessions.ABSOLUTE - timedelta(hours=4):
        seen, at = at, at + timedelta(hours=4)
        assert web_sessions.session_user(session, raw, now=at, seen_at=seen) is user
    assert not session.dirty
    last = now + web_sessions.ABSOLUTE - timedelta(hours=1)
    assert (
        web_sessions.session_user(session, raw, now=now + web_sessions.ABSOLUTE, seen_at=last)
        is None
    )
    assert web_sessions.purge_expired(session, now=now + web_sessions.ABSOLUTE) == 1
    assert session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_a_deactivated_user_has_no_session(session: Session, make: Factories) -> None:
    user = make.user("instructor")
    raw = web_sessions.open_session(session, user=user)
    user.is_active = False
    session.flush()
    assert web_sessions.session_user(session, raw) is None
    assert web_sessions.close_user_sessions(session, user.id) == 1
