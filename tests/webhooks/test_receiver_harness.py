"""The test receiver behaves as an HTTP server: a request cut off mid-body never arrived."""

from __future__ import annotations

import socket
import time

from tests.webhooks.conftest import Receiver


def _send(receiver: Receiver, body: bytes, length: int) -> None:
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
        head = (
            f"POST /hooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
            "Webhook-Id: x\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        if len(body) < length:
            return  # closed mid-body, as a killed sender's socket is
        sock.recv(4096)


def test_a_request_cut_off_mid_body_is_not_received(receiver: Receiver) -> None:
    _send(receiver, b'{"cut": ', 40)
    _send(receiver, b'{"whole": true}', 15)
    deadline = time.monotonic() + 5
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # the cut request's handler has had its chance to record it
    assert [r.body for r in receiver.requests] == [b'{"whole": true}']
