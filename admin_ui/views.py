"""The secure bases of every back-office page that is not a model list.

Each page names the roles it admits (``allowed_roles``); anonymous visitors are sent to the
login page, logged-in users without the role get 403 (a learner is always refused: logging
in again would not help). Model views use :class:`admin_ui.modelviews.base.StaffModelView`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask.typing import ResponseReturnValue
from flask_admin import AdminIndexView, BaseView, expose

from admin_ui.modelviews.base import ADMIN_ONLY, STAFF, refuse, role_allowed

__all__ = ["ADMIN_ONLY", "STAFF", "SecureBaseView", "SecureIndexView", "SecureMixin"]


class SecureMixin:
    """``is_accessible``/``inaccessible_callback`` for Flask-Admin views; mix in first."""

    #: Roles admitted; None admits nobody (the matrix test then fails on the view).
    allowed_roles: ClassVar[frozenset[str] | None] = None

    def is_accessible(self) -> bool:
        return role_allowed(self.allowed_roles)

    def inaccessible_callback(self, name: Any, **kwargs: Any) -> ResponseReturnValue:
        return refuse()


class SecureIndexView(SecureMixin, AdminIndexView):  # type: ignore[misc]  # untyped base
    """The ``/admin/`` page (the dashboard)."""

    allowed_roles = STAFF

    @expose()  # type: ignore[untyped-decorator]  # flask-admin is untyped
    def index(self) -> ResponseReturnValue:
        """The dashboard's figures (:mod:`admin_ui.dashboard`), scoped to the viewer."""
        from admin_ui.auth import current_actor
        from admin_ui.dashboard import dashboard
        from admin_ui.db import request_session

        figures = dashboard(request_session(), current_actor())
        page: ResponseReturnValue = self.render(self._template, dashboard=figures)
        return page


class SecureBaseView(SecureMixin, BaseView):  # type: ignore[misc]  # untyped base
    """Base of custom (non-model) back-office pages; subclasses set ``allowed_roles``."""
