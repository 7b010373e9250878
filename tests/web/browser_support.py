"""Real Chromium against the real back office: a live server on a database of its own, and a
page that records every Content-Security-Policy complaint the browser prints.

The browser is Debian's ``chromium`` (``make setup-browser`` installs it), driven by
Playwright's Python API; Playwright's own downloaded browsers are never used. The server is
``create_app`` on a migrated scratch database (SQLite file or PostgreSQL database), served by
Werkzeug in a thread: requests commit for real, as in production, so the test reads what a
user would see after each click.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from werkzeug.serving import WSGIRequestHandler, make_server

from admin_ui.app import EXTENSION, create_app
from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.ops import demo, schema
from lms_core.security import PasswordHasher
from lms_core.settings import Settings
from tests.conftest import cheap_settings

CHROMIUM = Path(os.environ.get("LMS_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "back-office"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ADMIN = demo.DEMO_USERS[0]
INSTRUCTOR = demo.DEMO_USERS[1]
STUDENT = demo.DEMO_USERS[2]
CERTIFICATE = demo.DEMO_CERTIFICATE_NUMBER


def chromium_or_stop() -> Path:
    """The browser's path; without it the test skips (locally) or fails (LMS_NO_SKIPS=1, CI)."""
    if CHROMIUM.exists():
        return CHROMIUM
    why = f"{CHROMIUM} is missing: run `make setup-browser` (installs Debian's chromium)"
    if os.environ.get("LMS_NO_SKIPS") == "1":
        pytest.fail(why)
    pytest.skip(why)


def screenshots_wanted() -> bool:
    """Screenshots are rewritten only on request (LMS_SCREENSHOTS=1), never by a plain run."""
    return os.environ.get("LMS_SCREENSHOTS") == "1"


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (a failing test's output shows the test's words), and
    keep-alive connections (HTTP/1.1): a page's dozen assets do not each open a connection."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class LiveServer:
    """The running back office: its base URL, settings and engine (to read what was written)."""

    url: str
    settings: Settings
    engine: Engine

    def at(self, path: str) -> str:
        return self.url + path


def seed(settings: Settings, engine: Engine) -> None:
    """The demo school (admin, instructor, student, two courses, one issued certificate),
    made by the same service ``lmsctl demo seed`` calls."""
    with unit_of_work(make_session_factory(engine)) as session:
        demo.seed(
            session,
            actor=Actor.operator("browser-test"),
            hasher=PasswordHasher.from_settings(settings),
            settings=settings,
        )


@contextmanager
def own_database(db_url: str, tmp: Path) -> Iterator[str]:
    """An empty database for the server: a SQLite file in ``tmp``, or on PostgreSQL
    ``<test database>_browser_<pid>`` (the test database's name first, so a run given a
    name prefix keeps to it), dropped afterwards."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp / 'browser.db'}"
        return
    name = f"{url.database}_browser_{os.getpid()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def live_server(db_url: str, tmp: Path) -> Iterator[LiveServer]:
    """A migrated, seeded database of its own and the app serving it on 127.0.0.1:<port>."""
    with own_database(db_url, tmp) as url:
        settings = cheap_settings(url, tmp / "files", public_base_url="http://127.0.0.1")
        engine = make_engine(settings)
        try:
            schema.upgrade(engine)
            seed(settings, engine)
            app = create_app(settings)
            # The browser keeps Flask-Admin's assets between pages, as behind a real server.
            app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600
            server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                yield LiveServer(f"http://127.0.0.1:{server.server_port}", settings, engine)
            finally:
                server.shutdown()
                thread.join(10)
                app.extensions[EXTENSION].dispose()
        finally:
            engine.dispose()


@dataclass
class Console:
    """What the browser complained about: CSP refusals, uncaught script exceptions, and
    other console errors (a missing favicon among them: kept for a failure's message only)."""

    csp: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def on_console(message: Any) -> None:
            text = f"{page.url}: {message.text}"
            if "Content Security Policy" in message.text:
                self.csp.append(text)
            elif message.type == "error":
                self.errors.append(text)

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.exceptions.append(f"{page.url}: {exc}"))

    def check(self) -> None:
        """Fail on any CSP violation (an inline script or handler slipped in) or uncaught
        script exception (a page's JavaScript broke) seen so far."""
        assert not self.csp, "Content-Security-Policy violations:\n" + "\n".join(self.csp)
        assert not self.exceptions, "JavaScript exceptions:\n" + "\n".join(self.exceptions)
        self.csp.clear()


def shoot(page: Any, name: str, *, full_page: bool = True) -> None:
    """docs/back-office/<name>.png of what the page shows now (only with LMS_SCREENSHOTS=1)."""
    if not screenshots_wanted():
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
