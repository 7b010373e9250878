"""The back office's login with MFA: the code field, replay, required-for-admins; and the same
page for an unknown e-mail and a wrong password."""

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
from tests.factories import PASSWORD, Factories
from tests.web.conftest import csrf_token


def log_in(client: FlaskClient, email: str, password: str = PASSWORD, totp: str = "") -> Any:
    token = csrf_token(client)
    return client.post(
        "/login", data={"email": email, "password": password, "totp": totp, "csrf_token": token}
    )


@pytest.fixture
def enrolled(session: Session, operator: Any, settings: Settings, make: Factories) -> Any:
    def build(role: str = "admin") -> tuple[Any, str]:
        user = make.user(role)
        found = mfa.enable(session, actor=operator, email=user.email, settings=settings)
        mfa.confirm(
            session,
            actor=operator,
            email=user.email,
            code=pyotp.TOTP(found.secret).now(),
            settings=settings,
        )
        user.mfa_last_step = None
        session.flush()
        return user, found.secret

    return build


def logged_in(client: FlaskClient) -> bool:
    return client.get("/admin/").status_code == 200


def test_the_form_has_a_code_field(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert 'name="totp"' in page and 'autocomplete="one-time-code"' in page


def test_password_alone_asks_for_the_code(client: FlaskClient, enrolled: Any) -> None:
    user, _ = enrolled()
    response = log_in(client, user.email)
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "enter the 6-digit code from your authenticator app" in page
    assert " required" in page.split('name="totp"', 1)[1].split(">", 1)[0]
    assert not logged_in(client)


def test_the_right_code_logs_in_once(app: Flask, enrolled: Any) -> None:
    user, secret = enrolled()
    code = pyotp.TOTP(secret).now()
    first = app.test_client()
    assert log_in(first, user.email, totp=code).status_code == 302
    assert logged_in(first)
    second = app.test_client()
    replay = log_in(second, user.email, totp=code)
    assert replay.status_code == 401
    assert "already used" in replay.get_data(as_text=True)
    assert not logged_in(second)


def test_a_wrong_code_is_refused(client: FlaskClient, enrolled: Any, session: Session) -> None:
    user, _ = enrolled()
    response = log_in(client, user.email, totp="000000")
    assert response.status_code == 401
    assert "000000" not in response.get_data(as_text=True)
    session.refresh(user)
    assert user.failed_login_attempts == 1


@pytest.fixture
def strict_app(settings: Settings, session_factory: Callable[[], Session]) -> Iterator[Flask]:
    app = create_app(
        settings.model_copy(update={"mfa_required_roles": "admin"}),
        session_factory=session_factory,
    )
    app.config["TESTING"] = True
    yield app
    app.extensions[EXTENSION].dispose()


def test_required_for_admins(strict_app: Flask, make: Factories, enrolled: Any) -> None:
    admin = make.user("admin")
    refused = log_in(strict_app.test_client(), admin.email)
    assert refused.status_code == 403
    assert f"ask an administrator to enroll {admin.email} in MFA" in refused.get_data(as_text=True)
    user, secret = enrolled()
    browser = strict_app.test_client()
    assert log_in(browser, user.email, totp=pyotp.TOTP(secret).now()).status_code == 302
    instructor = strict_app.test_client()
    assert log_in(instructor, make.user("instructor").email).status_code == 302


def test_unknown_e_mail_and_wrong_password_get_the_same_page(
    app: Flask, make: Factories, settings: Settings
) -> None:
    admin = make.user("admin")

    def flash_of(email: str) -> tuple[int, str]:
        response = log_in(app.test_client(), email, "Not-The-Passw0rd")
        page = response.get_data(as_text=True)
        return response.status_code, page.split('class="lms-flash', 1)[1].split("</", 1)[0]

    assert flash_of("nobody@x.org") == flash_of(admin.email)
    for _ in range(settings.lockout_threshold):  # up to and including the locking attempt
        assert flash_of(admin.email) == flash_of("nobody@x.org")


def test_a_learner_refused_at_the_door_keeps_the_recovery_code(
    client: FlaskClient, session: Session, operator: Any, settings: Settings, make: Factories
) -> None:
    from sqlalchemy import func, select

    from lms_core.models import MfaRecoveryCode

    learner = make.user("student")
    found = mfa.enable(session, actor=operator, email=learner.email, settings=settings)
    mfa.confirm(
        session,
        actor=operator,
        email=learner.email,
        code=pyotp.TOTP(found.secret).now(),
        settings=settings,
    )
    session.commit()
    response = log_in(client, learner.email, totp=found.recovery_codes[0])
    assert response.status_code == 403
    assert "learners use the learning app" in response.get_data(as_text=True)
    left = session.scalar(
        select(func.count())
        .select_from(MfaRecoveryCode)
        .where(MfaRecoveryCode.user_id == learner.id, MfaRecoveryCode.used_at.is_(None))
    )
    assert left == mfa.RECOVERY_CODES  # not spent on a login that could not succeed
