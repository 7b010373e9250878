"""What every API request gets: problem+json refusals, body checks, request ids, the log
line, the OpenAPI document, CSRF in cookie mode, and never a traceback."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.conftest import API, ApiClient, assert_problem, login
from tests.web.conftest import log_in


def test_unknown_path_is_a_problem_not_a_page(client: FlaskClient) -> None:
    body = assert_problem(client.get(f"{API}/no/such/thing"), 404)
    assert body["instance"] == f"{API}/no/such/thing"


def test_anonymous_is_401_with_a_bearer_challenge(client: FlaskClient) -> None:
    response = client.get(f"{API}/courses")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Basic abc", "Bearer lms_at_nope", "Bearer " + "x" * 5000, "Token x"],
)
def test_a_bad_authorization_header_is_401(client: FlaskClient, header: str) -> None:
    assert_problem(client.get(f"{API}/courses", headers={"Authorization": header}), 401)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("{not json", "Expecting property name"),
        (b'{"email": "\xff"}', "can't decode"),
        ("[" * 100_000, "nested too deeply"),  # the parser's recursion: a 400, not a 500
    ],
)
def test_bad_json_is_400(client: FlaskClient, data: str | bytes, why: str) -> None:
    response = client.post(f"{API}/auth/login", data=data, content_type="application/json")
    body = assert_problem(response, 400)
    assert "not valid JSON" in body["detail"] and why in body["detail"]


def test_a_json_type_of_its_own_is_read_as_json(client: FlaskClient) -> None:
    """``application/*+json`` is JSON: the view gets the body (a wrong login, not a 415)."""
    body = json.dumps({"email": "nobody@test.example", "password": "wrong-password"})
    response = client.post(f"{API}/auth/login", data=body, content_type="application/vnd.api+json")
    assert_problem(response, 401)


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/x-www-form-urlencoded", "email=a&password=b"),
        ("application/x-www-form-urlencoded", ""),
        ("multipart/form-data", '{"email": "", "password": "x"}'),
        ("multipart/form-data; boundary=x", ""),
        ("text/plain", '{"email": "a", "password": "b"}'),
        ("text/plain+json", '{"email": "a", "password": "b"}'),  # JSON only under application/
    ],
)
def test_a_body_that_is_not_json_is_415(client: FlaskClient, content_type: str, data: str) -> None:
    response = client.post(f"{API}/auth/login", data=data, content_type=content_type)
    assert_problem(response, 415)


@pytest.mark.parametrize("body", [[1, 2], "text", 3, None])
def test_a_body_that_is_not_an_object_is_422(client: FlaskClient, body: Any) -> None:
    response = client.post(
        f"{API}/auth/login", data=json.dumps(body), content_type="application/json"
    )
    assert_problem(response, 422)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": 5, "password": "x"}, "email"),
        ({"email": "a@b.c"}, "password"),
        ({"email": ["a"], "password": {"x": 1}}, "email"),
        ({"email": "a" * 5000, "password": "x"}, "email"),
    ],
)
def test_wrong_types_are_422_naming_the_field(
    client: FlaskClient, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(client.post(f"{API}/auth/login", json=body), 422)
    assert field in [e["field"] for e in problem["errors"]]
    assert all(len(str(e["value"])) <= 210 for e in problem["errors"])


def test_a_nul_in_the_body_is_400(client: FlaskClient) -> None:
    response = client.post(f"{API}/auth/login", json={"email": "a\x00b", "password": "x"})
    assert_problem(response, 400)


def test_a_huge_body_is_413(client: FlaskClient) -> None:
    big = {"email": "a@b.c", "password": "x" * (2 * 1024 * 1024)}
    assert_problem(client.post(f"{API}/auth/login", json=big), 413)


@pytest.mark.parametrize(
    "path",
    [
        "/courses?page=0",
        "/courses?page=99999999999999999999999999",
        "/courses?per_page=100000",
        "/courses?page=abc",
        "/courses?difficulty=impossible",
        "/courses?unknown=1",
        "/me/enrollments?status=nonsense",
        "/courses/" + "s" * 500,
        "/courses/%00%ff",
        "/verify/" + "9" * 100,
        "/verify/%27%3B--",
        "/courses?search=a%00b",
    ],
)
def test_hostile_input_never_500(as_user: Any, learner: Any, path: str) -> None:
    api: ApiClient = as_user(learner)
    response = api.get(path)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert_problem(response, response.status_code)


def test_request_id_is_echoed_or_made(client: FlaskClient) -> None:
    given = client.get(f"{API}/openapi.json", headers={"X-Request-ID": "abc-12345678"})
    assert given.headers["X-Request-ID"] == "abc-12345678"
    hostile = client.get(f"{API}/openapi.json", headers={"X-Request-ID": "<script>"})
    assert (
        hostile.headers["X-Request-ID"] != "<script>" and len(hostile.headers["X-Request-ID"]) == 32
    )


def test_one_json_log_line_per_request_without_the_token(
    as_user: Any, learner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    api: ApiClient = as_user(learner)
    caplog.set_level(logging.INFO, logger="lms.api.access")
    caplog.clear()
    response = api.client.get(
        f"{API}/courses?search=python&page=1",
        headers={"Authorization": f"Bearer {api.token}", "User-Agent": "lms-test/1.0"},
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "lms.api.access"]
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["status"] == 200 and line["path"] == f"{API}/courses"
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["user_id"] == learner.id and line["duration_ms"] >= 0
    assert line["bytes"] == len(response.get_data()) and line["time"].endswith("+00:00")
    assert line["query"] == "search=python&page=1" and line["user_agent"] == "lms-test/1.0"
    assert api.token not in lines[0]


def test_a_bug_is_a_500_problem_without_a_traceback(
    as_user: Any, learner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lms_core.catalog.kept_reads as reads

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(reads, "list_course_rows", broken)  # what the catalog calls
    response = as_user(learner).get("/courses")
    body = assert_problem(response, 500)
    assert "secret internals" not in response.get_data(as_text=True)
    assert body["request_id"]


def test_openapi_document(client: FlaskClient) -> None:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    assert {f"{API}/auth/login", f"{API}/courses", f"{API}/verify/{{number}}"} <= set(doc["paths"])
    login_op = doc["paths"][f"{API}/auth/login"]["post"]
    assert login_op["security"] == []
    assert "requestBody" in login_op
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "Course" in doc["components"]["schemas"]
    refused = login_op["responses"]["422"]["content"]
    assert list(refused) == ["application/problem+json"]


def test_cookie_mode_needs_the_csrf_token(app: Flask, make: Any, admin_user: Any) -> None:
    """A browser client logged in to the site may call the API with its cookie; an unsafe
    request then needs the CSRF token, as a form does (a bearer request needs none)."""
    course = make.course(lessons=1, published=True)
    browser = app.test_client()
    assert log_in(browser, admin_user).status_code == 302
    assert browser.get(f"{API}/me/enrollments").status_code == 200
    refused = browser.post(f"{API}/courses/{course.slug}/enrollment")
    assert_problem(refused, 400)
    token = browser.get(f"{API}/auth/csrf").get_json()["csrf_token"]
    done = browser.post(f"{API}/courses/{course.slug}/enrollment", headers={"X-CSRFToken": token})
    assert done.status_code == 201, done.get_data(as_text=True)


def test_bearer_requests_need_no_csrf_token(app: Flask, make: Any, learner: Any) -> None:
    course = make.course(lessons=1, published=True)
    client = app.test_client()
    access = login(client, learner).get_json()["access_token"]
    response = client.post(
        f"{API}/courses/{course.slug}/enrollment", headers={"Authorization": f"Bearer {access}"}
    )
    assert response.status_code == 201


#: The API's routes that are not endpoints of the document: the document, its reference page
#: and the 404.
_PLUMBING = {"api.openapi", "api.reference", "api.unknown"}


def test_every_api_route_is_documented_and_refuses_anonymous_unless_public(
    app: Flask, client: FlaskClient
) -> None:
    """No route slips in without its scope: each is in the document, and each whose document
    entry asks for the bearer token answers an anonymous call with 401."""
    doc = client.get(f"{API}/openapi.json").get_json()
    seen = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint in _PLUMBING:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = doc["paths"][path][method.lower()]
            seen += 1
            if operation.get("security") == []:
                continue
            url = re.sub(r"<int:[^>]+>", "1", rule.rule)
            url = re.sub(r"<[^>]+>", "x", url)
            response = client.open(url, method=method, json={} if method != "GET" else None)
            assert_problem(response, 401)
    assert seen >= 20


def test_a_known_path_with_another_method_is_405_with_allow(client: FlaskClient) -> None:
    response = client.delete(f"{API}/courses")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_options_lists_the_paths_own_methods(client: FlaskClient) -> None:
    response = client.options(f"{API}/courses")
    assert response.status_code == 204
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert_problem(client.options(f"{API}/nowhere"), 404)


def test_lmsctl_api_openapi_writes_the_served_document(
    cli: Any, client: FlaskClient, tmp_path: Any
) -> None:
    out = tmp_path / "openapi.json"
    result = cli("api", "openapi", "-o", str(out))
    assert result.exit_code == 0, result.stdout + result.stderr
    served = client.get(f"{API}/openapi.json").get_json()
    assert json.loads(out.read_text(encoding="utf-8")) == served
    printed = cli("api", "openapi", "--json")
    assert json.loads(printed.stdout) == served


def test_the_line_stands_in_for_gunicorns_only_when_a_handler_took_it(
    app: Flask, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gunicorn skips its access line for a request flagged ``LOGGED``: a line no handler
    took (no handler on the logger nor above it) must leave the flag off, or the request
    would be logged nowhere."""
    from flask import Response

    from admin_ui.api.requestlog import LOGGED, access_log, finish_request

    caplog.set_level(logging.INFO, logger="lms.api.access")
    with app.test_request_context(f"{API}/openapi.json") as taken:
        finish_request(Response("{}"))
        assert taken.request.environ.get(LOGGED) is True
    monkeypatch.setattr(access_log, "handlers", [])
    monkeypatch.setattr(access_log, "propagate", False)
    with app.test_request_context(f"{API}/openapi.json") as dropped:
        finish_request(Response("{}"))
        assert LOGGED not in dropped.request.environ
