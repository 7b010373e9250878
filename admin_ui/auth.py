"""Who is logged in: Flask-Login's user, loaded from a server-side session id.

Flask-Login keeps what ``get_id()`` returns in the signed cookie; ours returns the raw id of
a ``web_sessions`` row (:mod:`lms_core.accounts.web_sessions`), not the user's id, so logout
and deactivation end a session at the server, and each login gets a new one. The loaded user
is a plain snapshot, not the ORM row: the session that read it is closed before the view
runs, and a detached row would fail on the first lazy attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from flask import Flask
from flask_login import LoginManager, UserMixin

from lms_core.actor import Actor
from lms_core.db import SessionFactory
from lms_core.models import Role, User, utcnow

#: The cookie key of the last request's time (seconds since the epoch, UTC).
SEEN_KEY = "lms_seen"

#: Roles that may open the back office.
STAFF_ROLES = frozenset({Role.admin.value, Role.instructor.value})


@dataclass(frozen=True)
class LoginUser(UserMixin):  # type: ignore[misc]  # flask_login ships no type hints
    id: int
    email: str
    role: str
    full_name: str
    #: The raw id of this login's ``web_sessions`` row (what the cookie carries).
    session_token: str = ""

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin.value

    @property
    def actor(self) -> Actor:
        """This user as the services' actor: the user's own rights, recorded by e-mail."""
        return Actor(label=self.email, role=Role(self.role), user_id=self.id)


def current_actor() -> Actor:
    """The logged-in user as an actor; the views pass it to every service they call.

    Only the entry point reads Flask-Login's global; the services never do.
    """
    from flask_login import current_user

    user = current_user._get_current_object()
    if not isinstance(user, LoginUser):
        from lms_core.errors import PermissionDenied

        raise PermissionDenied("log in first")
    return user.actor


def snapshot(user: User, session_token: str) -> LoginUser:
    return LoginUser(
        id=user.id,
        email=user.email,
        role=user.role,
        full_name=user.full_name,
        session_token=session_token,
    )


def load_user(factory: SessionFactory, session_token: str) -> LoginUser | None:
    """The active user of a live session, or None (Flask-Login then treats as anonymous).

    The time of the last request is kept in the signed cookie (``SEEN_KEY``), not written to
    the database: a page view never waits for SQLite's write lock. Forging a later time needs
    the secret key; an old copied cookie is only more idle.
    """
    from flask import session as cookie

    from lms_core.accounts.web_sessions import session_user

    if not isinstance(session_token, str) or not session_token:
        return None
    now = utcnow()
    seen = cookie.get(SEEN_KEY)
    seen_at = datetime.fromtimestamp(seen, UTC) if isinstance(seen, (int, float)) else None
    session = factory()
    try:
        user = session_user(session, session_token, now=now, seen_at=seen_at)
        if user is None:
            return None
        cookie[SEEN_KEY] = int(now.timestamp())
        return snapshot(user, session_token)
    finally:
        session.close()


def init_login(
    app: Flask, factory: SessionFactory, *, login_view: str | None = None
) -> LoginManager:
    """Configure Flask-Login; ``login_view`` is the endpoint of the login page, once it exists."""
    manager = LoginManager(app)
    manager.login_view = login_view
    manager.session_protection = "strong"
    manager.user_loader(partial(load_user, factory))
    return manager
