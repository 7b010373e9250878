"""Staff endpoints (users, bulk enrollments) by role and scope, the account's one-time links
as JSON, and the issue's journey: from an invitation mail to a certificate through the API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import Enrollment, OutboxMail
from tests.api.conftest import API, ApiClient, assert_problem, bearer, login
from tests.factories import PASSWORD


def _pat(cli: Any, user: Any, *scopes: str) -> str:
    made = cli("tokens", "create", "--scope", ",".join(scopes), "--json", as_=user.email)
    assert made.exit_code == 0, made.stdout
    token: str = json.loads(made.stdout)["token"]
    return token


def _link_token(session: Session, email: str, path: str) -> str:
    mail = session.scalars(
        select(OutboxMail).where(OutboxMail.to_address == email).order_by(OutboxMail.id.desc())
    ).first()
    assert mail is not None, f"no mail to {email}"
    found = re.search(rf"/{path}/([A-Za-z0-9_-]+)", mail.body_text)
    assert found, mail.body_text
    return found.group(1)


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_only_administrators_list_and_create_users(as_user: Any, make: Any, role: str) -> None:
    api: ApiClient = as_user(make.user(role))
    assert_problem(api.get("/users"), 403)
    body = {"email": "new@test.example", "full_name": "New One"}
    assert_problem(api.post("/users", json=body), 403)


def test_admin_lists_creates_and_deactivates(
    as_user: Any, admin_user: Any, learner: Any, session: Session
) -> None:
    api: ApiClient = as_user(admin_user)
    listed = api.get(f"/users?search={learner.email}").get_json()
    assert [u["email"] for u in listed["items"]] == [learner.email]
    created = api.post("/users", json={"email": "New@Test.example", "full_name": "New One"})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["email"] == "new@test.example"
    assert "token" not in created.get_data(as_text=True)
    assert _link_token(session, "new@test.example", "set-password")
    assert_problem(api.post("/users", json={"email": "new@test.example", "full_name": "X"}), 409)
    bad = assert_problem(api.post("/users", json={"email": "not-an-email", "full_name": "X"}), 422)
    assert bad["errors"][0]["field"] == "email"
    learner_api = as_user(learner)
    gone = api.post(f"/users/{learner.email}/deactivation")
    assert gone.status_code == 200 and gone.get_json()["is_active"] is False
    assert_problem(learner_api.get("/me/enrollments"), 401)


def test_a_scoped_integration_enrolls_many_learners_all_or_none(
    client: FlaskClient, cli: Any, admin_user: Any, make: Any, session: Session
) -> None:
    course = make.course(lessons=1, published=True)
    learners = [make.user("student") for _ in range(30)]
    token = _pat(cli, admin_user, "enrollments:write")
    emails = [u.email for u in learners]
    refused = client.post(
        f"{API}/enrollments",
        json={"course_slug": course.slug, "emails": [*emails, "nobody@test.example"]},
        headers=bearer(token),
    )
    body = assert_problem(refused, 404)
    assert [e["field"] for e in body["errors"]] == [f"emails[{len(emails)}]"]
    count = select(Enrollment).where(Enrollment.course_id == course.id)
    assert list(session.scalars(count)) == []
    done = client.post(
        f"{API}/enrollments",
        json={"course_slug": course.slug, "emails": emails},
        headers=bearer(token),
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    assert set(done.get_json()["outcomes"].values()) == {"created"}
    assert len(list(session.scalars(count))) == 30
    dropped = client.post(
        f"{API}/enrollments/drop",
        json={"course_slug": course.slug, "emails": emails[:2]},
        headers=bearer(token),
    )
    assert dropped.get_json()["outcomes"] == {emails[0]: "dropped", emails[1]: "dropped"}
    reading = _pat(cli, admin_user, "users:read")
    assert_problem(
        client.post(
            f"{API}/enrollments",
            json={"course_slug": course.slug, "emails": emails},
            headers=bearer(reading),
        ),
        403,
    )


def test_a_learner_cannot_enroll_others(as_user: Any, learner: Any, make: Any) -> None:
    course = make.course(lessons=1, published=True)
    other = make.user("student")
    api: ApiClient = as_user(learner)
    refused = api.post("/enrollments", json={"course_slug": course.slug, "emails": [other.email]})
    assert_problem(refused, 403)
    many = api.post(
        "/enrollments", json={"course_slug": course.slug, "emails": [learner.email, other.email]}
    )
    assert_problem(many, 403)
    mine = api.post(
        "/enrollments",
        json={"course_slug": course.slug, "emails": [learner.email, learner.email.upper()]},
    )
    assert mine.status_code == 200 and mine.get_json()["outcomes"] == {learner.email: "created"}


@pytest.mark.parametrize(
    "body",
    [
        {"course_slug": "x", "emails": []},
        {"course_slug": "x", "emails": ["a@b.c"] * 1001},
        {"course_slug": "x", "emails": "a@b.c"},
        {"course_slug": "x", "emails": ["a@b.c"], "extra": 1},
    ],
)
def test_bulk_bodies_are_checked(as_user: Any, admin_user: Any, body: Any) -> None:
    assert_problem(as_user(admin_user).post("/enrollments", json=body), 422)


def test_password_reset_by_json(client: FlaskClient, learner: Any, session: Session) -> None:
    same = [
        client.post(f"{API}/auth/password-reset", json={"email": e})
        for e in (learner.email, "nobody@test.example")
    ]
    assert [r.status_code for r in same] == [202, 202]
    assert same[0].get_json() == same[1].get_json()
    token = _link_token(session, learner.email, "reset-password")
    weak = client.post(f"{API}/auth/password-reset/confirm", json={"token": token, "password": "x"})
    assert_problem(weak, 422)
    new = "Another-Long-Pass-42"
    done = client.post(f"{API}/auth/password-reset/confirm", json={"token": token, "password": new})
    assert done.status_code == 200 and done.get_json() == {"email": learner.email}
    again = client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "password": new}
    )
    assert_problem(again, 422)
    assert login(client, learner, new).status_code == 200
    assert_problem(login(client, learner, PASSWORD), 401)


def test_from_invitation_to_certificate_through_the_api(
    client: FlaskClient,
    cli: Any,
    admin_user: Any,
    make: Any,
    session: Session,
    session_factory: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    """The issue's "done when": an invited learner reaches a certificate through the API alone
    (the certificate itself is issued by the background job its completion queues)."""
    from lms_core.jobs.groups import run_due

    course = make.course(lessons=2, published=True, auto_certificate=True)
    hr = _pat(cli, admin_user, "users:write")
    invited = client.post(
        f"{API}/users",
        json={"email": "newcomer@test.example", "full_name": "Nora Newcomer"},
        headers=bearer(hr),
    )
    assert invited.status_code == 201
    token = _link_token(session, "newcomer@test.example", "set-password")
    password = "Fresh-Start-Pass-2026!"
    accepted = client.post(f"{API}/auth/invitation", json={"token": token, "password": password})
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    pair = login(client, "newcomer@test.example", password).get_json()
    me = ApiClient(client, pair["access_token"])
    catalog = me.get("/courses").get_json()["items"]
    assert course.slug in [c["slug"] for c in catalog]
    lessons = me.get(f"/courses/{course.slug}").get_json()["lessons"]
    assert me.post(f"/courses/{course.slug}/enrollment").status_code == 201
    for lesson in lessons:
        me.post(f"/me/enrollments/{course.slug}/lessons/{lesson['slug']}/completion")
    assert me.get("/me/enrollments").get_json()["items"][0]["status"] == "completed"
    worker = settings.model_copy(
        update={"huey_url": f"sqlite:///{tmp_path / 'huey.db'}", "files_dir": tmp_path / "files"}
    )
    run_due(session_factory, worker)
    certificates = me.get("/me/certificates").get_json()["items"]
    assert len(certificates) == 1 and certificates[0]["status"] == "valid"
    public = client.get(f"{API}/verify/{certificates[0]['number']}").get_json()
    assert public["learner"] == "Nora Newcomer" and public["verified"] is True


def test_an_integration_enrolls_a_thousand_learners_in_one_request(
    client: FlaskClient, cli: Any, admin_user: Any, make: Any, session: Session
) -> None:
    """The issue's "done when": 1,000 learners, one scoped token, one request, all enrolled."""
    from lms_core.models import Role, User

    course = make.course(lessons=1, published=True)
    emails = [f"bulk{n:04d}@test.example" for n in range(1000)]
    session.add_all(User(email=e, full_name=e, role=Role.student.value) for e in emails)
    session.flush()
    token = _pat(cli, admin_user, "enrollments:write")
    done = client.post(
        f"{API}/enrollments",
        json={"course_slug": course.slug, "emails": emails},
        headers=bearer(token),
    )
    assert done.status_code == 200, done.get_data(as_text=True)[:500]
    assert list(done.get_json()["outcomes"].values()).count("created") == 1000
    enrolled = session.scalars(select(Enrollment.id).where(Enrollment.course_id == course.id))
    assert len(list(enrolled)) == 1000


def test_update_a_user_self_or_admin(
    as_user: Any, admin_user: Any, learner: Any, make: Any
) -> None:
    def patch(api: ApiClient, email: str, body: Any) -> Any:
        return api.client.patch(
            f"{API}/users/{email}", json=body, headers={"Authorization": f"Bearer {api.token}"}
        )

    me: ApiClient = as_user(learner)
    done = patch(me, learner.email, {"full_name": "Renamed Me"})
    assert done.status_code == 200 and done.get_json()["full_name"] == "Renamed Me"
    assert_problem(patch(me, learner.email, {"external_id": "x1"}), 403)
    other = make.user("student")
    assert_problem(patch(me, other.email, {"full_name": "Not mine"}), 403)
    assert_problem(patch(me, learner.email, {}), 422)
    assert_problem(patch(me, learner.email, {"role": "admin"}), 422)
    admin: ApiClient = as_user(admin_user)
    assert (
        patch(admin, other.email, {"external_id": "sis-42"}).get_json()["external_id"] == "sis-42"
    )


def test_revoke_a_certificate(
    as_user: Any, client: FlaskClient, make: Any, operator: Any, session_factory: Any, settings: Any
) -> None:
    from lms_core.certificates import issue

    teacher = make.user("instructor")
    course = make.course(lessons=1, published=True, instructor=teacher)
    learner = make.user("student")
    api: ApiClient = as_user(learner)
    api.post(f"/courses/{course.slug}/enrollment")
    api.post(f"/me/enrollments/{course.slug}/lessons/lesson-1/completion")
    issue.issue_certificates(
        session_factory, actor=operator, course_slug=course.slug, settings=settings
    )
    number = api.get("/me/certificates").get_json()["items"][0]["number"]
    path = f"/certificates/{number}/revocation"
    assert_problem(api.post(path, json={"reason": "mine"}), 403)
    staff: ApiClient = as_user(teacher)
    assert_problem(staff.post(path, json={"reason": ""}), 422)
    done = staff.post(path, json={"reason": "plagiarism"})
    assert done.status_code == 200 and done.get_json()["status"] == "revoked"
    assert_problem(staff.post(path, json={"reason": "again"}), 409)
    assert client.get(f"{API}/verify/{number}").get_json()["status"] == "revoked"
