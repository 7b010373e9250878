"""``lmsctl api postman``: a Postman Collection v2.1 made from the served OpenAPI document,
a folder per tag, every operation once, ``{{baseUrl}}`` and ``{{token}}`` variables, bearer
auth, example bodies, and no secret in the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from admin_ui.api.postman import SCHEMA_URL
from lms_core.ops import demo
from tests.api.conftest import API


def _requests(made: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(folder["name"], item) for folder in made["item"] for item in folder["item"]]


def test_the_collection_has_every_operation_once(
    cli: Any, client: FlaskClient, tmp_path: Path
) -> None:
    out = tmp_path / "lms.postman_collection.json"
    result = cli("api", "postman", "-o", str(out))
    assert result.exit_code == 0, result.stdout + result.stderr
    made = json.loads(out.read_text(encoding="utf-8"))
    assert made["info"]["schema"] == SCHEMA_URL
    assert SCHEMA_URL.endswith("/v2.1.0/collection.json")
    doc = client.get(f"{API}/openapi.json").get_json()
    expected = sorted(
        (method.upper(), path.removeprefix(API))
        for path, entry in doc["paths"].items()
        for method in entry
    )
    seen = []
    for tag, item in _requests(made):
        request = item["request"]
        path = "/" + "/".join(
            "{" + s[1:] + "}" if s.startswith(":") else s for s in request["url"]["path"]
        )
        seen.append((request["method"], path))
        operation = doc["paths"][API + path][request["method"].lower()]
        assert tag == operation["tags"][0]
        assert request["url"]["host"] == ["{{baseUrl}}"]
        assert request["url"]["raw"].startswith("{{baseUrl}}/")
        names = {v["key"] for v in request["url"].get("variable", [])}
        assert names == {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        public = operation.get("security") == []
        assert (request.get("auth") == {"type": "noauth"}) is public
        body = request.get("body")
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            assert body["mode"] == "raw" and isinstance(json.loads(body["raw"]), dict)
        elif "requestBody" in operation:
            assert body["mode"] == "formdata"  # the upload
        else:
            assert body is None
    assert sorted(seen) == expected and len(seen) >= 30
    assert f"({len(seen)} requests)" in result.stdout
    assert [f["name"] for f in made["item"]] == [t["name"] for t in doc["tags"]]
    assert made["auth"] == {
        "type": "bearer",
        "bearer": [{"key": "token", "value": "{{token}}", "type": "string"}],
    }
    variables = {v["key"]: v["value"] for v in made["variable"]}
    assert variables.pop("baseUrl") == "http://localhost:5000/api/v1"
    assert set(variables) >= {"token"} and not any(variables.values())  # shared: no secret
    login = next(i for _, i in _requests(made) if i["name"] == "POST /auth/login")
    assert json.loads(login["request"]["body"]["raw"])["password"] == "{{password}}"


def test_the_collection_carries_no_secret(
    cli: Any, tmp_path: Path, session: Any, make: Any
) -> None:
    """Even with users, passwords and tokens in the database, none reaches the file."""
    token = cli(
        "tokens", "create", "--scope", "courses:read", "--json", as_=make.user("admin").email
    )
    raw = json.loads(token.stdout)["token"]
    out = tmp_path / "c.json"
    done = cli("api", "postman", "-o", str(out), "--base-url", "https://lms.example.org/api/v1")
    assert done.exit_code == 0, done.stdout + done.stderr
    text = out.read_text(encoding="utf-8")
    assert raw not in text and "lms_pat_" not in text
    for _email, _name, _role, password in demo.DEMO_USERS:
        assert password not in text
    assert json.loads(text)["variable"][0]["value"] == "https://lms.example.org/api/v1"


def test_json_prints_the_collection_compact(cli: Any) -> None:
    result = cli("api", "postman", "--json")
    assert result.exit_code == 0
    assert result.stdout.count("\n") == 1
    assert json.loads(result.stdout)["info"]["schema"] == SCHEMA_URL


def test_path_variables_name_the_demo_rows(cli: Any, tmp_path: Path) -> None:
    """A request runs as exported on ``lmsctl demo seed``'s school: its path variables are
    the demo's course, lessons, certificate and student."""
    from admin_ui.api.postman import DEMO_ASSIGNMENT_LESSON, DEMO_PATH_VALUES
    from lms_core.ops import demo_assignment, demo_quiz

    assert DEMO_PATH_VALUES["slug"] in demo.DEMO_COURSES
    assert DEMO_PATH_VALUES["lesson"] == demo_quiz.LESSON
    assert DEMO_PATH_VALUES["number"] == demo.DEMO_CERTIFICATE_NUMBER
    assert DEMO_PATH_VALUES["email"] == demo.DEMO_USERS[2][0]
    assert DEMO_ASSIGNMENT_LESSON == demo_assignment.LESSON
    out = tmp_path / "lms.postman_collection.json"
    assert cli("api", "postman", "-o", str(out)).exit_code == 0
    made = json.loads(out.read_text(encoding="utf-8"))
    values = {
        item["name"]: {v["key"]: v["value"] for v in item["request"]["url"].get("variable", [])}
        for _, item in _requests(made)
    }
    assert values["GET /courses/{slug}"] == {"slug": "demo-python-basics"}
    assert values["POST /courses/{slug}/lessons/{lesson}/submission"]["lesson"] == "homework"
    assert values["POST /courses/{slug}/lessons/{lesson}/quiz/attempts"]["lesson"] == "checkpoint"
    assert values["GET /verify/{number}"] == {"number": demo.DEMO_CERTIFICATE_NUMBER}
    assert values["GET /attempts/{attempt_id}"] == {"attempt_id": ""}
