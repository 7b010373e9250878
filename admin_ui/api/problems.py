"""Every refusal of the API as ``application/problem+json`` (RFC 9457), never a traceback.

The body is RFC 9457's ``type``/``title``/``status``/``detail``/``instance`` plus our
``errors: [{field, value, message}]`` (the shape of the CLI's ``--json`` errors) and the
request id, so a user quoting an error gives support the log line too. ``type`` is
``about:blank``: the status says what kind of problem it is, ``title`` is its phrase.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Response, current_app, g, json, request
from werkzeug.exceptions import HTTPException

from lms_core.errors import ErrorList, FileProblem, LmsError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("lms.api")

#: Each domain error kind's status (lms_core.errors says which kinds there are).
STATUS_BY_KIND = {
    "invalid": 422,
    "usage": 400,
    "not_found": 404,
    "conflict": 409,
    "forbidden": 403,
    "locked": 423,
    "unauthorized": 401,
}

#: A value echoed back in ``errors`` is cut to this many characters (a hostile body can be
#: megabytes; the answer need not repeat it).
MAX_ECHO = 200


class ApiProblem(Exception):
    """A refusal raised by the API's own code: a status, a detail and the errors behind it."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        *,
        headers: dict[str, str] | None = None,
        members: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = (
            errors if errors is not None else [{"field": None, "value": None, "message": detail}]
        )
        self.headers = headers or {}
        #: Extension members of the problem (RFC 9457), e.g. the ``plan_id`` of a refused plan.
        self.members = members or {}


#: Fields whose value is a secret: an error names them but never echoes what was sent (an
#: answer may be logged or shown, and a mistyped password is often nearly the real one).
SECRET_FIELDS = frozenset({"password", "new_password", "token", "refresh_token", "totp"})


def _scrub(value: Any) -> Any:
    """A body (or part of one) with every secret field's value replaced by None."""
    if isinstance(value, dict):
        return {k: None if k in SECRET_FIELDS else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _echo(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_ECHO:
        return value[:MAX_ECHO] + "…"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    text = repr(value)
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "…"


def error_entry(field: str | None, value: Any, message: str) -> dict[str, Any]:
    """One error; a secret field's value is never echoed (None)."""
    leaf = (field or "").rsplit(".", 1)[-1]
    shown = None if leaf in SECRET_FIELDS else _echo(_scrub(value))
    return {"field": field, "value": shown, "message": message}


def problem_response(
    status: int,
    detail: str,
    errors: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
    members: dict[str, Any] | None = None,
) -> Response:
    body = {
        **(members or {}),
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
        "request_id": g.get("api_request_id"),
        "errors": errors,
    }
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="lms"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_api_problem(exc: ApiProblem) -> Response:
    return problem_response(exc.status, exc.detail, exc.errors, exc.headers, exc.members)


def _lms_entries(exc: LmsError) -> list[dict[str, Any]]:
    items = exc.errors if isinstance(exc, ErrorList) else [exc]
    entries = []
    for item in items:
        if isinstance(item, FileProblem):
            entry = error_entry(item.file, item.value, str(item))
        else:
            entry = error_entry(item.field, item.value, item.message)
        if item.hint is not None:
            entry["hint"] = item.hint.as_dict()
        entries.append(entry)
    return entries


def from_lms_error(exc: LmsError) -> Response:
    """A service's refusal: its kind gives the status, its field the error's field."""
    from lms_core.sqlite_writer import DatabaseBusy

    first = exc.errors[0] if isinstance(exc, ErrorList) and exc.errors else exc
    if isinstance(exc, DatabaseBusy):
        return problem_response(503, exc.message, _lms_entries(exc), {"Retry-After": "5"})
    status = STATUS_BY_KIND.get(first.kind, 422)
    return problem_response(status, str(exc), _lms_entries(exc))


def from_http_exception(exc: HTTPException) -> Response:
    """Werkzeug's own refusals (404, 405, 413, a CSRF 400) in the same shape."""
    status = exc.code or 500
    detail = exc.description or HTTPStatus(status).phrase
    headers = {}
    if status == 405 and exc.response is None:
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return problem_response(status, str(detail), [error_entry(None, None, str(detail))], headers)


def from_unexpected(exc: Exception) -> Response:
    """A bug: logged with its traceback and the request id; the client gets neither."""
    log.exception("api: unexpected error (request id %s)", g.get("api_request_id"), exc_info=exc)
    detail = "the server failed to answer this request; it is logged under this request id"
    return problem_response(500, detail, [error_entry(None, None, detail)])
