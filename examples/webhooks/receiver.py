#!/usr/bin/env python3
"""A minimal webhook receiver that checks the LMS toolkit's signatures (stdlib only).

    WEBHOOK_SECRET_FILE=hook.secret python examples/webhooks/receiver.py --port 8765

It listens on 127.0.0.1, and for each POST:

* refuses a malformed request with 400 (a missing or non-digit timestamp, a bad
  Content-Length, odd bytes in the headers): it never crashes on what a client sends;
* recomputes ``HMAC-SHA256(secret, f"{Webhook-Id}.{Webhook-Timestamp}.{raw body}")`` and
  compares it, in constant time, with the ``v1=`` value of ``Webhook-Signature`` (401 when it
  differs);
* rejects a timestamp more than 5 minutes away from now (401): a captured request replayed
  later is refused;
* drops a ``Webhook-Id`` it has already seen (200, not processed twice: a delivery may arrive
  more than once). The id is covered by the signature, so a captured request cannot be
  replayed within the 5 minutes under a new id.
* prints the event type and data, and answers 200.

Put it behind your TLS-terminating proxy in production; never skip the checks.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1_000_000


class Malformed(Exception):
    """The request cannot be checked at all: answered 400."""


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> str:
    """'' when the request is authentic and fresh, else why not (Malformed: not checkable)."""
    delivery = headers.get("Webhook-Id", "")
    stamp = headers.get("Webhook-Timestamp", "")
    given = headers.get("Webhook-Signature", "")
    # isascii(): str.isdigit() is True for '²' and other digits int() refuses.
    if not (stamp.isascii() and stamp.isdigit()):
        raise Malformed("missing or malformed Webhook-Timestamp")
    if not delivery:
        raise Malformed("missing Webhook-Id")
    if abs((now or time.time()) - int(stamp)) > TOLERANCE_SECONDS:
        return "timestamp too old (or in the future)"
    message = f"{delivery}.{stamp}.".encode("utf-8", "replace") + body
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest().encode()
    candidates = [part.strip()[3:] for part in given.split(",") if part.strip().startswith("v1=")]
    # Bytes, not str: compare_digest refuses a str with non-ASCII characters (TypeError).
    if not any(hmac.compare_digest(expected, c.encode("utf-8", "replace")) for c in candidates):
        return "signature mismatch"
    return ""


def make_handler(secret: str) -> type[BaseHTTPRequestHandler]:
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = self.headers.get("Content-Length") or "0"
            if not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY_BYTES:
                self._answer(400, "missing, malformed or too large Content-Length")
                return
            body = self.rfile.read(int(length))
            try:
                problem = verify(secret, dict(self.headers.items()), body)
            except Malformed as exc:
                self._answer(400, str(exc))
                return
            if problem:
                self._answer(401, problem)
                return
            delivery = self.headers.get("Webhook-Id", "")
            if delivery in seen:
                self._answer(200, "duplicate ignored")
                return
            try:
                event = json.loads(body)
                line = f"{event['type']} {delivery} {json.dumps(event['data'])}"
            except (ValueError, TypeError, KeyError) as exc:
                self._answer(400, f"not an event: {type(exc).__name__}")
                return
            seen.add(delivery)
            print(line, flush=True)
            self._answer(200, "ok")

        def _answer(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--secret-file", default=os.environ.get("WEBHOOK_SECRET_FILE"))
    args = parser.parse_args()
    if not args.secret_file:
        parser.error("give --secret-file or WEBHOOK_SECRET_FILE")
    secret = Path(args.secret_file).read_text(encoding="utf-8").strip()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(secret))
    print(f"listening on http://127.0.0.1:{server.server_port}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
