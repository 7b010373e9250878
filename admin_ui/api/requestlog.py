"""A request id on every API response and one JSON log line per request.

The id is the client's ``X-Request-ID`` when it is a sane token (a proxy may set one), a new
random one otherwise; it is echoed in the header and in every problem body, so a user's
error report leads to the log line (``lms.api.access``), which holds no body and no token.

The line is written where the server writes its access log (:func:`write_lines_to`):
gunicorn.conf.py hands it gunicorn's access-log handlers, ``lmsctl serve`` standard error.
Without a handler the logger's INFO lines were dropped (the root logger's level is WARNING).
It says what gunicorn's access line says but the referrer and the HTTP version (time,
address, method, path, query with any token link redacted, status, the answer's
``Content-Length``, duration, user agent), and who called, so gunicorn writes none for a
request whose line the API handed to a handler (:data:`LOGGED` in the WSGI environ): one line
per request, not two (gunicorn's access logging took 7% of a worker's CPU under load,
docs/api.md, Throughput).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from flask import Response, g, request

from admin_ui.public.redact import redact

HEADER = "X-Request-ID"
#: Set in the WSGI environ once the request's line is written: gunicorn writes no other.
LOGGED = "lms.api.logged"
_SANE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
access_log = logging.getLogger("lms.api.access")


def write_lines_to(handlers: list[logging.Handler]) -> None:
    """Send each request's line to ``handlers`` (the server's access log), as it is: one JSON
    object per line. Called again (a server reloading its logs), the handlers are replaced.
    None given (an access log configured to pass its lines up to the root logger): the lines
    go up too, as gunicorn's would have."""
    access_log.setLevel(logging.INFO)
    access_log.propagate = not handlers
    for old in list(access_log.handlers):
        access_log.removeHandler(old)
    for handler in handlers:
        access_log.addHandler(handler)


def start_request() -> None:
    """Stamp the request (once: the first of the blueprint's hooks to run does it)."""
    if g.get("api_request_id"):
        return
    given = request.headers.get(HEADER, "")
    g.api_request_id = given if _SANE.match(given) else uuid.uuid4().hex
    g.api_started = time.perf_counter()


def finish_request(response: Response) -> Response:
    request_id = g.get("api_request_id") or uuid.uuid4().hex
    response.headers[HEADER] = request_id
    started = g.get("api_started")
    caller = g.get("api_caller")
    line = {
        "request_id": request_id,
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "method": request.method,
        "path": request.path,
        "query": redact(request.query_string.decode("latin-1")) or None,
        "status": response.status_code,
        "bytes": response.content_length,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
        "user_id": getattr(caller, "user_id", None),
        "remote_addr": request.remote_addr,
        "user_agent": request.headers.get("User-Agent"),
    }
    if access_log.isEnabledFor(logging.INFO) and access_log.hasHandlers():
        # The record made here, not by ``access_log.info``: that walks the stack for the
        # caller's file and line (``findCaller``), which the line never shows.
        text = json.dumps(line, separators=(",", ":"))
        access_log.handle(logging.LogRecord(access_log.name, logging.INFO, "", 0, text, None, None))
        request.environ[LOGGED] = True  # only a line some handler got replaces gunicorn's
    from admin_ui.api.metrics import current_metrics

    return current_metrics().observe(response)
