"""lmsctl api: the JSON API's OpenAPI document, for client generators and contract tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmsctl.options import JsonOpt, group
from lmsctl.runtime import runtime

app = group("The JSON API: its OpenAPI document.")


@app.callback()
def api() -> None:
    """The JSON API: its OpenAPI document (a group, so that more commands can join it)."""


@app.command("openapi")
def openapi(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Write the document to this file (default: stdout).",
            metavar="FILE",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Print or write the OpenAPI 3.1 document the API serves at /api/v1/openapi.json.

    Built from the code (no server, no database): what a client generator or a contract test
    reads. With --json the document is printed compact on one line.

    Example: lmsctl api openapi -o openapi.json
    """
    import json

    from lmsctl.output import reporting, say

    with reporting(as_json=json_out):
        from admin_ui.app import EXTENSION, create_app
        from lms_core.formats.atomic import write_bytes

        flask_app = create_app(runtime(ctx).get_settings())
        try:
            with flask_app.test_request_context("/api/v1/openapi.json"):
                from admin_ui.api.spec import document

                doc = document()
        finally:
            flask_app.extensions[EXTENSION].dispose()
        text = json.dumps(doc, indent=None if json_out else 2, sort_keys=True) + "\n"
        if out is None:
            typer.echo(text, nl=False)
            return
        write_bytes(out, text.encode("utf-8"))
    say(f"OpenAPI document written to {out} ({len(doc['paths'])} paths)", as_json=json_out)
