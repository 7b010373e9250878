"""The API under test: the real app on the test's database transaction, clients that log in
through ``POST /api/v1/auth/login`` and send the bearer token."""

from __future__ import annotations

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
from tests.integration.conftest import seeded  # noqa: F401  # a fixture: the demo database
from tests.jobs.test_redis_huey import redis_url  # noqa: F401  # a fixture: a reachable Redis

API = "/api/v1"
PROBLEM = "application/problem+json"


@pytest.fixture
def app(settings: Settings, session_factory: Callable[[], Session]) -> Iterator[Flask]:
    app = create_app(settings, session_factory=session_factory)
    app.config["TESTING"] = True
    yield app
    app.extensions[EXTENSION].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def login(client: FlaskClient, user: User | str, password: str = PASSWORD) -> Any:
    email = user if isinstance(user, str) else user.email
    return client.post(f"{API}/auth/login", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class ApiClient:
    """A test client that sends one bearer token on every request."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.token = token

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(API + path, headers=bearer(self.token), **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(API + path, headers=bearer(self.token), **kw)


@pytest.fixture
def as_user(app: Flask) -> Callable[[User], ApiClient]:
    """An API client logged in (by the API's own login) as the given user."""

    def make(user: User) -> ApiClient:
        c = app.test_client()
        response = login(c, user)
        assert response.status_code == 200, response.get_data(as_text=True)
        return ApiClient(c, response.get_json()["access_token"])

    return make


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with our errors list, and no traceback."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert body["title"] and body["type"] == "about:blank"
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert isinstance(body["errors"], list) and body["errors"]
    for error in body["errors"]:
        assert set(error) >= {"field", "value", "message"}
    assert "Traceback" not in response.get_data(as_text=True)
    return body
