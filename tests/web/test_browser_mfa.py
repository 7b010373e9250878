"""In Chromium: an instructor with MFA on logs in to the back office with the code of their
app (computed here from the seed, as the app does), and the replayed code is refused; the
login page stays free of Content-Security-Policy refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from lms_core.accounts import mfa
from lms_core.actor import Actor
from lms_core.db import make_session_factory, unit_of_work
from tests.web.browser_support import (
    INSTRUCTOR,
    Console,
    LiveServer,
    chromium_or_stop,
    live_server,
)
from tests.web.test_browser import console, page  # noqa: F401  # fixtures (browser: conftest)


@pytest.fixture(scope="module")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    chromium_or_stop()
    with live_server(db_url, tmp_path_factory.mktemp("browser-mfa")) as running:
        yield running


def submit(tab: Any, server: LiveServer, email: str, password: str, code: str = "") -> None:
    tab.goto(server.at("/login"))
    tab.fill("#email", email)
    tab.fill("#password", password)
    tab.fill("#totp", code)
    tab.click("button[type=submit]")
    tab.wait_for_load_state()


def test_an_instructor_logs_in_with_the_code_of_their_app(
    page: Any,  # noqa: F811
    server: LiveServer,
    console: Console,  # noqa: F811
) -> None:
    email, _, _, password = INSTRUCTOR
    with unit_of_work(make_session_factory(server.engine)) as session:
        operator = Actor.operator("browser-test")
        found = mfa.enable(session, actor=operator, email=email, settings=server.settings)
        mfa.confirm(
            session,
            actor=operator,
            email=email,
            code=pyotp.TOTP(found.secret).now(),
            settings=server.settings,
        )
        mfa.get_user(session, email).mfa_last_step = None  # the login may fall in the same step

    submit(page, server, email, password)  # the password alone: the page asks for the code
    assert "enter the 6-digit code" in page.inner_text("main")
    # The password is never sent back: it is typed again, with the code now required.
    assert page.evaluate("() => document.activeElement.id") == "password"
    assert page.evaluate("() => document.getElementById('totp').required") is True
    console.check()

    code = pyotp.TOTP(found.secret).now()
    submit(page, server, email, password, code)
    assert page.locator(".lms-flash.error").count() == 0, page.inner_text("main")
    assert "My courses at a glance" in page.inner_text("body")
    console.check()

    page.context.clear_cookies()
    submit(page, server, email, password, code)  # the same code again: refused
    assert "already used" in page.inner_text("main")
    console.check()
