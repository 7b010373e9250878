"""The OpenAPI 3.1 document, generated from the views and their pydantic models (spectree).

Why spectree: it is pydantic-first (our field specs are pydantic models), decorates plain
Flask views on a plain Blueprint (no app subclass, unlike apiflask's ``APIFlask``), writes
OpenAPI 3.1, and is maintained (3.0 in 2026) and works with Flask 3 and pydantic 2.
flask-smorest is marshmallow-only; apiflask's pydantic support needs its own app class.
Its models describe each view; the checks themselves run in :mod:`admin_ui.api.endpoint`,
with spectree's helpers: a refused query or body raises :class:`RequestInvalid`, which the
blueprint answers as problem+json like every refusal.
Its documentation pages load their scripts from a CDN, so none is registered.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from spectree import SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData

#: The API's version, in its path and in the document.
VERSION = "1"


class RequestInvalid(Exception):
    """A request whose query or JSON body does not fit its model (pydantic's errors)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("the request does not fit its schema")
        self.errors = errors


api_spec = SpecTree(
    "flask",
    mode="strict",
    title="LMS API",
    version=VERSION,
    description="The learners' and integrations' JSON API. Errors are application/problem+json.",
    path="api/v1/_spectree",
    page_templates={},
    validation_error_status=422,
    # Plain model names in the document (spectree's default adds a hash of the module).
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    security_schemes=[
        SecurityScheme(
            name="bearer",
            data=SecuritySchemeData(
                type=SecureType.HTTP,
                scheme="bearer",
                description="an access token from /auth/login, or a personal access token",
            ),
        )
    ],
    security={"bearer": []},
)


class Problem(BaseModel):
    """An RFC 9457 problem with our errors list."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None = None
    errors: list[dict[str, Any]]


def document() -> dict[str, Any]:
    """The OpenAPI document of the app serving this request.

    spectree writes every answer as ``application/json``; a refusal is sent as
    ``application/problem+json``, so the document says so (a client or a schema checker
    comparing content types finds what is really sent).
    """
    import copy

    spec: dict[str, Any] = copy.deepcopy(api_spec.spec)
    _add_scopes(spec)
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for code, answer in operation.get("responses", {}).items():
                content = answer.get("content", {})
                if code.startswith(("4", "5")) and "application/json" in content:
                    answer["content"] = {"application/problem+json": content["application/json"]}
    return spec


#: The body of an upload (``multipart/form-data``), which spectree does not describe: the
#: view reads the parts itself, checking each file as it streams in.
UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "text": {"type": "string", "description": "the written answer"},
                    "file": {
                        "type": "array",
                        "maxItems": 20,
                        "items": {"type": "string", "format": "binary"},
                        "description": "the files (up to 20; size and type checked)",
                    },
                },
            }
        }
    },
}


def _add_scopes(spec: dict[str, Any]) -> None:
    """Each operation's scope as ``x-scope`` (``public`` and ``any`` included), read from the
    view the app routes to, so a client sees which scope a personal token needs; and the
    multipart body of an upload endpoint."""
    import copy
    import re

    from flask import current_app

    from admin_ui.api.blueprint import UPLOAD_ENDPOINTS

    for rule in current_app.url_map.iter_rules():
        view = current_app.view_functions.get(rule.endpoint)
        scope = getattr(view, "api_scope", None)
        if scope is None:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            operation = spec.get("paths", {}).get(path, {}).get(method.lower())
            if operation is not None:
                operation["x-scope"] = scope
                if rule.endpoint in UPLOAD_ENDPOINTS and method != "HEAD":
                    operation["requestBody"] = copy.deepcopy(UPLOAD_BODY)
