"""The secure base of every back-office view (flask-admin ``examples/auth-flask-login``).

Staff (admin, instructor) may enter; anyone else is sent to the login page when there is
one, and refused with 403 otherwise (a logged-in student is always refused: logging in
again would not help).
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, request
from flask.typing import ResponseReturnValue
from flask_admin import AdminIndexView, BaseView
from flask_login import current_user, login_url


class SecureMixin:
    """``is_accessible``/``inaccessible_callback`` for Flask-Admin views; mix in first."""

    def is_accessible(self) -> bool:
        return bool(current_user.is_authenticated and getattr(current_user, "is_staff", False))

    def inaccessible_callback(self, name: Any, **kwargs: Any) -> ResponseReturnValue:
        login_view = getattr(getattr(current_app, "login_manager", None), "login_view", None)
        if not current_user.is_authenticated and login_view:
            return redirect(login_url(login_view, next_url=request.url))
        abort(403)


class SecureIndexView(SecureMixin, AdminIndexView):  # type: ignore[misc]  # untyped base
    """The ``/admin/`` page."""


class SecureBaseView(SecureMixin, BaseView):  # type: ignore[misc]  # untyped base
    """Base of custom (non-model) back-office pages."""
