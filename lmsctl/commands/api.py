"""lmsctl api: the JSON API's OpenAPI document, for client generators and contract tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lmsctl.options import JsonOpt, group
from lmsctl.runtime import runtime

app = group("The JSON API: its OpenAPI document and a Postman collection.")


@app.callback()
def api() -> None:
    """The JSON API: its OpenAPI document and a Postman collection made from it."""


def _document(ctx: typer.Context) -> dict[str, Any]:
    """The document the API serves, built by the app without a server or a database."""
    from admin_ui.app import EXTENSION, create_app

    flask_app = create_app(runtime(ctx).get_settings())
    try:
        with flask_app.test_request_context("/api/v1/openapi.json"):
            from admin_ui.api.spec import document

            return document()
    finally:
        flask_app.extensions[EXTENSION].dispose()


def _write(out: Path | None, data: dict[str, Any], *, compact: bool) -> bool:
    """Print ``data`` (stdout) or write it to ``out`` atomically; True when written."""
    import json

    from lms_core.formats.atomic import write_bytes

    text = json.dumps(data, indent=None if compact else 2, sort_keys=True, ensure_ascii=False)
    if out is None:
        typer.echo(text + "\n", nl=False)
        return False
    write_bytes(out, (text + "\n").encode("utf-8"))
    return True


_Out = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Write to this file (default: stdout).", metavar="FILE"),
]


@app.command("openapi")
def openapi(
    ctx: typer.Context,
    out: _Out = None,
    json_out: JsonOpt = False,
) -> None:
    """Print or write the OpenAPI 3.1 document the API serves at /api/v1/openapi.json.

    Built from the code (no server, no database): what a client generator or a contract test
    reads. With --json the document is printed compact on one line.

    Example: lmsctl api openapi -o openapi.json
    """
    from lmsctl.output import reporting, say

    with reporting(as_json=json_out):
        doc = _document(ctx)
        if not _write(out, doc, compact=json_out):
            return
    say(f"OpenAPI document written to {out} ({len(doc['paths'])} paths)", as_json=json_out)


@app.command("postman")
def postman(
    ctx: typer.Context,
    out: _Out = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="The collection's {{baseUrl}} (default: LMS_PUBLIC_BASE_URL + /api/v1).",
            metavar="URL",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Print or write a Postman collection (v2.1) of every API operation.

    Made from the OpenAPI document: a folder per tag, one request per operation with an
    example JSON body from its schema, bearer auth from the {{token}} variable (left empty:
    set it in Postman) and the server as {{baseUrl}}. With --json it is printed compact.

    Example: lmsctl api postman -o lms-api.postman_collection.json
    """
    from lmsctl.output import reporting, say

    with reporting(as_json=json_out):
        from admin_ui.api.blueprint import PREFIX
        from admin_ui.api.postman import collection

        settings = runtime(ctx).get_settings()
        url = base_url or settings.public_base_url.rstrip("/") + PREFIX
        made = collection(_document(ctx), base_url=url, prefix=PREFIX)
        if not _write(out, made, compact=json_out):
            return
    count = sum(len(folder["item"]) for folder in made["item"])
    say(f"Postman collection written to {out} ({count} requests)", as_json=json_out)
