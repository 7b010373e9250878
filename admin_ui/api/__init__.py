"""The JSON API under ``/api/v1``: one blueprint, one module per area.

``register_api(app)`` attaches every area's views (imported here, not at load), exempts the
blueprint from the app-wide form CSRF check (the blueprint applies it itself to cookie
requests) and registers it.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response


def register_api(app: Flask) -> None:
    from admin_ui.api import (  # noqa: F401  # each attaches its routes
        account_views,
        auth_views,
        import_views,
        learner_views,
        public_views,
        quiz_views,
        reference,
        report_views,
        run_views,
        staff_views,
        submission_views,
    )
    from admin_ui.api.blueprint import api

    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(api)
    app.register_blueprint(api)
    from admin_ui.api.cors import add_cors_headers, allowed_origins
    from admin_ui.api.limits import init_limits
    from admin_ui.api.metrics import init_metrics

    settings = app.extensions["lms"].settings
    init_limits(app, storage_uri=settings.redis_url, default=settings.api_rate_limit)
    init_metrics(app)
    origins = allowed_origins(settings.cors_origins)
    if origins:
        app.after_request(lambda response: _api_cors(response, origins, add_cors_headers))


def _api_cors(
    response: Response, origins: frozenset[str], add: Callable[..., Response]
) -> Response:
    """CORS headers on the API's answers only (the back office's pages never get them)."""
    from flask import request

    from admin_ui.api.blueprint import PREFIX

    if request.path.startswith(PREFIX + "/"):
        return add(response, origins)
    return response
