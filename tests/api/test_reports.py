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
    assert_problem(client.get(f"{API}/reports/course/rep-noquiz", headers=t1), 404)
    assert_problem(client.get(f"{API}/reports/instructor/t2@rep.example.org", headers=t1), 404)
    assert_problem(client.get(f"{API}/reports/system", headers=t1), 403)


def test_learners_see_their_own_student_report_only(
    client: FlaskClient, cli: Any, world: World
) -> None:
    s1 = _token(cli, "s1@rep.example.org")
    own = client.get(f"{API}/reports/student/s1@rep.example.org", headers=s1)
    assert own.status_code == 200 and own.get_json()["subject"] == "s1@rep.example.org"
    assert_problem(client.get(f"{API}/reports/student/s2@rep.example.org", headers=s1), 404)
    assert_problem(client.get(f"{API}/reports/course/rep-course", headers=s1), 404)
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


# (caller, a report they may not see, an unknown name's, the field). rep-empty is t1's
# unpublished course; s1 learns in rep-noquiz (t2's), t2 teaches none of s2's courses.
HIDDEN = [
    ("s1", "/reports/student/s2@rep.example.org", "/reports/student/no@rep.example.org", "email"),
    ("s1", "/reports/instructor/t2@rep.example.org", "/reports/instructor/no@rep.example.org",
     "email"),
    ("s1", "/reports/course/rep-noquiz", "/reports/course/no-such-course", "course_slug"),
    ("s1", "/reports/course/rep-empty", "/reports/course/no-such-course", "course_slug"),
    ("t2", "/reports/student/s2@rep.example.org", "/reports/student/no@rep.example.org", "email"),
    ("t2", "/reports/instructor/t1@rep.example.org", "/reports/instructor/no@rep.example.org",
     "email"),
    ("t2", "/reports/course/rep-empty", "/reports/course/no-such-course", "course_slug"),
]  # fmt: skip


def _without_names(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The problem with the request's own parts, and the asked-for name, taken out."""
    text = json.dumps({k: v for k, v in body.items() if k not in ("instance", "request_id")})
    return dict(json.loads(text.replace(name, "NAME")))


@pytest.mark.parametrize(("who", "hidden", "unknown", "field"), HIDDEN)
def test_a_report_one_may_not_see_is_the_same_404_as_an_unknown_name(
    client: FlaskClient, cli: Any, world: World, who: str, hidden: str, unknown: str, field: str
) -> None:
    """A learner or instructor probing e-mails or slugs (an unpublished course's too) learns
    nothing: the answer to an existing one they may not see is the unknown one's, word for
    word. Administrators still get the service's 404 naming what is missing."""
    who = f"{who}@rep.example.org"
    token = _token(cli, who)
    seen = assert_problem(client.get(f"{API}{hidden}", headers=token), 404)
    missing = assert_problem(client.get(f"{API}{unknown}", headers=token), 404)
    assert seen["errors"][0]["field"] == missing["errors"][0]["field"] == field
    hidden_name, unknown_name = hidden.rsplit("/", 1)[1], unknown.rsplit("/", 1)[1]
    assert _without_names(seen, hidden_name) == _without_names(missing, unknown_name)
    assert who not in json.dumps(seen)  # the rule's wording (naming the caller) is gone


def test_administrators_still_get_the_services_404(
    client: FlaskClient, world: World, admin: dict[str, str]
) -> None:
    body = assert_problem(client.get(f"{API}/reports/course/no-such-course", headers=admin), 404)
    assert body["errors"][0]["message"] == "no course with slug no-such-course"


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
