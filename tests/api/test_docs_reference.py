"""docs/api.md's endpoint reference is generated from the OpenAPI document (this test prints
the table to paste when it is behind)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from tests.api.conftest import API

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def reference_table(doc: dict[str, Any]) -> str:
    lines = ["| method | path | scope | what it does |", "|---|---|---|---|"]
    for path, operations in sorted(doc["paths"].items()):
        for method, op in sorted(operations.items()):
            scope = op["x-scope"]
            short = path.removeprefix(API)
            lines.append(f"| {method.upper()} | `{short}` | `{scope}` | {op['summary']} |")
    return "\n".join(lines) + "\n"


def test_the_docs_print_the_reference(client: FlaskClient) -> None:
    doc = client.get(f"{API}/openapi.json").get_json()
    table = reference_table(doc)
    assert table in DOC.read_text(encoding="utf-8"), "docs/api.md is behind; paste:\n" + table
