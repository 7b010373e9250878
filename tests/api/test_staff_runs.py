"""Certificate issue runs, grading and certificate PDFs for staff, by role and scope: the
course's instructor or an administrator; a learner or another course's instructor is refused."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.assignments import assignments
from lms_core.assignments.fields import AssignmentCreate
from lms_core.models import AuditEntry, utcnow
from tests.api.conftest import ApiClient, assert_problem


@pytest.fixture
def own_files(app: Flask, settings: Any, tmp_path: Any) -> Any:
    """The app's settings with a files folder of this test's own (PDFs are written)."""
    from admin_ui.app import EXTENSION

    state = app.extensions[EXTENSION]
    state.settings = settings.model_copy(update={"files_dir": tmp_path / "files"})
    return state.settings


def _done_course(as_user: Any, make: Any, teacher: Any) -> tuple[Any, Any]:
    course = make.course(lessons=1, published=True, instructor=teacher)
    learner = make.user("student")
    api: ApiClient = as_user(learner)
    api.post(f"/courses/{course.slug}/enrollment")
    api.post(f"/me/enrollments/{course.slug}/lessons/lesson-1/completion")
    return course, learner


def test_issue_by_role_dry_run_and_rerun(
    as_user: Any, make: Any, own_files: Any, session: Session, teacher: Any, admin_user: Any
) -> None:
    course, learner = _done_course(as_user, make, teacher)
    path = f"/courses/{course.slug}/certificates"
    assert_problem(as_user(learner).post(path, json={}), 403)
    assert_problem(as_user(make.user("instructor")).post(path, json={}), 403)
    staff: ApiClient = as_user(teacher)
    assert_problem(staff.post(path, json={"include_revoked": True}), 403)  # administrators
    assert_problem(staff.post(path, json={"dry_run": "maybe"}), 422)
    assert_problem(staff.post("/courses/no-such-course/certificates", json={}), 404)
    preview = staff.post(path, json={"dry_run": True}).get_json()
    assert [i["email"] for i in preview["issued"]] == [learner.email]
    assert preview["issued"][0]["number"] is None
    assert as_user(learner).get("/me/certificates").get_json()["items"] == []
    done = staff.post(path, json={}).get_json()
    assert [i["email"] for i in done["issued"]] == [learner.email] and done["errors"] == []
    number = done["issued"][0]["number"]
    again = as_user(admin_user).post(path, json={}).get_json()
    assert again["issued"] == [] and again["already"] == 1
    session.expire_all()
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "certificate.issue")
    ).one()
    assert entry.actor_id == teacher.id
    # The PDF: the learner's own, the course's staff; not another instructor.
    pdf = f"/certificates/{number}/pdf"
    assert as_user(learner).get(pdf).data.startswith(b"%PDF")
    assert staff.get(pdf).data.startswith(b"%PDF")
    assert_problem(as_user(make.user("instructor")).get(pdf), 404)
    assert_problem(as_user(make.user("student")).get(pdf), 404)


def test_grade_by_role_and_value(
    app: Flask, as_user: Any, make: Any, own_files: Any, session: Session, teacher: Any
) -> None:
    from lms_core.assignments.fields import SubmissionCreate
    from lms_core.assignments.submissions import submit
    from tests.helpers import as_

    course = make.course(lessons=1, published=True, instructor=teacher)
    make.lesson(course, slug="essay", lesson_type="assignment")
    assignments.create_assignment(
        session,
        actor=as_(teacher),
        course_slug=course.slug,
        lesson_slug="essay",
        data=AssignmentCreate(title="Essay", max_points=10, due_date=utcnow() + timedelta(days=3)),
    )
    learner = make.user("student")
    make.enroll(learner, course)
    submit(
        session,
        actor=as_(learner),
        settings=own_files,
        assignment=f"{course.slug}/essay",
        email=learner.email,
        data=SubmissionCreate(text="my essay", files=[]),
    )
    path = f"/courses/{course.slug}/lessons/essay/submissions/{learner.email}/grade"

    logged_in: dict[int, ApiClient] = {}

    def put(user: Any, body: Any) -> Any:
        if user.id not in logged_in:  # once each: logins are rate-limited
            logged_in[user.id] = as_user(user)
        api = logged_in[user.id]
        return api.client.put(
            f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {api.token}"}
        )

    assert_problem(put(learner, {"grade": 10}), 403)
    assert_problem(put(make.user("instructor"), {"grade": 10}), 403)
    assert_problem(put(teacher, {"grade": 11}), 422)
    assert_problem(put(teacher, {}), 422)
    for hostile in (float("nan"), float("inf"), 1e308, "NaN", "x" * 10_000, -1, None, [1]):
        assert_problem(put(teacher, {"grade": hostile}), 422)
    for boolean in (True, False):  # JSON true is not 1 point
        body = assert_problem(put(teacher, {"grade": boolean}), 422)
        assert body["errors"][0]["field"] == "grade"
    # Text is read as the CLI reads --grade: "1e1" is 10 there, so here.
    from lms_core.assignments.fields import check_grade

    assert put(teacher, {"grade": "1e1"}).get_json()["grade"] == check_grade("1e1", 10) == 10
    done = put(teacher, {"grade": 7.5, "feedback": "Good"})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["grade"] == 7.5 and done.get_json()["feedback"] == "Good"
    other = make.user("student")
    make.enroll(other, course)
    missing = f"/api/v1/courses/{course.slug}/lessons/essay/submissions/{other.email}/grade"
    api: ApiClient = as_user(teacher)
    refused = api.client.put(
        missing, json={"grade": 5}, headers={"Authorization": f"Bearer {api.token}"}
    )
    assert_problem(refused, 404)


def test_scopes_of_the_runs(client: Any, cli: Any, teacher: Any, make: Any) -> None:
    course = make.course(lessons=1, published=True, instructor=teacher)
    made = cli("tokens", "create", "--scope", "certificates:read", "--json", as_=teacher.email)
    token = json.loads(made.stdout)["token"]
    api = ApiClient(client, token)
    body = assert_problem(api.post(f"/courses/{course.slug}/certificates", json={}), 403)
    assert body["errors"][0]["value"] == "certificates:write"
    grade = f"/api/v1/courses/{course.slug}/lessons/lesson-1/submissions/x@test.example/grade"
    refused = client.put(grade, json={"grade": 1}, headers={"Authorization": f"Bearer {token}"})
    assert assert_problem(refused, 403)["errors"][0]["value"] == "submissions:grade"
