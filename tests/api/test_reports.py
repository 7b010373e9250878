"""/api/v1/reports: the same documents as ``lmsctl reports ... --format json``, the same role
rules, problem+json refusals (the figures themselves: tests/reports)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.api.conftest import API, assert_problem, bearer
from tests.reports.world import World, build

UNTIL = "2026-02-01"


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def _token(cli: Any, email: str | None, scope: str = "reports:read") -> dict[str, str]:
    """A personal access token of ``email`` (None: an administrator made for the test)."""
    result = cli("tokens", "create", "--scope", scope, "--json", as_=email)
    assert result.exit_code == 0, result.output
    return bearer(json.loads(result.stdout)["token"])


@pytest.fixture
def admin(cli: Any, make: Any) -> dict[str, str]:
    return _token(cli, make.user("admin").email)


# (API path, the CLI's arguments) of the same report.
SAME = [
    ("/reports/student/s2@rep.example.org", ["student", "s2@rep.example.org"]),
    ("/reports/instructor/t1@rep.example.org", ["instructor", "t1@rep.example.org"]),
    ("/reports/course/rep-course", ["course", "rep-course"]),
    ("/reports/course/rep-course?inactive_days=3", ["course", "rep-course", "--inactive-days", "3"]),
    ("/reports/course/rep-course?section=at_risk&section=funnel",
     ["course", "rep-course", "--section", "at_risk", "--section", "funnel"]),
    ("/reports/system", ["system"]),
    ("/reports/system?since=2026-01-01", ["system", "--since", "2026-01-01"]),
]  # fmt: skip


@pytest.mark.parametrize(("path", "args"), SAME)
def test_the_api_answers_the_clis_document_byte_for_byte(
    client: FlaskClient, cli: Any, world: World, admin: dict[str, str], path: str, args: list[str]
) -> None:
    joiner = "&" if "?" in path else "?"
    response = client.get(f"{API}{path}{joiner}until={UNTIL}", headers=admin)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    printed = cli("reports", *args, "--until", UNTIL, "--format", "json")
    assert printed.exit_code == 0, printed.output
    assert response.get_data(as_text=True) == printed.stdout
    assert json.loads(printed.stdout)["until"] == "2026-02-01T00:00:00+00:00"


def test_instructors_see_their_own_courses_and_report(
    client: FlaskClient, cli: Any, world: World
) -> None:
    t1 = _token(cli, "t1@rep.example.org")
    assert client.get(f"{API}/reports/course/rep-course", headers=t1).status_code == 200
    mine = client.get(f"{API}/reports/instructor/t1@rep.example.org", headers=t1)
    assert mine.status_code == 200
    assert_problem(client.get(f"{API}/reports/course/rep-noquiz", headers=t1), 403)
    assert_problem(client.get(f"{API}/reports/instructor/t2@rep.example.org", headers=t1), 403)
    assert_problem(client.get(f"{API}/reports/system", headers=t1), 403)


def test_learners_see_their_own_student_report_only(
    client: FlaskClient, cli: Any, world: World
) -> None:
    s1 = _token(cli, "s1@rep.example.org")
    own = client.get(f"{API}/reports/student/s1@rep.example.org", headers=s1)
    assert own.status_code == 200 and own.get_json()["subject"] == "s1@rep.example.org"
    assert_problem(client.get(f"{API}/reports/student/s2@rep.example.org", headers=s1), 403)
    assert_problem(client.get(f"{API}/reports/course/rep-course", headers=s1), 403)
    assert_problem(client.get(f"{API}/reports/system", headers=s1), 403)


def test_the_scope_anonymous_and_unknown_names(
    client: FlaskClient, cli: Any, world: World, make: Any, admin: dict[str, str]
) -> None:
    assert_problem(client.get(f"{API}/reports/system"), 401)
    narrow = _token(cli, make.user("admin").email, scope="courses:read")
    body = assert_problem(client.get(f"{API}/reports/system", headers=narrow), 403)
    assert body["errors"][0]["value"] == "reports:read"
    assert_problem(client.get(f"{API}/reports/course/no-such-course", headers=admin), 404)
    assert_problem(client.get(f"{API}/reports/student/nobody@example.org", headers=admin), 404)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("since=2026-02-01&until=2026-01-01", "until"),
        ("since=0001-01-01", "since"),
        ("section=nope", "section"),
    ],
)
def test_bad_query_is_422_naming_the_field(
    client: FlaskClient, world: World, admin: dict[str, str], query: str, field: str
) -> None:
    body = assert_problem(client.get(f"{API}/reports/system?{query}", headers=admin), 422)
    assert body["errors"][0]["field"] == field


@pytest.mark.parametrize("query", ["format=csv", "inactive_days=0", "color=red"])
def test_query_outside_the_schema_is_422(
    client: FlaskClient, world: World, admin: dict[str, str], query: str
) -> None:
    assert_problem(client.get(f"{API}/reports/course/rep-course?{query}", headers=admin), 422)


def test_the_openapi_document_lists_the_reports(client: FlaskClient) -> None:
    doc = client.get(f"{API}/openapi.json").get_json()
    operation = doc["paths"][f"{API}/reports/course/{{slug}}"]["get"]
    assert operation["x-scope"] == "reports:read"
    names = {p["name"] for p in operation["parameters"]}
    assert {"slug", "since", "until", "section", "inactive_days"} <= names
