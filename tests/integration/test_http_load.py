"""bench/support/http_load.py: a load's rate counts the answers read within its seconds; the
answers still in flight at the end are waited for and counted as late (a short slice of load
is not credited with the time its last answers took)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Each answer takes this long: two connections for 0.8 s read two answers in time (at
#: 0.5 s), and the two they asked next come back late, at 1 s.
DELAY = 0.5
SECONDS = 0.8


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(DELAY)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")  # as gunicorn's sync workers
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def slow_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_answers_read_after_the_load_are_late_not_counted(slow_port: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from support.http_load import Target, run_load
    finally:
        sys.path.remove(str(ROOT / "bench"))
    started = time.perf_counter()
    result = run_load(slow_port, Target("slow", "GET", ["/"], [None]), 2, SECONDS)
    assert time.perf_counter() - started >= 2 * DELAY  # the late answers were waited for
    assert (result.requests, result.late, dict(result.errors)) == (2, 2, {})
    assert result.seconds == SECONDS
    assert result.rate == 2 / SECONDS
    assert len(result.latencies) == 4  # the late ones' latencies are kept
