"""Logins made before MFA do not outlive it: the refresh of an API login checks
``LMS_MFA_REQUIRED_ROLES`` as the login does, and turning MFA on or off ends the user's API
logins (their personal tokens stay, as on GitHub: an integration's token is not a login)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyotp
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from lms_core.accounts import mfa
from lms_core.accounts.api_tokens import create_personal_token
from lms_core.actor import Actor
from lms_core.settings import Settings
from tests.api.conftest import API, assert_problem
from tests.api.test_mfa_login import error_of, post_login, strict_client  # noqa: F401


def refresh(client: FlaskClient, token: str) -> Any:
    return client.post(f"{API}/auth/refresh", json={"refresh_token": token})


def turn_on(session: Session, operator: Actor, settings: Settings, email: str) -> str:
    found = mfa.enable(session, actor=operator, email=email, settings=settings)
    mfa.confirm(
        session,
        actor=operator,
        email=email,
        code=pyotp.TOTP(found.secret).now(),
        settings=settings,
    )
    session.commit()
    return found.secret


def test_a_login_made_before_the_setting_cannot_be_refreshed(
    client: FlaskClient,
    strict_client: Any,  # noqa: F811  # the fixture imported above
    make: Any,
) -> None:
    admin = make.user(role="admin")
    tokens = post_login(client, admin.email).get_json()  # before LMS_MFA_REQUIRED_ROLES
    login_answer = error_of(assert_problem(post_login(strict_client, admin.email), 403))
    body = assert_problem(refresh(strict_client, tokens["refresh_token"]), 403)
    assert error_of(body) == login_answer  # same field (totp), same words as the login
    student = make.user(role="student")
    other = post_login(client, student.email).get_json()
    assert refresh(strict_client, other["refresh_token"]).status_code == 200


def test_turning_mfa_on_ends_the_api_logins_and_keeps_personal_tokens(
    client: FlaskClient, make: Any, session: Session, operator: Actor, settings: Settings
) -> None:
    admin = make.user(role="admin")
    tokens = post_login(client, admin.email).get_json()
    _, pat = create_personal_token(
        session, actor=Actor.for_user(admin), name="ci", scopes=["users:read"]
    )
    session.commit()
    turn_on(session, operator, settings, admin.email)
    assert_problem(refresh(client, tokens["refresh_token"]), 401)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get(f"{API}/users", headers=bearer).status_code == 401
    kept = {"Authorization": f"Bearer {pat}"}
    assert client.get(f"{API}/users", headers=kept).status_code == 200


def test_turning_mfa_off_ends_the_api_logins(
    client: FlaskClient,
    make: Any,
    session: Session,
    operator: Actor,
    settings: Settings,
    session_factory: Callable[[], Session],
) -> None:
    admin = make.user(role="admin")
    secret = turn_on(session, operator, settings, admin.email)
    admin.mfa_last_step = None
    session.commit()
    tokens = post_login(client, admin.email, totp=pyotp.TOTP(secret).now()).get_json()
    mfa.disable(session, actor=operator, email=admin.email)
    session.commit()
    assert_problem(refresh(client, tokens["refresh_token"]), 401)
