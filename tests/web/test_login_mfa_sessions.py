"""Back-office sessions opened before MFA do not outlive it: turning MFA on or off ends them,
and a session of a role that ``LMS_MFA_REQUIRED_ROLES`` names, without MFA, is refused on its
next request with the login's message."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from admin_ui.app import EXTENSION, create_app
from lms_core.accounts import mfa
from lms_core.accounts.auth import mfa_required_message
from lms_core.actor import Actor
from lms_core.settings import Settings
from tests.factories import Factories
from tests.web.test_login_mfa import log_in, logged_in


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


def test_a_session_opened_before_the_setting_is_refused_with_the_message(
    client: FlaskClient,
    make: Factories,
    settings: Settings,
    session_factory: Callable[[], Session],
) -> None:
    admin = make.user("admin")
    instructor = make.user("instructor")
    assert log_in(client, admin.email).status_code in (302, 303)
    strict = create_app(
        settings.model_copy(update={"mfa_required_roles": "admin"}),
        session_factory=session_factory,
    )
    strict.config["TESTING"] = True
    try:
        later = strict.test_client()
        for cookie in client._cookies.values():  # the same browser, after the restart
            later.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
        response = later.get("/admin/")
        assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
        page = later.get(response.headers["Location"]).get_data(as_text=True)
        assert page.count(mfa_required_message(admin).split(";")[0]) == 1
        other = strict.test_client()  # a role the setting does not name keeps its session
        assert log_in(other, instructor.email).status_code in (302, 303)
        assert logged_in(other)
    finally:
        strict.extensions[EXTENSION].dispose()


def test_turning_mfa_on_ends_the_back_office_sessions(
    client: FlaskClient, make: Factories, session: Session, operator: Actor, settings: Settings
) -> None:
    admin = make.user("admin")
    assert log_in(client, admin.email).status_code in (302, 303)
    turn_on(session, operator, settings, admin.email)
    assert not logged_in(client)


def test_turning_mfa_off_ends_the_back_office_sessions(
    client: FlaskClient, make: Factories, session: Session, operator: Actor, settings: Settings
) -> None:
    admin = make.user("admin")
    secret = turn_on(session, operator, settings, admin.email)
    admin.mfa_last_step = None
    session.commit()
    assert log_in(client, admin.email, totp=pyotp.TOTP(secret).now()).status_code in (302, 303)
    mfa.disable(session, actor=operator, email=admin.email)
    session.commit()
    assert not logged_in(client)
