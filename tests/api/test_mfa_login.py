"""POST /auth/login with MFA: the totp field (a real code, or a recovery code), replay,
lockout, required roles; and one answer for an unknown e-mail and a wrong password."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from admin_ui.app import EXTENSION, create_app
from lms_core.accounts import mfa
from lms_core.settings import Settings
from tests.api.conftest import API, assert_problem
from tests.factories import PASSWORD


def post_login(client: FlaskClient, email: str, password: str = PASSWORD, **extra: str) -> Any:
    return client.post(f"{API}/auth/login", json={"email": email, "password": password, **extra})


@pytest.fixture
def enrolled(session: Session, operator: Any, settings: Settings, make: Any) -> Any:
    def build(role: str = "admin") -> tuple[Any, mfa.Enrollment]:
        user = make.user(role=role)
        found = mfa.enable(session, actor=operator, email=user.email, settings=settings)
        mfa.confirm(
            session,
            actor=operator,
            email=user.email,
            code=pyotp.TOTP(found.secret).now(),
            settings=settings,
        )
        user.mfa_last_step = None  # the login below may use the same step's code
        session.flush()
        return user, found

    return build


def error_of(body: dict[str, Any]) -> tuple[str, str]:
    first = body["errors"][0]
    return first["field"], first["message"]


def test_login_with_the_code(client: FlaskClient, enrolled: Any) -> None:
    user, found = enrolled()
    response = post_login(client, user.email, totp=pyotp.TOTP(found.secret).now())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["access_token"]


def test_without_a_code_401_field_totp(client: FlaskClient, enrolled: Any) -> None:
    user, _ = enrolled()
    body = assert_problem(post_login(client, user.email), 401)
    assert error_of(body)[0] == "totp"


def test_a_wrong_code_401_field_totp_and_counts(
    client: FlaskClient, enrolled: Any, session: Session
) -> None:
    user, _ = enrolled()
    body = assert_problem(post_login(client, user.email, totp="000000"), 401)
    assert error_of(body)[0] == "totp"
    assert "000000" not in str(body)  # never echoed
    session.refresh(user)
    assert user.failed_login_attempts == 1


def test_a_code_works_once(client: FlaskClient, enrolled: Any) -> None:
    user, found = enrolled()
    code = pyotp.TOTP(found.secret).now()
    assert post_login(client, user.email, totp=code).status_code == 200
    body = assert_problem(post_login(client, user.email, totp=code), 401)
    assert error_of(body) == (
        "totp",
        "wrong or already used code; wait for the next one or use a recovery code",
    )


def test_a_recovery_code_works_once(client: FlaskClient, enrolled: Any) -> None:
    user, found = enrolled()
    code = found.recovery_codes[0]
    assert post_login(client, user.email, totp=code).status_code == 200
    assert_problem(post_login(client, user.email, totp=code), 401)


def test_wrong_codes_lock_the_account(
    client: FlaskClient, enrolled: Any, settings: Settings
) -> None:
    user, found = enrolled()
    for _ in range(settings.lockout_threshold - 1):
        assert_problem(post_login(client, user.email, totp="000000"), 401)
    assert_problem(post_login(client, user.email, totp="000000"), 423)
    assert_problem(post_login(client, user.email, totp=pyotp.TOTP(found.secret).now()), 423)


@pytest.fixture
def strict_client(settings: Settings, session_factory: Callable[[], Session]) -> Iterator[Any]:
    app: Flask = create_app(
        settings.model_copy(update={"mfa_required_roles": "admin"}),
        session_factory=session_factory,
    )
    app.config["TESTING"] = True
    yield app.test_client()
    app.extensions[EXTENSION].dispose()


def test_required_for_admins_refuses_an_admin_without_mfa(strict_client: Any, make: Any) -> None:
    admin = make.user(role="admin")
    body = assert_problem(post_login(strict_client, admin.email), 403)
    field, message = error_of(body)
    assert field == "totp" and f"ask an administrator to enroll {admin.email} in MFA" in message
    assert post_login(strict_client, make.user(role="student").email).status_code == 200


def test_required_for_admins_lets_an_enrolled_admin_in(strict_client: Any, enrolled: Any) -> None:
    user, found = enrolled()
    response = post_login(strict_client, user.email, totp=pyotp.TOTP(found.secret).now())
    assert response.status_code == 200


# --- no account enumeration -------------------------------------------------------------------


def test_unknown_e_mail_wrong_password_and_locked_account_answer_alike(
    client: FlaskClient, learner: Any, settings: Settings
) -> None:
    def answer(response: Any) -> tuple[int, Any, Any]:
        body = assert_problem(response, 401)
        return body["status"], body["detail"], body["errors"]

    unknown = answer(post_login(client, "nobody@test.example", "Wrong-Password-1"))
    wrong = answer(post_login(client, learner.email, "Wrong-Password-1"))
    assert unknown[0] == wrong[0] and unknown[1] == wrong[1]
    assert [(e["field"], e["message"]) for e in unknown[2]] == [
        (e["field"], e["message"]) for e in wrong[2]
    ]
    assert unknown[2][0]["field"] == "password"
    for _ in range(settings.lockout_threshold - 1):  # the locking attempt answers alike too
        assert answer(post_login(client, learner.email, "Wrong-Password-1"))[1] == unknown[1]
    assert answer(post_login(client, learner.email, "Wrong-Password-1"))[1] == unknown[1]
    # Only the right password learns that the account is locked.
    assert_problem(post_login(client, learner.email), 423)


def test_the_users_api_never_shows_the_seed(client: FlaskClient, enrolled: Any) -> None:
    user, found = enrolled()
    tokens = post_login(client, user.email, totp=pyotp.TOTP(found.secret).now()).get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    response = client.get(f"{API}/users", headers=headers)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and user.email in text, text
    assert found.secret not in text and "mfa_secret" not in text and "v1:" not in text
