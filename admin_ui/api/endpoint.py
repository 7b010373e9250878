"""``@endpoint(...)``: one decorator per API view for its caller check, its schema and its
place in the OpenAPI document; and :func:`commit`, the request's unit of work.

The order is the caller first (401/403 before a body is even looked at), then the query
and JSON body validated against the view's pydantic models (422), then the view. Views
call services with the caller's actor in the request's own session
(:func:`admin_ui.db.request_session`); a write ends with :func:`commit`, and a refusal
propagates to the blueprint's handler, the session being rolled back when the request ends.

spectree is given every view, so the OpenAPI document describes each from its models, but
the request is checked here (:func:`_checked`), with spectree's own helpers and the same
rules: spectree's runtime also made a dictionary of every header and every cookie of every
request, for models no view has; with the JSON of kept pages (``learner_views``), this took
a kept page's CPU from 0.685 to 0.643 ms (docs/api.md, Throughput).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeAlias, cast

from flask import Response as FlaskResponse
from flask import current_app, request
from flask.typing import RouteCallable
from pydantic import BaseModel, ValidationError
from spectree import Response
from spectree.utils import get_multidict_items, get_request_model_hints

from admin_ui.api.caller import PUBLIC, authorize
from admin_ui.api.spec import Problem, RequestInvalid, api_spec

#: What a view returns: its answer model, with the status when it is not the endpoint's own.
#: A file download (or a report, checked by its view) answers with Flask's own response.
Answer: TypeAlias = BaseModel | tuple[BaseModel, int] | FlaskResponse

#: The refusals any endpoint may answer (problem+json): the body's own (400, 413, 415, 422),
#: the caller's (401, 403), the state's (404, 409, 423 a locked account), the limits' (429).
_REFUSALS = {f"HTTP_{code}": Problem for code in (400, 401, 403, 404, 409, 413, 415, 422, 423, 429)}
#: Bodies of these types are forms, never a view's JSON (as spectree tells them apart).
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_NO_BODY = frozenset({"GET", "DELETE"})


def endpoint(
    *,
    scope: str,
    tag: str,
    ok: type[BaseModel] | None = None,
    status: int = 200,
    also: tuple[int, ...] = (),
    json: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    snapshot: bool = False,
) -> Callable[[Callable[..., Answer]], RouteCallable]:
    """Declare a view: ``scope`` (or PUBLIC/ANY), its answer model ``ok`` sent with ``status``
    (or with one of ``also``: an enrollment that already existed is 200, a new one 201).
    The view takes its checked query as ``query`` and its body as ``json`` when its
    signature names them (annotated with their models, which win over these arguments).

    ``snapshot``: a read (GET) that must run in a transaction: a report, whose sections
    stream from server-side cursors (psycopg2 allows them only in a transaction); other
    reads run each statement on its own, in autocommit (``admin_ui.db``)."""
    codes: dict[str, Any] = dict(_REFUSALS)
    for code in (status, *also):
        codes[f"HTTP_{code}"] = ok
    described = api_spec.validate(
        json=json,
        query=query,
        resp=Response(**codes),
        tags=[tag],
        security={} if scope == PUBLIC else None,
    )

    def decorate(view: Callable[..., Answer]) -> RouteCallable:
        hints = get_request_model_hints(view)
        if set(hints) - {"query", "json"}:
            raise TypeError(f"{view.__name__}: an API view takes a query and a JSON body only")
        checked = _checked(
            view,
            scope=scope,
            query=hints.get("query", query),
            json=hints.get("json", json),
            takes=frozenset(hints),
            ok=ok,
            status=status,
            also=frozenset(also),
        )
        # The document finds each view's models through the chain of ``__wrapped__``.
        checked.__wrapped__ = described(view)  # type: ignore[attr-defined]
        checked.api_scope = scope  # type: ignore[attr-defined]  # read by spec.document()
        checked.api_snapshot = snapshot  # type: ignore[attr-defined]  # admin_ui.db reads it
        return cast(RouteCallable, checked)

    return decorate


def _checked(
    view: Callable[..., Answer],
    *,
    scope: str,
    query: type[BaseModel] | None,
    json: type[BaseModel] | None,
    takes: frozenset[str],
    ok: type[BaseModel] | None,
    status: int,
    also: frozenset[int],
) -> Callable[..., Any]:
    """The view behind its checks: the caller, then the query and the body (422 with
    pydantic's errors, :class:`RequestInvalid`), and its answer made JSON. A model is
    checked whether or not the view ``takes`` it (as spectree did)."""

    @wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        authorize(scope)
        checked: dict[str, Any] = {"query": None, "json": None}
        try:
            if query is not None:
                checked["query"] = query.model_validate(get_multidict_items(request.args, query))
            if (
                json is not None
                and request.method not in _NO_BODY
                and request.mimetype not in _FORM_TYPES
            ):
                checked["json"] = json.model_validate(request.get_json(silent=True) or {})
        except ValidationError as error:
            raise RequestInvalid(
                [dict(e) for e in error.errors(include_url=False, include_context=False)]
            ) from None
        kwargs.update((name, checked[name]) for name in takes)
        return _answer(view(*args, **kwargs), ok, status, also)

    return run


def _answer(
    result: Answer, ok: type[BaseModel] | None, status: int, also: frozenset[int]
) -> FlaskResponse:
    """A view's answer as a response: Flask's own as it is; its model (with its status, or
    the endpoint's) as JSON. Every field of a model was checked when it was made. A model
    of another class, or a status the endpoint does not declare, is a bug in the view (a
    500), as the OpenAPI document would not describe the answer."""
    if isinstance(result, FlaskResponse):
        return result
    body, code = result if isinstance(result, tuple) else (result, status)
    if ok is not None and not isinstance(body, ok):
        raise TypeError(f"the view answered {type(body).__name__}, not its {ok.__name__}")
    if code != status and code not in also:
        raise TypeError(f"the view answered {code}, which its endpoint does not declare")
    return json_response(body.model_dump_json().encode(), code)


def json_response(body: bytes, status: int = 200) -> FlaskResponse:
    """JSON already made (an answer a view keeps as it is sent) as a response."""
    return current_app.response_class(body, status=status, mimetype="application/json")


def commit() -> None:
    """Commit this request's unit of work (the services only flushed)."""
    from admin_ui.db import request_session

    request_session().commit()
