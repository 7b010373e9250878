"""STARTTLS and TLS: the server's certificate is checked, then the mail goes (and the login)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.errors import LmsError
from lms_core.mail import smtp
from lms_core.mail.delivery import deliver, send_test
from lms_core.mail.outbox import queue_mail
from lms_core.mail.smtp import MailDeferred
from lms_core.models import MailStatus, OutboxMail
from lms_core.settings import Settings, SmtpSecurity
from tests.mail.conftest import pointing_at
from tests.mail.smtp_server import CERT, Server

OPERATOR = Actor.operator("pytest")


@pytest.fixture
def trust_test_certificate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test certificate among the trusted roots (OpenSSL reads SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(CERT))
    smtp.tls_context.cache_clear()
    yield
    smtp.tls_context.cache_clear()


@pytest.mark.parametrize("security", [SmtpSecurity.starttls, SmtpSecurity.tls])
def test_a_trusted_server_gets_the_mail_over_tls_with_the_login(
    security: SmtpSecurity, settings: Settings, tmp_path: Path, trust_test_certificate: None
) -> None:
    server = Server(password="pw-over-tls", tls=security.value)
    try:
        site = pointing_at(
            settings,
            server.port,
            tmp_path,
            smtp_security=security,
            smtp_user="lms",
            smtp_password=SecretStr("pw-over-tls"),
        )
        sent = send_test(site, actor=OPERATOR, to="me@school.example")
        assert sent.server == f"127.0.0.1:{server.port} ({security.value}, login lms)"
        assert server.capture.logins == ["lms"] and len(server.messages) == 1
    finally:
        server.stop()


@pytest.mark.parametrize("security", [SmtpSecurity.starttls, SmtpSecurity.tls])
def test_an_untrusted_certificate_is_refused(
    security: SmtpSecurity, settings: Settings, tmp_path: Path
) -> None:
    smtp.tls_context.cache_clear()  # the system's roots only: the test certificate is unknown
    server = Server(tls=security.value)
    try:
        site = pointing_at(settings, server.port, tmp_path, smtp_security=security)
        with pytest.raises(LmsError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            send_test(site, actor=OPERATOR, to="me@school.example")
        assert server.messages == []
    finally:
        server.stop()


def test_plain_smtp_against_a_server_requiring_starttls_is_retried_not_failed(
    settings: Settings, tmp_path: Path, session_factory: Callable[[], Session]
) -> None:
    """A "530 STARTTLS first" is about the settings, not the mail: it is retried."""
    server = Server(tls="starttls")
    try:
        site = pointing_at(settings, server.port, tmp_path)  # security none
        with pytest.raises(LmsError, match=r"not sent through .*: 530"):
            send_test(site, actor=OPERATOR, to="me@school.example")
        with session_factory() as session, session.begin():
            mail = queue_mail(
                session,
                template="test",
                to="me@school.example",
                context={},
                key="test:530",
                base_url=site.public_base_url,
            )
        with pytest.raises(MailDeferred, match="530"):
            deliver(session_factory, site, mail.id)
        with session_factory() as session:
            row = session.get(OutboxMail, mail.id)
            assert row is not None and row.status == MailStatus.queued.value
        assert server.messages == []
    finally:
        server.stop()
