"""The back office under test: the real app on the test's database transaction, and clients
logged in through the real ``/login`` form (CSRF token and all)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from admin_ui.app import EXTENSION, create_app
from lms_core.models import User
from lms_core.settings import Settings
from tests.factories import PASSWORD

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def app(settings: Settings, session_factory: Callable[[], Session]) -> Iterator[Flask]:
    app = create_app(settings, session_factory=session_factory)
    app.config["TESTING"] = True
    yield app
    app.extensions[EXTENSION].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form at ``path`` (as a browser would read it from the page)."""
    html = client.get(path).get_data(as_text=True)
    found = _CSRF.search(html)
    assert found, f"no csrf_token field on {path}"
    return found.group(1)


def log_in(client: FlaskClient, user: User | str, password: str = PASSWORD) -> Any:
    """POST the login form as a browser does; the response (302 on success)."""
    email = user if isinstance(user, str) else user.email
    token = csrf_token(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def post_form(client: FlaskClient, path: str, data: dict[str, Any], *, form_page: str) -> Any:
    """POST ``data`` to ``path`` with the CSRF token read from ``form_page``."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, form_page)})


@pytest.fixture
def logged_in(app: Flask) -> Callable[[User], FlaskClient]:
    """A new client logged in as the given user."""

    def make(user: User) -> FlaskClient:
        c = app.test_client()
        response = log_in(c, user)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return c

    return make


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per browser-test module (Debian's, from the test set-up; skipped or failed
    by :func:`chromium_or_stop` when missing, as LMS_NO_SKIPS says)."""
    from tests.web.browser_support import chromium_or_stop

    path = chromium_or_stop()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(path), chromium_sandbox=False)
        yield chromium
        chromium.close()
