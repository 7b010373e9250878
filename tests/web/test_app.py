"""The back office's frame: probes, CSRF, the secure admin index, no Flask in lmsctl."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from admin_ui.app import EXTENSION, create_app
from lms_core.models import User
from lms_core.settings import Settings
from tests.conftest import cheap_settings
from tests.factories import Factories

UNREACHABLE = "postgresql+psycopg2://lms@127.0.0.1:1/nowhere"


def log_in(client: FlaskClient, user: User) -> int:
    """Log in through the real form: 200 once in (the admin index answers), else the login's code."""
    from tests.web.conftest import log_in as form_log_in

    response = form_log_in(client, user)
    return 200 if response.status_code == 302 else response.status_code


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok"}}


def test_readyz_when_the_database_is_down(tmp_path: Path) -> None:
    app = create_app(cheap_settings(UNREACHABLE, tmp_path))
    try:
        response = app.test_client().get("/readyz")
    finally:
        app.extensions[EXTENSION].dispose()
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "checks": {"database": "unreachable"}}


def test_settings_reach_the_config(app: Flask, settings: Settings) -> None:
    assert app.config["SECRET_KEY"] == settings.secret_key.get_secret_value()
    assert app.config["WTF_CSRF_ENABLED"] is True
    assert "csrf" in app.extensions


def test_a_post_without_csrf_token_is_refused(tmp_path: Path) -> None:
    app = create_app(cheap_settings(UNREACHABLE, tmp_path))

    @app.post("/probe")
    def probe() -> str:
        return "accepted"

    assert app.test_client().post("/probe", data={"x": "1"}).status_code == 400


def test_admin_refuses_anonymous(client: FlaskClient) -> None:
    assert client.get("/admin/").status_code in (302, 403)


def test_admin_sends_anonymous_to_the_login_page(app: Flask) -> None:
    response = app.test_client().get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fadmin%2F"


@pytest.mark.parametrize(
    ("role", "status"), [("admin", 200), ("instructor", 200), ("student", 403)]
)
def test_admin_lets_staff_in(client: FlaskClient, make: Factories, role: str, status: int) -> None:
    status_at_login = log_in(client, make.user(role))
    assert status_at_login == (200 if status == 200 else 403)
    assert client.get("/admin/").status_code == (200 if status == 200 else 302)


def test_deactivated_or_deleted_users_are_anonymous(
    client: FlaskClient, make: Factories, session: Session
) -> None:
    from lms_core.models import utcnow

    assert log_in(client, make.user("admin", is_active=False)) == 401

    admin = make.user("admin")
    assert log_in(client, admin) == 200
    assert client.get("/admin/").status_code == 200
    admin.deleted_at = utcnow()  # deleted while logged in: the next request is anonymous
    session.flush()
    assert client.get("/admin/").status_code in (302, 403)


def test_lmsctl_imports_no_web_stack() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from lmsctl.main import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'admin_ui', 'flask', 'flask_admin', 'flask_login', 'flask_wtf', 'jobs', 'huey'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
