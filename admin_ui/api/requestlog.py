"""A request id on every API response and one JSON log line per request.

The id is the client's ``X-Request-ID`` when it is a sane token (a proxy may set one), a new
random one otherwise; it is echoed in the header and in every problem body, so a user's
error report leads to the log line (``lms.api.access``), which holds no body and no token.

The line is written where the server writes its access log (:func:`write_lines_to`):
gunicorn.conf.py hands it gunicorn's access-log handlers, ``lmsctl serve`` standard error.
Without a handler the logger's INFO lines were dropped (the root logger's level is WARNING).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Response, g, request

HEADER = "X-Request-ID"
_SANE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
access_log = logging.getLogger("lms.api.access")


def write_lines_to(handlers: list[logging.Handler]) -> None:
    """Send each request's line to ``handlers`` (the server's access log), as it is: one JSON
    object per line. Called again (a server reloading its logs), the handlers are replaced."""
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
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
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
        "user_id": getattr(caller, "user_id", None),
        "remote_addr": request.remote_addr,
    }
    access_log.info(json.dumps(line, separators=(",", ":")))
    from admin_ui.api.metrics import current_metrics

    return current_metrics().observe(response)
