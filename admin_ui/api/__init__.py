"""The JSON API under ``/api/v1``: one blueprint, one module per area.

``register_api(app)`` attaches every area's views (imported here, not at load), exempts the
blueprint from the app-wide form CSRF check (the blueprint applies it itself to cookie
requests) and registers it.
"""

from __future__ import annotations

from flask import Flask


def register_api(app: Flask) -> None:
    from admin_ui.api import (  # noqa: F401  # each attaches its routes
        account_views,
        auth_views,
        learner_views,
        public_views,
        quiz_views,
        staff_views,
        submission_views,
    )
    from admin_ui.api.blueprint import api

    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(api)
    app.register_blueprint(api)
    from admin_ui.api.limits import init_limits

    init_limits(app, api, storage_uri=app.extensions["lms"].settings.redis_url)
