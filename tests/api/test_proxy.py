"""Behind the reverse proxy: limits count each client (X-Forwarded-For from a trusted proxy
only) and /metrics refuses anything a proxy relayed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from admin_ui.api import limits
from admin_ui.app import EXTENSION, create_app
from admin_ui.proxy import ENV
from lms_core.settings import Settings
from tests.api.conftest import API

PROXY = "10.9.8.7"
TIMES = int(limits.LOGIN_PER_ADDRESS.split()[0])


@pytest.fixture
def build(
    settings: Settings, session_factory: Callable[[], Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str | None], Flask]]:
    made: list[Flask] = []

    def make(trusted: str | None) -> Flask:
        if trusted is None:
            monkeypatch.delenv(ENV, raising=False)
        else:
            monkeypatch.setenv(ENV, trusted)
        app = create_app(settings, session_factory=session_factory)
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions[EXTENSION].dispose()


def _logins(app: Flask, peer: str, client_address: str, times: int) -> list[int]:
    client = app.test_client()
    return [
        client.post(
            f"{API}/auth/login",
            json={"email": f"nobody{n}@test.example", "password": "x"},
            headers={"X-Forwarded-For": client_address},
            environ_base={"REMOTE_ADDR": peer},
        ).status_code
        for n in range(times)
    ]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    build: Callable[[str | None], Flask],
) -> None:
    app = build(f"{PROXY}, 192.0.2.0/24")
    assert _logins(app, PROXY, "203.0.113.1", TIMES + 1)[-1] == 429
    assert set(_logins(app, PROXY, "203.0.113.2", TIMES)) == {401}  # another client
    assert set(_logins(app, "192.0.2.5", "203.0.113.3", 1)) == {401}  # a network named


@pytest.mark.parametrize("trusted", [None, "127.0.0.1"])
def test_a_forged_forwarded_address_does_not_escape_the_limit(
    build: Callable[[str | None], Flask], trusted: str | None
) -> None:
    """Not set, or the peer is not a proxy named: X-Forwarded-For is the client's own claim."""
    app = build(trusted)
    client = app.test_client()
    statuses = [
        client.post(
            f"{API}/auth/login",
            json={"email": f"nobody{n}@test.example", "password": "x"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
            environ_base={"REMOTE_ADDR": "203.0.113.50"},
        ).status_code
        for n in range(TIMES + 1)
    ]
    assert statuses[-1] == 429


@pytest.mark.parametrize("trusted", [None, "127.0.0.1"])
@pytest.mark.parametrize(
    "header",
    [
        {"X-Forwarded-For": "127.0.0.1"},
        {"Forwarded": "for=127.0.0.1"},
        {"X-Real-IP": "127.0.0.1"},
    ],
)
def test_metrics_refuse_a_relayed_request(
    build: Callable[[str | None], Flask], trusted: str | None, header: dict[str, str]
) -> None:
    client = build(trusted).test_client()
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", headers=header).status_code == 403
