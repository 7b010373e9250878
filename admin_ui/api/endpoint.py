"""``@endpoint(...)``: one decorator per API view for its caller check, its schema and its
place in the OpenAPI document; and :func:`commit`, the request's unit of work.

The order is the caller first (401/403 before a body is even looked at), then spectree's
validation of the query and JSON body against the view's pydantic models (422), then the
view. Views call services with the caller's actor in the request's own session
(:func:`admin_ui.db.request_session`); a write ends with :func:`commit`, and a refusal
propagates to the blueprint's handler, the session being rolled back when the request ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias, cast

from flask import Response as FlaskResponse
from flask.typing import RouteCallable
from pydantic import BaseModel
from spectree import Response

from admin_ui.api.caller import PUBLIC, guarded
from admin_ui.api.spec import Problem, api_spec

#: What a view returns: its answer model, with the status when it is not the endpoint's own.
#: (Not Flask's ``ResponseReturnValue``: spectree evaluates a view's annotations, and that
#: alias names types its module does not import.)
#: A file download answers with Flask's own response.
Answer: TypeAlias = BaseModel | tuple[BaseModel, int] | FlaskResponse

#: The refusals any endpoint may answer (problem+json): the body's own (400, 413, 415, 422),
#: the caller's (401, 403), the state's (404, 409, 423 a locked account), the limits' (429).
_REFUSALS = {f"HTTP_{code}": Problem for code in (400, 401, 403, 404, 409, 413, 415, 422, 423, 429)}


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

    ``snapshot``: a read (GET) that must run in a transaction: a report, whose sections
    stream from server-side cursors (psycopg2 allows them only in a transaction); other
    reads run each statement on its own, in autocommit (``admin_ui.db``)."""
    codes: dict[str, Any] = dict(_REFUSALS)
    for code in (status, *also):
        codes[f"HTTP_{code}"] = ok
    validate = api_spec.validate(
        json=json,
        query=query,
        resp=Response(**codes),
        tags=[tag],
        security={} if scope == PUBLIC else None,
        skip_validation=False,
    )

    def decorate(view: Callable[..., Answer]) -> RouteCallable:
        checked = guarded(scope)(validate(view))
        checked.api_scope = scope  # read by spec.document()
        checked.api_snapshot = snapshot  # read by admin_ui.db.request_session()
        return cast(RouteCallable, checked)

    return decorate


def commit() -> None:
    """Commit this request's unit of work (the services only flushed)."""
    from admin_ui.db import request_session

    request_session().commit()
