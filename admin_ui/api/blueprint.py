"""The ``/api/v1`` blueprint and what applies to every one of its requests.

Each request gets a request id and one log line (:mod:`admin_ui.api.requestlog`), a small
body limit, a JSON body that parses to an object (or a 400/415), the CSRF check when it
relies on the session cookie (a bearer token is not sent by a browser on its own, so a
token request needs none), and any refusal as problem+json (:mod:`admin_ui.api.problems`).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from admin_ui.api import problems, requestlog
from admin_ui.api.caller import bearer_token
from admin_ui.api.spec import RequestInvalid
from lms_core.errors import LmsError

PREFIX = "/api/v1"
#: The largest JSON body (bytes): a bulk enrollment of a few thousand e-mails fits.
MAX_JSON_BYTES = 1024 * 1024
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

api = Blueprint("api", __name__, url_prefix=PREFIX)


#: The largest row id (a 32-bit integer column): a larger id in a path names no row, and
#: PostgreSQL would refuse it as out of range (a 500) rather than find nothing.
MAX_ID = 2**31 - 1


@api.url_value_preprocessor
def _limit_body(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Before every before_request function, as the CSRF check is what first reads a body.
    requestlog.start_request()
    # Every body is small until the caller is known: the upload view raises its own limit
    # once its caller is authorized (an anonymous multipart body is never read in full).
    request.max_content_length = MAX_JSON_BYTES
    for name, value in (values or {}).items():
        if isinstance(value, int) and value > MAX_ID:
            detail = f"no row has the id {value}"
            raise problems.ApiProblem(404, detail, [problems.error_entry(name, value, detail)])


def _check_csrf() -> None:
    """A cookie request's CSRF token, from its header only. Flask-WTF's ``protect()`` looks
    in the form first, which parses a whole multipart upload before the caller is known; the
    API's clients send the token as ``X-CSRFToken``. The referrer check on HTTPS is kept."""
    from flask import g
    from flask_wtf.csrf import CSRFError, same_origin, validate_csrf
    from wtforms.validators import ValidationError as FormInvalid  # type: ignore[import-untyped]

    token = next(
        (
            request.headers[h]
            for h in current_app.config["WTF_CSRF_HEADERS"]
            if h in request.headers
        ),
        None,
    )
    try:
        validate_csrf(token)
    except FormInvalid as exc:
        raise CSRFError(str(exc.args[0])) from None
    if request.is_secure and current_app.config["WTF_CSRF_SSL_STRICT"]:
        if not request.referrer:
            raise CSRFError("The referrer header is missing.")
        if not same_origin(request.referrer, f"https://{request.host}/"):
            raise CSRFError("The referrer does not match the host.")
    g.csrf_valid = True


def _needs_csrf() -> bool:
    """An unsafe request that carries the session cookie and no bearer token."""
    cookie = current_app.config.get("SESSION_COOKIE_NAME", "session")
    return request.method in UNSAFE and bearer_token() is None and cookie in request.cookies


def _refuse_nul() -> None:
    """A NUL character in the path, the query or the body: no text field holds one, and
    PostgreSQL refuses it in any string (which would otherwise surface as a 500)."""
    where = None
    if "\x00" in request.path:
        where = "path"
    elif any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        where = "query"
    elif (
        request.method in UNSAFE
        and request.mimetype != "multipart/form-data"  # a file may hold any bytes
        and rb"\u0000" in request.get_data(cache=True)
    ):
        where = "body"
    if where is not None:
        detail = f"the {where} holds a NUL character"
        raise problems.ApiProblem(400, detail, [problems.error_entry(where, None, detail)])


#: The endpoints that take ``multipart/form-data`` (an upload); every other takes JSON.
UPLOAD_ENDPOINTS = frozenset({"api.hand_in", "api.import_plan"})
_FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def _unsupported(detail: str) -> problems.ApiProblem:
    return problems.ApiProblem(
        415, detail, [problems.error_entry("Content-Type", request.mimetype, detail)]
    )


def _check_json_body() -> None:
    if request.method not in UNSAFE or request.endpoint in UPLOAD_ENDPOINTS:
        return
    if request.mimetype in _FORM_TYPES:
        # Even empty: a form type would leave the view without its JSON body.
        raise _unsupported("send the body as application/json")
    data = request.get_data(cache=True)
    if not data:
        return
    if not request.is_json:  # application/json or application/*+json: what the view reads
        raise _unsupported("send the body as application/json")
    # Parsed through Flask, which keeps the result: the view's body is this one, not a second
    # parse. Only a body that fails is parsed again, for the parser's message.
    try:
        parsed = request.get_json(silent=True)
        if parsed is None:
            parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        detail = f"the body is not valid JSON: {why}"
        raise problems.ApiProblem(400, detail, [problems.error_entry(None, None, detail)]) from None
    if not isinstance(parsed, dict):
        detail = "the body must be a JSON object"
        raise problems.ApiProblem(
            422, detail, [problems.error_entry(None, type(parsed).__name__, detail)]
        )


def _allowed_methods() -> list[str]:
    """The methods this path really has (leaving out the catch-all, which takes every one)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ALL_METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "api.unknown":
            allowed.append(method)
    return allowed


@api.before_request
def _before() -> ResponseReturnValue | None:
    requestlog.start_request()
    if request.method == "OPTIONS":
        # Flask's automatic answer would list the catch-all's methods too.
        allowed = _allowed_methods()
        if not allowed:
            raise NotFound(f"no API endpoint {request.path}")
        return current_app.response_class(status=204, headers={"Allow": ", ".join(allowed)})
    if _needs_csrf():
        _check_csrf()
    _refuse_nul()
    _check_json_body()
    return None


api.after_request(requestlog.finish_request)


@api.errorhandler(problems.ApiProblem)
def _api_problem(exc: problems.ApiProblem) -> ResponseReturnValue:
    return problems.from_api_problem(exc)


@api.errorhandler(RequestInvalid)
def _invalid(exc: RequestInvalid) -> ResponseReturnValue:
    errors = [
        problems.error_entry(
            ".".join(str(part) for part in err.get("loc", ())) or None,
            err.get("input"),
            str(err.get("msg", "invalid")),
        )
        for err in exc.errors
    ]
    return problems.problem_response(422, "the request does not fit its schema", errors)


@api.errorhandler(LmsError)
def _refused(exc: LmsError) -> ResponseReturnValue:
    return problems.from_lms_error(exc)


@api.errorhandler(HTTPException)
def _http(exc: HTTPException) -> ResponseReturnValue:
    return problems.from_http_exception(exc)


@api.errorhandler(Exception)
def _bug(exc: Exception) -> ResponseReturnValue:
    return problems.from_unexpected(exc)


@api.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 document, built from the registered views."""
    from admin_ui.api.spec import document

    return current_app.json.response(document())


@api.route("/<path:_rest>", methods=ALL_METHODS)
def unknown(_rest: str) -> ResponseReturnValue:
    """Any other path under the API: a problem+json 404, not the back office's HTML page;
    a path that exists with other methods: 405 with ``Allow`` (this catch-all takes every
    method, so Werkzeug's own 405 never happens under the API)."""
    allowed = _allowed_methods()
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    raise NotFound(f"no API endpoint {request.path}")
