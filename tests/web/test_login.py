"""``/login`` and ``/logout`` through the real forms: messages, lockout, session fixation,
server-side logout, learners refused, no open redirect."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.models import WebSession
from lms_core.security import PasswordHasher
from lms_core.settings import Settings
from tests.factories import PASSWORD, Factories
from tests.web.conftest import csrf_token, log_in

COOKIE = "lms_session"  # public_base_url is http:// in tests: no __Host- prefix


def cookie(client: FlaskClient) -> str:
    found = client.get_cookie(COOKIE)
    assert found is not None, "no session cookie"
    return found.value


def client_with(app: Flask, value: str) -> FlaskClient:
    """A new browser holding a copy of a session cookie (as a thief would)."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other


def is_logged_in(client: FlaskClient) -> bool:
    response = client.get("/admin/")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def sessions_of(session: Session, user_id: int) -> int:
    session.expire_all()
    count = session.scalar(
        select(func.count()).select_from(WebSession).where(WebSession.user_id == user_id)
    )
    return int(count or 0)


def test_login_success_says_who_and_lands_in_the_back_office(
    client: FlaskClient, make: Factories, session: Session
) -> None:
    admin = make.user("admin")
    response = log_in(client, admin)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    page = client.get("/admin/").get_data(as_text=True)
    assert f"Logged in as {admin.email}." in page
    assert sessions_of(session, admin.id) == 1


@pytest.mark.parametrize("who", ["wrong password", "unknown address"])
def test_login_failure_says_so_without_saying_which(
    client: FlaskClient, make: Factories, who: str
) -> None:
    admin = make.user("admin")
    email, password = (
        (admin.email, "Not-The-Passw0rd") if who == "wrong password" else ("no@x.org", PASSWORD)
    )
    response = log_in(client, email, password)
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "wrong e-mail or password" in page
    assert f'value="{email}"' in page  # the address is kept; the password never is
    assert "Not-The-Passw0rd" not in page
    assert not is_logged_in(client)


def test_lockout_is_shown_and_holds_even_with_the_right_password(
    client: FlaskClient, make: Factories, settings: Settings
) -> None:
    admin = make.user("admin")
    for _ in range(settings.lockout_threshold):
        log_in(client, admin, "Not-The-Passw0rd")
    response = log_in(client, admin)  # the right password, while locked
    assert response.status_code == 401
    assert "locked" in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_login_rotates_the_session_and_the_old_cookie_stays_anonymous(
    app: Flask, client: FlaskClient, make: Factories
) -> None:
    admin = make.user("admin")
    csrf_token(client)  # the login page: the browser now holds a pre-login session cookie
    before = cookie(client)
    assert log_in(client, admin).status_code == 302
    after = cookie(client)
    assert after != before
    assert is_logged_in(client)
    assert not is_logged_in(client_with(app, before))  # a planted cookie is not logged in


def test_each_login_gets_its_own_server_side_session(
    app: Flask, make: Factories, session: Session
) -> None:
    admin = make.user("admin")
    first, second = app.test_client(), app.test_client()
    log_in(first, admin)
    log_in(second, admin)
    assert cookie(first) != cookie(second)
    assert sessions_of(session, admin.id) == 2


def test_logout_ends_the_session_at_the_server(
    app: Flask, make: Factories, session: Session
) -> None:
    admin = make.user("instructor")
    browser = app.test_client()
    assert log_in(browser, admin).status_code == 302
    copy = client_with(app, cookie(browser))
    assert is_logged_in(copy)  # the copy works while the session lives
    token = csrf_token(browser, "/admin/")  # the logout button in the menu bar
    response = browser.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not is_logged_in(browser)
    assert not is_logged_in(copy)  # ended at the server, not only forgotten by the browser
    assert sessions_of(session, admin.id) == 0


def test_logout_needs_its_csrf_token(client: FlaskClient, make: Factories) -> None:
    log_in(client, make.user("admin"))
    assert client.post("/logout").status_code == 400
    assert is_logged_in(client)


def test_a_learner_is_refused_at_the_door(
    client: FlaskClient, make: Factories, session: Session
) -> None:
    learner = make.user("student")
    response = log_in(client, learner)
    assert response.status_code == 403
    assert "learners use the learning app" in response.get_data(as_text=True)
    assert not is_logged_in(client)
    assert sessions_of(session, learner.id) == 0


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_next_never_leaves_the_site(client: FlaskClient, make: Factories, target: str) -> None:
    admin = make.user("admin")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": admin.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_next_on_this_site_is_followed(client: FlaskClient, make: Factories) -> None:
    admin = make.user("admin")
    response = client.post(
        "/login",
        query_string={"next": "/admin/?tab=1"},
        data={"email": admin.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == "/admin/?tab=1"


def test_the_login_page_offers_a_password_reset(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/reset-password"' in page and "Forgot your password?" in page


@pytest.mark.parametrize("change", ["set_password", "deactivate_user"])
def test_a_new_password_or_a_deactivation_ends_every_session(
    app: Flask, make: Factories, session: Session, hasher: PasswordHasher, change: str
) -> None:
    from lms_core.accounts import users

    user = make.user("instructor")
    browsers = [app.test_client(), app.test_client()]
    for browser in browsers:
        assert log_in(browser, user).status_code == 302
    assert sessions_of(session, user.id) == 2
    operator = Actor.operator("pytest")
    if change == "set_password":
        users.set_password(
            session, actor=operator, email=user.email, password="Brand-New-Passw0rd", hasher=hasher
        )
    else:
        users.deactivate_user(session, actor=operator, email=user.email)
    session.flush()
    assert sessions_of(session, user.id) == 0
    assert not any(is_logged_in(browser) for browser in browsers)
