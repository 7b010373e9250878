"""examples/webhooks/receiver.py, run as a real process, accepts our deliveries and refuses
a tampered body, a wrong secret and an old timestamp."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lms_core.settings import Settings
from lms_core.webhooks.signing import headers_for
from tests.webhooks.conftest import SECRET, hook_settings
from tests.webhooks.helpers import Factory, add, deliveries, drain, new_user

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webhooks" / "receiver.py"


@pytest.fixture
def example(secret_file: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--port", "0", "--secret-file", str(secret_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("listening on "), first
    try:
        yield first.split()[-1] + "hooks", proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - 127.0.0.1
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_example_receiver_verifies_signatures(
    example: tuple[str, subprocess.Popen[str]],
    session_factory: Factory,
    settings: Settings,
    tmp_path: Path,
) -> None:
    url, proc = example
    allowed = hook_settings(settings, tmp_path)
    add(session_factory, allowed, url, ["user.created"])
    new_user(session_factory)
    [outcome] = drain(session_factory, allowed)
    assert outcome.status == "succeeded"
    [delivery] = deliveries(session_factory)
    assert (delivery.last_status_code, delivery.response_excerpt) == (200, "ok")
    assert proc.stdout is not None
    printed = proc.stdout.readline()
    assert printed.startswith(f"user.created {delivery.id} ") and "ada@school.example" in printed

    body = b'{"id":"d1","type":"user.created","data":{"email":"ada@school.example"}}'
    signed = headers_for(SECRET, "d1", body)
    assert _post(url, body, signed) == 200
    tampered = body.replace(b"ada@", b"eve@")
    assert _post(url, tampered, headers_for(SECRET, "d2", body)) == 401
    assert _post(url, body, headers_for("not-the-secret-at-all-0000", "d3", body)) == 401
    old = headers_for(SECRET, "d4", body, timestamp=int(time.time()) - 301)
    assert _post(url, body, old) == 401


def _raw_post(url: str, head: bytes, body: bytes) -> int:
    """POST with header bytes exactly as given (non-ASCII included); the status code."""
    port = int(url.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        length = f"Content-Length: {len(body)}\r\n".encode()
        conn.sendall(b"POST /hooks HTTP/1.1\r\nHost: x\r\n" + head + length + b"\r\n" + body)
        answer = conn.makefile("rb").readline()
    return int(answer.split()[1])


def test_example_receiver_refuses_a_new_id_and_odd_headers(
    example: tuple[str, subprocess.Popen[str]],
) -> None:
    url, proc = example
    body = b'{"id":"d1","type":"user.created","data":{}}'
    signed = headers_for(SECRET, "d1", body)
    assert _post(url, body, signed) == 200
    # A captured request replayed with a new id: the id is signed, so it is refused.
    assert _post(url, body, {**signed, "Webhook-Id": "d1-again"}) == 401
    stamp = signed["Webhook-Timestamp"].encode()
    good = b"Webhook-Id: d2\r\nWebhook-Timestamp: " + stamp + b"\r\n"
    odd_signature = good + "Webhook-Signature: v1=\u00e9\u00e9\r\n".encode("latin-1")
    assert _raw_post(url, odd_signature, body) == 401
    odd_stamp = "Webhook-Id: d3\r\nWebhook-Timestamp: \u00b2\r\nWebhook-Signature: v1=00\r\n"
    assert _raw_post(url, odd_stamp.encode("latin-1"), body) == 400
    assert _raw_post(url, b"Webhook-Id: d4\r\nWebhook-Signature: v1=00\r\n", body) == 400
    assert proc.poll() is None
    assert _post(url, body, headers_for(SECRET, "d5", body)) == 200
