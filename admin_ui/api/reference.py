"""The API's reference page (``GET /api/v1/docs``): the OpenAPI document as one HTML page.

Rendered on the server from :func:`admin_ui.api.spec.document` by a Jinja template with the
site's own stylesheet: no script, no CDN (spectree's own pages load Swagger UI and ReDoc from
one, so they stay off). It is public, as the document is: it shows nothing the document does
not, and a reader who has no token yet needs it most.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape

from admin_ui.api.blueprint import PREFIX, api

#: The HTTP methods in the order the page lists an operation's (the usual reading order).
_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Field:
    """A parameter or a schema's property, as a row of a table."""

    name: str
    type: str
    required: bool
    where: str = ""
    notes: str = ""


@dataclass
class Operation:
    method: str
    path: str
    anchor: str
    summary: str
    description: str
    scope: str
    parameters: list[Field]
    body: list[tuple[str, str]]  # (media type, schema label)
    #: (status, description, [(media type, schema label)])
    responses: list[tuple[str, str, list[tuple[str, str]]]]


@dataclass
class Schema:
    name: str
    description: str
    fields: list[Field] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)


def type_label(schema: dict[str, Any]) -> str:
    """A short, readable type: ``string``, ``integer (1-100)``, ``Course``, ``Course[]``,
    ``string | null``; a ``$ref`` is named by its schema (a link on the page)."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(type_label(part) for part in schema[key])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind == "array":
        return type_label(schema.get("items", {})) + "[]"
    label = str(kind)
    if "format" in schema:
        label += f" ({schema['format']})"
    if "enum" in schema:
        label += ": " + ", ".join(str(v) for v in schema["enum"])
    return label


def _limits(schema: dict[str, Any]) -> str:
    """Bounds and default of a field, gathered from it and from its ``anyOf`` parts."""
    notes = []
    parts = [schema, *schema.get("anyOf", [])]
    for part in parts:
        for key, text in (
            ("minimum", "min"),
            ("maximum", "max"),
            ("minLength", "min length"),
            ("maxLength", "max length"),
            ("maxItems", "max items"),
        ):
            if key in part:
                notes.append(f"{text} {part[key]}")
    if schema.get("default") is not None:
        notes.append(f"default {schema['default']}")
    if schema.get("description"):
        notes.append(str(schema["description"]))
    return "; ".join(notes)


def _content_labels(content: dict[str, Any]) -> list[tuple[str, str]]:
    return [(media, type_label(body.get("schema", {}))) for media, body in content.items()]


def operations(doc: dict[str, Any]) -> dict[str, list[Operation]]:
    """Every operation of the document, by tag (in the document's tag order), by path."""
    tags = [t["name"] for t in doc.get("tags", [])]
    grouped: dict[str, list[Operation]] = {tag: [] for tag in tags}
    for path in sorted(doc.get("paths", {})):
        entry = doc["paths"][path]
        for method in _METHODS:
            op = entry.get(method)
            if op is None:
                continue
            params = [
                Field(
                    name=p["name"],
                    type=type_label(p.get("schema", {})),
                    required=bool(p.get("required")),
                    where=p["in"],
                    notes=_limits(p.get("schema", {})),
                )
                for p in op.get("parameters", [])
            ]
            body = _content_labels(op.get("requestBody", {}).get("content", {}))
            responses = []
            for status in sorted(op.get("responses", {})):
                answer = op["responses"][status]
                labels = _content_labels(answer.get("content", {}))
                responses.append((status, str(answer.get("description", "")), labels))
            short = path.removeprefix(PREFIX)
            grouped.setdefault((op.get("tags") or ["other"])[0], []).append(
                Operation(
                    method=method.upper(),
                    path=short,
                    anchor=f"{method}-{short.strip('/').replace('/', '-')}".replace(
                        "{", ""
                    ).replace("}", ""),
                    summary=str(op.get("summary", "")),
                    description=str(op.get("description", "")),
                    scope=str(op.get("x-scope", "")),
                    parameters=params,
                    body=body,
                    responses=responses,
                )
            )
    return {tag: ops for tag, ops in grouped.items() if ops}


def schemas(doc: dict[str, Any]) -> list[Schema]:
    """The document's named schemas with their properties (required ones first flagged)."""
    found = []
    for name, schema in sorted(doc.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        fields = [
            Field(
                name=prop,
                type=type_label(spec),
                required=prop in required,
                notes=_limits(spec),
            )
            for prop, spec in schema.get("properties", {}).items()
        ]
        found.append(
            Schema(
                name=name,
                description=str(schema.get("description", "")),
                fields=fields,
                choices=[str(v) for v in schema.get("enum", [])],
            )
        )
    return found


def inline_code(text: str) -> Markup:
    """The docstrings' reStructuredText literals (````X-CSRFToken````) as ``<code>``, the
    rest escaped (Markup's own ``format`` escapes each literal too)."""
    out = Markup("")
    for i, part in enumerate(text.split("``")):
        out += Markup("<code>{}</code>").format(part) if i % 2 else escape(part)
    return out


@api.get("/docs")
def reference() -> ResponseReturnValue:
    """The API reference as HTML, from the document this app serves (public, as it is)."""
    from admin_ui.api.spec import document

    doc = document()
    schema_names = {s for s in doc.get("components", {}).get("schemas", {})}
    return render_template(
        "api/reference.html",
        info=doc.get("info", {}),
        version=doc.get("openapi", ""),
        prefix=PREFIX,
        groups=operations(doc),
        schemas=schemas(doc),
        schema_names=schema_names,
        code=inline_code,
    )
