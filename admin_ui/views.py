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
        from flask import request

        from admin_ui.auth import current_actor
        from admin_ui.dashboard import dashboard
        from admin_ui.db import request_session
        from admin_ui.report_figures import (
            DASHBOARD_WEEKS,
            dashboard_period,
            instructor_figures,
            system_figures,
        )

        session, actor = request_session(), current_actor()
        figures = dashboard(session, actor)
        # The report figures (the system report for administrators, the instructor report
        # for an instructor) come from lms_core.reports, as `lmsctl reports` prints them.
        # The site's weekly series defaults to the last weeks (it reads every enrollment of
        # its period); an instructor's report counts their learners of all time by default.
        weeks = DASHBOARD_WEEKS if actor.is_admin else None
        period, errors, values = dashboard_period(request.args, weeks)
        reports: dict[str, Any] = {"errors": errors, "args": values, "weeks": weeks}
        if actor.is_admin:
            reports["system"] = system_figures(session, actor, period)
        else:
            reports["courses"] = instructor_figures(session, actor, actor.label, period)
        page: str = self.render(self._template, dashboard=figures, reports=reports)
        return (page, 400) if errors else page


class SecureBaseView(SecureMixin, BaseView):  # type: ignore[misc]  # untyped base
    """Base of custom (non-model) back-office pages; subclasses set ``allowed_roles``."""
