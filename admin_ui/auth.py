"""Who is logged in: Flask-Login's user, loaded by id through a session of the app's factory.

The loaded user is a plain snapshot, not the ORM row: the session that read it is closed
before the view runs, and a detached row would fail on the first lazy attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from flask import Flask
from flask_login import LoginManager, UserMixin

from lms_core.db import SessionFactory
from lms_core.models import Role

#: Roles that may open the back office.
STAFF_ROLES = frozenset({Role.admin.value, Role.instructor.value})


@dataclass(frozen=True)
class LoginUser(UserMixin):  # type: ignore[misc]  # flask_login ships no type hints
    id: int
    email: str
    role: str
    full_name: str

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


def load_user(factory: SessionFactory, user_id: str) -> LoginUser | None:
    """The active, non-deleted user with this id, or None (Flask-Login then treats as anonymous)."""
    from lms_core.models import User

    try:
        pk = int(user_id)
    except (TypeError, ValueError):
        return None
    session = factory()
    try:
        user = session.get(User, pk)
        if user is None or not user.is_active or user.deleted_at is not None:
            return None
        return LoginUser(id=user.id, email=user.email, role=user.role, full_name=user.full_name)
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
