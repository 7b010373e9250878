"""``create_app(settings)``: the back office, built from settings and nothing at import.

Wires the secret key, CSRF on every form (Flask-WTF), Flask-Login, Flask-Admin behind a
secure index view, and the probes an orchestrator polls: ``/healthz`` (the process answers)
and ``/readyz`` (the database answers too).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_admin import Admin
from flask_wtf import CSRFProtect
from sqlalchemy import Engine

from lms_core.catalog.stamp import StampedAnswers
from lms_core.db import SessionFactory, make_engine, make_session_factory
from lms_core.settings import Settings

EXTENSION = "lms"

#: The longest a request waits for SQLite's write lock (milliseconds). Commands wait as long
#: as the longest run (``sqlite_busy_timeout_ms``, 10 minutes); a web worker waiting that
#: long behind an import is a worker lost, so a request gives up sooner (DatabaseBusy).
WEB_SQLITE_BUSY_TIMEOUT_MS = 15_000

#: The largest request body (megabytes): an import file or OneRoster zip; each upload is
#: checked against its own, smaller limit by the service that stores it.
MAX_IMPORT_MB = 256

#: How much of the catalog each process keeps (pages and outlines), counted in courses and
#: lessons: a few megabytes with descriptions of a few hundred characters, at most ~40 MB
#: with every description at its longest (20,000 characters).
CATALOG_KEPT_ROWS = 2000


def web_engine(settings: Settings) -> Engine:
    """The back office's engine: as a command's, with the shorter SQLite busy timeout."""
    return make_engine(
        settings,
        busy_timeout_ms=min(settings.sqlite_busy_timeout_ms, WEB_SQLITE_BUSY_TIMEOUT_MS),
    )


def _rows_in(answer: Any) -> int:
    """A kept catalog answer's weight: its courses (a page) or lessons (an outline), and
    one for the rest (``admin_ui.api.learner_views.KeptJson``)."""
    return int(answer.rows) + 1


@dataclass
class AppState:
    """What the app built from settings, in ``app.extensions["lms"]``."""

    settings: Settings
    session_factory: SessionFactory
    _engine: Engine | None = field(default=None, repr=False)
    #: The API's catalog pages and course outlines this process answered, each kept against
    #: the catalog's stamp (``lms_core/catalog/stamp.py``).
    catalog_pages: StampedAnswers[Any] = field(
        default_factory=lambda: StampedAnswers(CATALOG_KEPT_ROWS, _rows_in), repr=False
    )

    @property
    def engine(self) -> Engine:
        """The engine of ``settings.database_url``; built on first use (no connection yet)."""
        if self._engine is None:
            self._engine = web_engine(self.settings)
        return self._engine

    def dispose(self) -> None:
        """Close the pooled connections of the engine, if one was built."""
        if self._engine is not None:
            self._engine.dispose()


def state() -> AppState:
    app_state: AppState = current_app.extensions[EXTENSION]
    return app_state


probes = Blueprint("probes", __name__)


@probes.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness: the process serves requests; touches nothing else."""
    return jsonify(status="ok")


@probes.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Readiness: 200 when the database answers, 503 otherwise (the error goes to the log)."""
    from lms_core.ops.health import safe_url, wait_for_database

    engine = state().engine
    error = wait_for_database(engine, 0)
    if error is None:
        return jsonify(status="ok", checks={"database": "ok"})
    current_app.logger.warning("readyz: %s unreachable: %s", safe_url(str(engine.url)), error)
    return jsonify(status="unavailable", checks={"database": "unreachable"}), 503


def create_app(
    settings: Settings | None = None, *, session_factory: SessionFactory | None = None
) -> Flask:
    """Build the back office; ``session_factory`` replaces the one built from settings (tests)."""
    from admin_ui.api import register_api
    from admin_ui.api.limits import EXTENSION as LIMITER
    from admin_ui.auth import init_login
    from admin_ui.db import init_request_sessions
    from admin_ui.frame import init_page_frame
    from admin_ui.modelviews.registry import register_views
    from admin_ui.proxy import ENV as PROXY_ENV
    from admin_ui.proxy import trust_proxies
    from admin_ui.public import register_public_pages
    from admin_ui.public.rate_limits import limit_public_forms
    from admin_ui.security import csp_nonce, init_security_headers
    from admin_ui.views import SecureIndexView

    if settings is None:
        from lms_core.settings import load_settings

        settings = load_settings()
    https = settings.public_base_url.startswith("https://")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key.get_secret_value(),
        DEBUG=settings.debug,
        WTF_CSRF_ENABLED=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_NAME="__Host-lms_session" if https else "lms_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=https,
        # An upload a little over the largest allowed file is still read and refused with a
        # message; anything far larger is cut off by Werkzeug (413) before it is read.
        MAX_CONTENT_LENGTH=max(settings.max_upload_mb + 1, MAX_IMPORT_MB) * 1024 * 1024,
    )
    if session_factory is None:
        engine = web_engine(settings)
        app_state = AppState(settings, make_session_factory(engine), _engine=engine)
    else:
        app_state = AppState(settings, session_factory)
    app.extensions[EXTENSION] = app_state

    CSRFProtect(app)
    init_request_sessions(app)
    init_security_headers(app, https=https)
    init_page_frame(app)
    init_login(app, app_state.session_factory, app_state.settings, login_view="public.login")
    admin = Admin(
        app,
        name="LMS back office",
        index_view=SecureIndexView(url="/admin"),
        csp_nonce_generator=csp_nonce,
    )
    with app.app_context():  # Flask-Admin probes the session proxy as each view is built
        register_views(admin)
    app.register_blueprint(register_public_pages())
    app.register_blueprint(probes)
    register_api(app)
    limit_public_forms(app, app.extensions[LIMITER])
    app.add_url_rule("/", "home", lambda: redirect(url_for("admin.index")))
    app.wsgi_app = trust_proxies(app.wsgi_app, os.environ.get(PROXY_ENV))  # type: ignore[method-assign]
    return app
