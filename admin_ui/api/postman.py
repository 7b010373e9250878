"""A Postman Collection (v2.1) made from the OpenAPI document: ``lmsctl api postman``.

One folder per tag, one request per operation, named by its summary. The server and the
token are the collection's variables ``{{baseUrl}}`` and ``{{token}}`` (the token empty: a
collection is shared, a token is not), with bearer auth on the collection and ``noauth`` on
the public operations. A JSON body is an example built from its schema (its defaults, enum
choices and bounds; placeholders otherwise), so a request can be sent after filling in values.
A pure function of the document: no app, no database.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
_METHODS = ("get", "post", "put", "patch", "delete")
#: Example strings by the format or the name of a field, so a body reads like a real one.
_BY_FORMAT = {
    "email": "learner@example.org",
    "date-time": "2026-01-31T09:00:00Z",
    "date": "2026-01-31",
}
_BY_NAME = {
    "email": "learner@example.org",
    "emails": "learner@example.org",
    "password": "{{password}}",
    "new_password": "{{password}}",
    "refresh_token": "{{refreshToken}}",
    "token": "",
    "course_slug": "demo-python-basics",
    "full_name": "Ada Lovelace",
    "role": "student",
    "reason": "issued in error",
}
#: Path variables' values: rows ``lmsctl demo seed`` makes (tests/api/test_postman.py checks
#: them against lms_core.ops.demo), so a request on the demo school works as exported. An
#: attempt's id depends on the database: left empty.
DEMO_PATH_VALUES = {
    "slug": "demo-python-basics",
    "lesson": "checkpoint",
    "number": "LMS-DEM0-0001-3",
    "email": "student@demo.example.org",
}
#: The demo lesson that takes a submission (the quiz is "checkpoint").
DEMO_ASSIGNMENT_LESSON = "homework"


def example(schema: dict[str, Any], doc: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A value that fits ``schema``: its default or first enum choice, else one by type."""
    if depth > 8:
        return None
    if "$ref" in schema:
        target = doc["components"]["schemas"][str(schema["$ref"]).rsplit("/", 1)[-1]]
        return example(target, doc, name, depth + 1)
    if schema.get("default") is not None:
        return schema["default"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [p for p in schema[key] if p.get("type") != "null"] or schema[key]
            return example(parts[0], doc, name, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            prop: example(spec, doc, prop, depth + 1)
            for prop, spec in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [example(schema.get("items", {}), doc, name, depth + 1)]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "string":
        if name in _BY_NAME:
            return _BY_NAME[name]
        if schema.get("format") in _BY_FORMAT:
            return _BY_FORMAT[schema["format"]]
        return name or "text"
    return None


def _path_value(name: str, short: str) -> str:
    """The demo's value for a path variable (the assignment lesson where a submission goes)."""
    if name == "lesson" and short.endswith("/{lesson}/submission"):
        return DEMO_ASSIGNMENT_LESSON
    return DEMO_PATH_VALUES.get(name, "")


def _url(path: str, operation: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Postman's URL object: ``{{baseUrl}}/courses/:slug``, the query parameters listed
    (the optional ones disabled), path variables named."""
    short = path.removeprefix(prefix)
    segments = [
        ":" + s[1:-1] if s.startswith("{") and s.endswith("}") else s
        for s in short.strip("/").split("/")
    ]
    params = operation.get("parameters", [])
    query = [
        {
            "key": p["name"],
            "value": ""
            if p.get("schema", {}).get("default") is None
            else str(p["schema"]["default"]),
            "disabled": not p.get("required", False),
            "description": p.get("description") or "",
        }
        for p in params
        if p["in"] == "query"
    ]
    variables = [
        {
            "key": p["name"],
            "value": _path_value(p["name"], short),
            "description": p.get("description") or "",
        }
        for p in params
        if p["in"] == "path"
    ]
    enabled = [q for q in query if not q["disabled"]]
    raw = "{{baseUrl}}/" + "/".join(segments)
    if enabled:
        raw += "?" + "&".join(f"{q['key']}={q['value']}" for q in enabled)
    url: dict[str, Any] = {"raw": raw, "host": ["{{baseUrl}}"], "path": segments}
    if query:
        url["query"] = query
    if variables:
        url["variable"] = variables
    return url


def _request(
    path: str, method: str, operation: dict[str, Any], doc: dict[str, Any], prefix: str
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [{"key": "Accept", "value": "application/json"}],
        "url": _url(path, operation, prefix),
        "description": "\n\n".join(
            part
            for part in (
                operation.get("summary", ""),
                operation.get("description", ""),
                f"Scope: `{operation.get('x-scope', '')}`",
            )
            if part
        ),
    }
    if operation.get("security") == []:
        request["auth"] = {"type": "noauth"}
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = example(content["application/json"].get("schema", {}), doc)
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(body, indent=2, ensure_ascii=False),
            "options": {"raw": {"language": "json"}},
        }
    elif "multipart/form-data" in content:
        # An upload: a text part and a file part (Postman asks for the file to send).
        request["body"] = {
            "mode": "formdata",
            "formdata": [
                {"key": "text", "value": "My answer", "type": "text"},
                {"key": "file", "type": "file", "src": []},
            ],
        }
    return request


def collection(doc: dict[str, Any], *, base_url: str, prefix: str = "/api/v1") -> dict[str, Any]:
    """The collection for ``doc``: a folder per tag (in the document's order), each operation
    once, ``{{baseUrl}}`` set to ``base_url`` and ``{{token}}`` left empty."""
    info = doc.get("info", {})
    folders: dict[str, list[dict[str, Any]]] = {t["name"]: [] for t in doc.get("tags", [])}
    for path in sorted(doc.get("paths", {})):
        for method in _METHODS:
            operation = doc["paths"][path].get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            short = path.removeprefix(prefix)
            folders.setdefault(tag, []).append(
                {
                    "name": f"{method.upper()} {short}",
                    "request": _request(path, method, operation, doc, prefix),
                    "response": [],
                }
            )
    return {
        "info": {
            "name": f"{info.get('title', 'API')} {info.get('version', '')}".strip(),
            "description": f"{info.get('description', '')}\n\nGenerated from the OpenAPI "
            "document (lmsctl api postman). Set {{token}} to an access token from "
            "POST /auth/login or a personal access token (lmsctl tokens create).",
            "schema": SCHEMA_URL,
        },
        "item": [{"name": tag, "item": items} for tag, items in folders.items() if items],
        "auth": {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{token}}", "type": "string"}],
        },
        "variable": [
            {"key": "baseUrl", "value": base_url, "type": "string"},
            {"key": "token", "value": "", "type": "string"},
            # Used by the login and password examples; empty, to be filled in by the user.
            {"key": "password", "value": "", "type": "string"},
            {"key": "refreshToken", "value": "", "type": "string"},
        ],
    }
