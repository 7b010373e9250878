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

from lms_core.accounts.auth import mfa_missing
from lms_core.actor import Actor
from lms_core.db import SessionFactory
from lms_core.models import Role, User, utcnow
from lms_core.settings import Settings

#: The cookie key of the last request's time (seconds since the epoch, UTC).
SEEN_KEY = "lms_seen"
#: Seconds between two renewals of ``SEEN_KEY`` (idle time is counted to this precision).
SEEN_EVERY = 60

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


def load_user(factory: SessionFactory, settings: Settings, session_token: str) -> LoginUser | None:
    """The active user of a live session, or None (Flask-Login then treats as anonymous).

    A user whose role must use MFA (``LMS_MFA_REQUIRED_ROLES``) and has not turned it on is
    refused on every request, with the login's message: a session opened before the setting
    does not outlive it (login_required then sends them to the login page).

    A page view reads it in the request's own session (:func:`admin_ui.db.request_session`:
    one connection and transaction per request, not two). A POST reads it in a session of
    its own, closed at once: the request's session takes SQLite's write lock when opened, and
    a view whose run commits in sessions of its own (an import) must not wait for it.
    The time of the last request is kept in the signed cookie (``SEEN_KEY``), not written to
    the database: a page view never waits for SQLite's write lock. Forging a later time needs
    the secret key; an old copied cookie is only more idle. It is renewed once a minute at
    most (a new cookie each request would be signed and sent for an 8-hour idle limit).
    """
    from flask import has_request_context, request
    from flask import session as cookie

    from admin_ui.db import SAFE_METHODS
    from lms_core.accounts.web_sessions import session_user

    if not isinstance(session_token, str) or not session_token:
        return None
    now = utcnow()
    seen = cookie.get(SEEN_KEY)
    seen_at = datetime.fromtimestamp(seen, UTC) if isinstance(seen, (int, float)) else None
    if has_request_context() and request.method in SAFE_METHODS:
        from admin_ui.db import request_session

        user = session_user(request_session(), session_token, now=now, seen_at=seen_at)
    else:
        with factory() as session:
            user = session_user(session, session_token, now=now, seen_at=seen_at)
    if user is None:
        return None
    if (missing := mfa_missing(user, settings)) is not None:
        _flash_once(missing.message)
        return None
    if seen_at is None or (now - seen_at).total_seconds() >= SEEN_EVERY:
        cookie[SEEN_KEY] = int(now.timestamp())
    return snapshot(user, session_token)


def _flash_once(message: str) -> None:
    """Flash ``message`` unless it is already waiting (the redirect to the login page loads
    the user again)."""
    from flask import flash, has_request_context
    from flask import session as cookie

    if has_request_context() and ("error", message) not in cookie.get("_flashes", []):
        flash(message, "error")


def init_login(
    app: Flask,
    factory: SessionFactory,
    settings: Settings,
    *,
    login_view: str | None = None,
) -> LoginManager:
    """Configure Flask-Login; ``login_view`` is the endpoint of the login page, once it exists."""
    manager = LoginManager(app)
    manager.login_view = login_view
    manager.session_protection = "strong"
    manager.user_loader(partial(load_user, factory, settings))
    return manager
