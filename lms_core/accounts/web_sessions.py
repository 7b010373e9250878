"""Back-office login sessions, kept server-side.

The browser's cookie holds a random id; the table holds its SHA-256 (as every token here).
Each login makes a new id (session fixation is defeated: an id planted before login is never
the one that is logged in), logout deletes the row (the cookie is then worth nothing, even
if copied), and a session ends after ``IDLE`` without a request or ``ABSOLUTE`` in all.
``last_seen_at`` is the login time; the time of each later request is kept by the front
door (the back office: in its signed cookie), so that reading a page never writes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.models import User, WebSession, utcnow
from lms_core.security import new_token, token_hash

IDLE = timedelta(hours=8)
ABSOLUTE = timedelta(days=7)


def open_session(session: Session, *, user: User, user_agent: str | None = None) -> str:
    """A new session for ``user`` (just authenticated); the raw id, shown once to the cookie."""
    now = utcnow()
    raw = new_token()
    session.add(
        WebSession(
            user_id=user.id,
            token_hash=token_hash(raw),
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    session.flush()
    audit.record(session, Actor.for_user(user), "user.login", user)
    return raw


def session_user(
    session: Session, raw: str, *, now: datetime | None = None, seen_at: datetime | None = None
) -> User | None:
    """The active user of a live session id, or None (unknown, ended, expired, idle).

    Reads only: a page view never writes (on SQLite a write would queue behind an import).
    ``seen_at`` is the last request's time as the front door keeps it (the back office keeps
    it in its signed cookie); idle is counted from it, or from the login without it.
    """
    now = now or utcnow()
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_hash(raw))
    ).first()
    if row is None:
        return None
    web, user = row
    last = max(web.last_seen_at, seen_at) if seen_at is not None else web.last_seen_at
    if web.expires_at <= now or last + IDLE <= now:
        return None
    if not user.is_active or user.deleted_at is not None:
        return None
    return user


def close_session(session: Session, raw: str) -> bool:
    """End one session (logout); True when there was one."""
    result = session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(raw)))
    return bool(getattr(result, "rowcount", 0))


def close_user_sessions(session: Session, user_id: int) -> int:
    """End every session of a user (password changed, deactivated); how many ended."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Delete sessions past their absolute end (the nightly clean-up; idle ones end by
    themselves, as the last request's time is in the browser's cookie)."""
    now = now or utcnow()
    result = session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
