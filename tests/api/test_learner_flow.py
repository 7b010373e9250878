"""The learner's flow through the API: catalog, outline, enroll, progress, certificates,
and the public verification; each with the roles and scopes that may and may not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.certificates import issue
from lms_core.models import AuditEntry
from tests.api.conftest import API, ApiClient, assert_problem

# Every endpoint the learner flow has: (method, path template, scope).
ENDPOINTS = [
    ("GET", "/courses", "courses:read"),
    ("GET", "/courses/{slug}", "courses:read"),
    ("POST", "/courses/{slug}/enrollment", "enrollments:write"),
    ("GET", "/me/enrollments", "enrollments:read"),
    ("POST", "/me/enrollments/{slug}/lessons/lesson-1/completion", "enrollments:write"),
    ("GET", "/me/certificates", "certificates:read"),
]


def _call(client: FlaskClient, method: str, path: str, headers: dict[str, str]) -> Any:
    return client.open(API + path, method=method, headers=headers)


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_refuses_anonymous_and_the_wrong_scope(
    client: FlaskClient, cli: Any, learner: Any, make: Any, method: str, path: str, scope: str
) -> None:
    course = make.course(lessons=1, published=True)
    url = path.format(slug=course.slug)
    assert_problem(_call(client, method, url, {}), 401)
    other = "reports:read"
    token = cli("tokens", "create", "--scope", other, "--json", as_=learner.email)
    raw = json.loads(token.stdout)["token"]
    body = assert_problem(_call(client, method, url, {"Authorization": f"Bearer {raw}"}), 403)
    assert body["errors"][0]["value"] == scope
    right = cli("tokens", "create", "--scope", scope, "--json", as_=learner.email)
    raw = json.loads(right.stdout)["token"]
    if "completion" in url:
        make.enroll(learner, course)
    response = _call(client, method, url, {"Authorization": f"Bearer {raw}"})
    assert response.status_code in (200, 201), response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["student", "instructor", "admin"])
def test_the_catalog_lists_published_courses_only(as_user: Any, make: Any, role: str) -> None:
    user = make.user(role)
    shown = make.course(lessons=1, published=True, title="Python Basics")
    make.course(lessons=1, published=False, instructor=user if role == "instructor" else None)
    body = as_user(user).get("/courses").get_json()
    assert [c["slug"] for c in body["items"]] == [shown.slug]
    assert body["meta"] == {"page": 1, "per_page": 20, "total": 1, "pages": 1}


def test_catalog_search_difficulty_and_pages(as_user: Any, learner: Any, make: Any) -> None:
    python = make.course(lessons=1, published=True, title="Python Basics")
    sql = make.course(
        lessons=1, published=True, title="SQL Essentials", difficulty_level="advanced"
    )
    api: ApiClient = as_user(learner)
    assert [c["slug"] for c in api.get("/courses?search=python").get_json()["items"]] == [
        python.slug
    ]
    found = api.get("/courses?difficulty=advanced").get_json()["items"]
    assert [c["slug"] for c in found] == [sql.slug]
    first = api.get("/courses?per_page=1").get_json()
    second = api.get("/courses?per_page=1&page=2").get_json()
    assert first["meta"]["total"] == 2 and first["meta"]["pages"] == 2
    assert {first["items"][0]["slug"], second["items"][0]["slug"]} == {python.slug, sql.slug}
    assert api.get("/courses?page=9").get_json()["items"] == []


def test_the_outline_shows_lessons_without_their_content(
    as_user: Any, learner: Any, make: Any
) -> None:
    course = make.course(lessons=2, published=True)
    body = as_user(learner).get(f"/courses/{course.slug}").get_json()
    assert body["course"]["slug"] == course.slug
    assert [x["slug"] for x in body["lessons"]] == ["lesson-1", "lesson-2"]
    assert all("content" not in x for x in body["lessons"])


def test_an_unpublished_course_is_not_a_learners(as_user: Any, learner: Any, make: Any) -> None:
    hidden = make.course(lessons=1, published=False)
    api: ApiClient = as_user(learner)
    assert_problem(api.get(f"/courses/{hidden.slug}"), 403)
    assert_problem(api.post(f"/courses/{hidden.slug}/enrollment"), 409)
    assert_problem(api.get("/courses/no-such-course"), 404)


def test_enroll_complete_and_progress(
    as_user: Any, learner: Any, make: Any, session: Session
) -> None:
    course = make.course(lessons=2, published=True)
    api: ApiClient = as_user(learner)
    created = api.post(f"/courses/{course.slug}/enrollment")
    assert created.status_code == 201 and created.get_json()["outcome"] == "created"
    again = api.post(f"/courses/{course.slug}/enrollment")
    assert again.status_code == 200 and again.get_json()["outcome"] == "unchanged"
    half = api.post(f"/me/enrollments/{course.slug}/lessons/lesson-1/completion").get_json()
    assert half["enrollment"]["progress_percentage"] == 50.0
    assert half["course_completed"] is False
    done = api.post(f"/me/enrollments/{course.slug}/lessons/lesson-2/completion").get_json()
    assert done["course_completed"] is True
    assert done["enrollment"]["status"] == "completed"
    mine = api.get("/me/enrollments").get_json()["items"]
    assert [(e["course_slug"], e["progress_percentage"]) for e in mine] == [(course.slug, 100.0)]
    actions = set(
        session.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == learner.id))
    )
    # The same audit entries as the CLI's commands write, by the learner.
    assert {"enrollment.create", "enrollment.complete_lesson"} <= actions
    assert_problem(api.post(f"/me/enrollments/{course.slug}/lessons/nope/completion"), 404)


def test_a_learner_sees_only_their_own(as_user: Any, learner: Any, make: Any) -> None:
    course = make.course(lessons=1, published=True)
    make.enroll(make.user("student"), course)
    api: ApiClient = as_user(learner)
    assert api.get("/me/enrollments").get_json()["items"] == []
    assert api.get("/me/certificates").get_json()["items"] == []
    # Completing a lesson of a course one is not enrolled in is refused, not done for another.
    assert_problem(api.post(f"/me/enrollments/{course.slug}/lessons/lesson-1/completion"), 404)


def test_certificates_and_public_verification(
    as_user: Any,
    client: FlaskClient,
    learner: Any,
    make: Any,
    operator: Any,
    session_factory: Any,
    settings: Any,
) -> None:
    course = make.course(lessons=1, published=True)
    api: ApiClient = as_user(learner)
    api.post(f"/courses/{course.slug}/enrollment")
    api.post(f"/me/enrollments/{course.slug}/lessons/lesson-1/completion")
    issue.issue_certificates(
        session_factory, actor=operator, course_slug=course.slug, settings=settings
    )
    mine = api.get("/me/certificates").get_json()["items"]
    assert len(mine) == 1 and mine[0]["status"] == "valid"
    number = mine[0]["number"]
    pdf = api.get(f"/me/certificates/{number}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.mimetype == "application/pdf"
    assert_problem(api.get("/me/certificates/LMS-XXXX-XXXX-X/pdf"), 422)
    stranger: ApiClient = as_user(make.user("student"))
    assert_problem(stranger.get(f"/me/certificates/{number}/pdf"), 404)
    nobodys = next(n for n in _valid_numbers() if n != number)
    assert_problem(api.get(f"/me/certificates/{nobodys}/pdf"), 404)
    public = client.get(f"{API}/verify/{number}")
    assert public.status_code == 200
    facts = public.get_json()
    assert facts["status"] == "valid" and facts["verified"] is True
    assert facts["course"] and "email" not in facts
    other = next(n for n in _valid_numbers() if n != number)
    assert_problem(client.get(f"{API}/verify/{other}"), 404)
    assert_problem(client.get(f"{API}/verify/not-a-number"), 422)


def _valid_numbers() -> list[str]:
    """Well-formed certificate numbers (check character and all) that nobody was issued."""
    from lms_core.certificates.numbers import new_number

    return [new_number() for _ in range(3)]


def test_review_and_rate(as_user: Any, learner: Any, make: Any) -> None:
    course = make.course(lessons=1, published=True)
    api: ApiClient = as_user(learner)
    path = f"/me/enrollments/{course.slug}/review"

    def put(body: Any) -> Any:
        return api.client.put(
            f"{API}{path}", json=body, headers={"Authorization": f"Bearer {api.token}"}
        )

    assert_problem(put({"rating": 4}), 404)  # not enrolled
    api.post(f"/courses/{course.slug}/enrollment")
    done = put({"rating": 4, "review": "clear"})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert (done.get_json()["rating"], done.get_json()["review"]) == (4, "clear")
    for bad in (
        {"rating": 9},
        {"rating": "x"},
        {"review": "no rating"},
        {"rating": 99999999999999999999},
    ):
        assert_problem(put(bad), 422)


def test_my_grades_are_mine_only(as_user: Any, learner: Any, make: Any) -> None:
    course = make.course(lessons=1, published=True)
    make.enroll(make.user("student"), course)
    api: ApiClient = as_user(learner)
    assert api.get("/me/grades").get_json() == {"items": []}
    api.post(f"/courses/{course.slug}/enrollment")
    items = api.get("/me/grades").get_json()["items"]
    assert [i["course_slug"] for i in items] == [course.slug]
