"""Fixtures of the mail tests: a real SMTP server, settings that point at it, a CLI using them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from lms_core.settings import Settings, SmtpSecurity
from tests.conftest import Cli
from tests.mail.smtp_server import Server


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    server = Server()
    yield server
    server.stop()


def pointing_at(settings: Settings, port: int, tmp_path: Path, **extra: object) -> Settings:
    """``settings`` with mail sent to 127.0.0.1:``port`` in plain SMTP, and a queue of the
    test's own (``jobs run-due`` builds one)."""
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": SmtpSecurity.none,
            "smtp_timeout_seconds": 5,
            "mail_from": "LMS <lms@school.example>",
            "public_base_url": "https://lms.school.example",
            "huey_url": f"sqlite:///{tmp_path / 'huey.db'}",
            **extra,
        }
    )


@pytest.fixture
def mail_settings(settings: Settings, smtp_server: Server, tmp_path: Path) -> Settings:
    return pointing_at(settings, smtp_server.port, tmp_path)


@pytest.fixture
def mail_cli(mail_settings: Settings, session_factory: Callable[[], Session]) -> Cli:
    return Cli(mail_settings, session_factory)
