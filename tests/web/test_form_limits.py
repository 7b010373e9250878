"""Rate limits on the public forms: a 429 page with Retry-After after the limit (per address,
per account for login and reset), forms still shown, and recovery after the window."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from admin_ui.public import rate_limits
from tests.factories import Factories
from tests.web.conftest import csrf_token


def _limit(text: str) -> int:
    return int(text.split()[0])


PER_ADDRESS = _limit(rate_limits.FORM_PER_ADDRESS)
PER_ACCOUNT = _limit(rate_limits.FORM_PER_ACCOUNT)


def _post(
    client: FlaskClient, path: str, token: str, address: str = "127.0.0.1", **data: Any
) -> Any:
    return client.post(
        path, data={**data, "csrf_token": token}, environ_base={"REMOTE_ADDR": address}
    )


def _assert_refused(response: Any) -> None:
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many attempts" in response.get_data(as_text=True)


def test_login_flood_from_one_address_gets_a_429_page(client: FlaskClient) -> None:
    token = csrf_token(client)
    for n in range(PER_ADDRESS):
        answer = _post(client, "/login", token, email=f"nobody{n}@test.example", password="x")
        assert answer.status_code == 401
    _assert_refused(_post(client, "/login", token, email="else@test.example", password="x"))
    assert client.get("/login").status_code == 200  # the form is still shown


def test_one_account_is_limited_whatever_the_address(client: FlaskClient, make: Factories) -> None:
    admin = make.user("admin")
    token = csrf_token(client)
    statuses = [
        _post(
            client, "/login", token, f"203.0.113.{n + 1}", email=admin.email.upper(), password="x"
        ).status_code
        for n in range(PER_ACCOUNT + 1)
    ]
    assert statuses[-1] == 429 and 429 not in statuses[:-1], statuses


def test_reset_requests_are_limited_per_account(client: FlaskClient) -> None:
    token = csrf_token(client, "/reset-password")
    for n in range(PER_ACCOUNT):
        answer = _post(client, "/reset-password", token, f"198.51.100.{n + 1}", email="a@b.example")
        assert answer.status_code == 302
    _assert_refused(_post(client, "/reset-password", token, "198.51.100.99", email="a@b.example"))


@pytest.mark.parametrize(
    "path", ["/set-password/not-a-token", "/reset-password/not-a-token", "/verify-email/nope"]
)
def test_token_forms_are_limited_per_address(client: FlaskClient, path: str) -> None:
    token = csrf_token(client)
    for _ in range(PER_ADDRESS):
        assert _post(client, path, token, password="x", password_again="x").status_code == 400
    _assert_refused(_post(client, path, token, password="x", password_again="x"))
    other = _post(client, path, token, "192.0.2.7", password="x", password_again="x")
    assert other.status_code == 400  # another address is not held


def test_the_address_limit_is_shared_by_the_forms(client: FlaskClient) -> None:
    """One address's posts count together across the forms (the docs' "shared"): after the
    limit on /login, every other form refuses that address too; another is not held."""
    token = csrf_token(client)
    for n in range(PER_ADDRESS // 2):
        answer = _post(client, "/login", token, email=f"n{n}@test.example", password="x")
        assert answer.status_code == 401
    for _ in range(PER_ADDRESS - PER_ADDRESS // 2):
        assert _post(client, "/verify-email/nope", token).status_code == 400
    for path in ("/login", "/reset-password", "/set-password/x", "/reset-password/x"):
        answer = _post(
            client, path, token, email="q@test.example", password="x", password_again="x"
        )
        _assert_refused(answer)
    assert _post(client, "/verify-email/nope", token, "192.0.2.7").status_code == 400


class _Clock:
    """The limiter's clock (the counts' storage reads ``time.time()``), moved by the test."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead


def test_the_limit_recovers_after_its_window(
    app: Flask, make: Factories, monkeypatch: pytest.MonkeyPatch
) -> None:
    import limits.storage.memory

    from tests.factories import PASSWORD

    clock = _Clock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    admin = make.user("admin")
    client = app.test_client()
    token = csrf_token(client)
    for n in range(PER_ADDRESS):
        _post(client, "/login", token, email=f"nobody{n}@test.example", password="x")
    _assert_refused(_post(client, "/login", token, email=admin.email, password=PASSWORD))
    clock.ahead = 30  # within the minute: still refused
    assert _post(client, "/login", token, email=admin.email, password=PASSWORD).status_code == 429
    clock.ahead = 61  # the window has passed
    assert _post(client, "/login", token, email=admin.email, password=PASSWORD).status_code == 302


def test_forms_and_api_count_apart(client: FlaskClient) -> None:
    """The API's login limit and the forms' are separate buckets (scopes)."""
    token = csrf_token(client)
    for n in range(PER_ADDRESS):
        _post(client, "/login", token, email=f"nobody{n}@test.example", password="x")
    api = client.application.test_client()  # no session cookie: the API's bearer mode
    answer = api.post("/api/v1/auth/login", json={"email": "x@test.example", "password": "y"})
    assert answer.status_code == 401


def test_correct_logins_do_not_fill_the_account_limit(client: FlaskClient, make: Factories) -> None:
    """The account limit counts failed logins only: its owner signing in more often than the
    limit (several tabs, devices) is not refused. (Wrong posts still fill it: see the
    trade-off in docs/back-office.md.)"""
    from tests.factories import PASSWORD

    admin = make.user("admin")
    statuses = []
    for n in range(PER_ACCOUNT + 1):
        device = client.application.test_client()  # each login a new session (its own CSRF)
        token = csrf_token(device)
        address = f"198.51.100.{n + 1}"
        statuses.append(
            _post(
                device, "/login", token, address, email=admin.email, password=PASSWORD
            ).status_code
        )
    assert statuses == [302] * (PER_ACCOUNT + 1)
