"""A real SMTP server in the test process (aiosmtpd), on 127.0.0.1 and a free port.

``answer`` makes it refuse: returned to every RCPT TO (``"550 5.1.1 no such user"`` for a
refusal for good, ``"451 4.3.0 try later"`` for a temporary one). ``closed_port()`` gives a
port nothing listens on: a server that is down.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def closed_port() -> int:
    """A port that was free a moment ago and that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Capture:
    """The handler: keeps every accepted message, or answers RCPT with ``answer``."""

    answer: str | None = None
    #: Answers for some recipients only.
    refused: dict[str, str] = field(default_factory=dict)
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    #: Seconds to think before taking a message (a slow server: a kill lands mid-send).
    delay: float = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.answer is not None:
            return self.answer
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


#: A self-signed certificate for 127.0.0.1, valid until 2126, made for these tests only
#: (``openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj /CN=127.0.0.1
#: -addext subjectAltName=IP:127.0.0.1,DNS:localhost``); its key is no secret.
CERT = Path(__file__).with_name("test-only-localhost-cert.pem")
KEY = Path(__file__).with_name("test-only-localhost-key.pem")


def server_tls() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(CERT, KEY)
    return context


class Server:
    """A running server; ``stop()`` takes it down (its port then refuses connections).

    ``tls="starttls"`` offers (and requires) STARTTLS, ``tls="tls"`` speaks TLS from the
    first byte; both with the test certificate :data:`CERT`.
    """

    def __init__(
        self, port: int | None = None, *, password: str | None = None, tls: str | None = None
    ) -> None:
        self.capture = Capture()
        self.port = port or closed_port()
        kwargs: dict[str, Any] = {}
        if tls == "starttls":
            kwargs.update(tls_context=server_tls(), require_starttls=True)
        elif tls == "tls":
            kwargs.update(ssl_context=server_tls())
        if password is not None:

            def authenticate(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = isinstance(data, LoginPassword) and data.password == password.encode()
                if ok:
                    self.capture.logins.append(data.login.decode())
                return AuthResult(success=ok, handled=False)

            kwargs.update(authenticator=authenticate, auth_require_tls=False)
        self.controller = Controller(self.capture, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.capture.messages

    def stop(self) -> None:
        self.controller.stop()
