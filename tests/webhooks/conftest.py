"""Fixtures of the webhook tests: a real HTTP receiver on 127.0.0.1, settings that allow it."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lms_core.settings import Settings
from tests.conftest import Cli

SECRET = "whsec-test-0123456789abcdef0123456789"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    #: The client's (address, port): the same for requests on one kept-alive connection.
    peer: tuple[str, int] = ("", 0)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signature_valid(self, secret: str = SECRET) -> bool:
        stamp = self.headers["Webhook-Timestamp"]
        signed = f"{self.headers['Webhook-Id']}.{stamp}.".encode() + self.body
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers["Webhook-Signature"], f"v1={expected}")


@dataclass
class Receiver:
    """Answers each POST with ``status`` (after ``delay`` seconds; ``location`` for 3xx)."""

    status: int = 200
    delay: float = 0.0
    location: str | None = None
    #: Close each connection after answering, without saying so (as an idle timeout does).
    drop_connections: bool = False
    #: ``Webhook-Id`` values answered 500 whatever ``status`` says.
    fail_ids: set[str] = field(default_factory=set)
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:
                # The sender died mid-body (a worker killed with SIGKILL): as for any HTTP
                # server, no request arrived. Recorded, its cut body failed the signature
                # check of the kill tests (seen once in CI).
                self.close_connection = True
                return
            peer = (str(self.client_address[0]), int(self.client_address[1]))
            receiver.requests.append(Received(self.path, dict(self.headers.items()), body, peer))
            if receiver.delay:
                time.sleep(receiver.delay)
            failing = self.headers.get("Webhook-Id") in receiver.fail_ids
            status = 500 if failing else receiver.status
            self.send_response(status)
            if receiver.location:
                self.send_header("Location", receiver.location)
            reply = f"answer {status} " + "x" * 2000
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up (timeout test)
                self.wfile.write(reply.encode())
            self.close_connection = self.close_connection or receiver.drop_connections

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    server.daemon_threads = True
    rec.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


def hook_settings(settings: Settings, tmp_path: Path, **extra: Any) -> Settings:
    """Private targets allowed (the receiver is on 127.0.0.1), retries due at once."""
    return settings.model_copy(
        update={
            "webhooks_allow_private": True,
            "webhooks_timeout_seconds": 2.0,
            "jobs_backoff_base_seconds": 0.0,
            "jobs_backoff_max_seconds": 0.0,
            "huey_url": f"sqlite:///{tmp_path / 'huey.db'}",
            **extra,
        }
    )


@pytest.fixture
def webhook_settings(settings: Settings, tmp_path: Path) -> Settings:
    return hook_settings(settings, tmp_path)


@pytest.fixture
def hook_cli(webhook_settings: Settings, session_factory: Callable[[], Session]) -> Cli:
    return Cli(webhook_settings, session_factory)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "hook.secret"
    path.write_text(SECRET + "\n", encoding="utf-8")
    return path
