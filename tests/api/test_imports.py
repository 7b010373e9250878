"""Imports through the API: a posted file's plan (nothing written), applying exactly that plan
(refused once the data changed), the CLI's audit entries, administrators only, the size
checked as the upload streams in, and a large file planned and applied by the ledger's jobs."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts import users as users_service
from lms_core.accounts.fields import UserUpdate
from lms_core.actor import Actor
from lms_core.jobs import ledger
from lms_core.models import AuditEntry, ImportRun, User
from lms_core.models.jobs import Job
from tests.api.conftest import API, ApiClient, assert_problem, bearer

HEADER = "external_id,email,full_name,role\n"
GOOD = HEADER + "S-1,ann@x.org,Ann,student\nS-2,bob@x.org,Bob,student\nS-3,cy@x.org,Cy,student\n"
BAD = HEADER + "S-1,ann@x.org,Ann,student\nS-2,not-an-e-mail,Bob,student\n"


def post_file(api: ApiClient, text: str, kind: str = "users", **form: Any) -> Any:
    data = {"file": (io.BytesIO(text.encode()), "people.csv"), **form}
    return api.client.post(
        f"{API}/imports/{kind}",
        data=data,
        content_type="multipart/form-data",
        headers=bearer(api.token),
    )


def emails(session: Session) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(User.email).where(User.email.like("%@x.org"))))


def test_plan_then_apply_that_plan(as_user: Any, admin_user: Any, session: Session) -> None:
    api: ApiClient = as_user(admin_user)
    planned = post_file(api, GOOD)
    assert planned.status_code == 200, planned.get_data(as_text=True)
    plan = planned.get_json()
    assert plan["status"] == "planned" and plan["counts"]["create"] == 3
    assert plan["changes_total"] == 3 and len(plan["fingerprint"]) == 64
    assert emails(session) == set()  # a plan writes nothing
    assert api.get(f"/imports/{plan['id']}").get_json() == plan
    wrong = api.post(f"/imports/{plan['id']}/apply", json={"fingerprint": "0" * 64})
    assert_problem(wrong, 409)
    done = api.post(f"/imports/{plan['id']}/apply", json={"fingerprint": plan["fingerprint"]})
    assert done.status_code == 200, done.get_data(as_text=True)
    body = done.get_json()
    assert body["status"] == "applied" and body["applied"]["counts"]["create"] == 3
    assert emails(session) == {"ann@x.org", "bob@x.org", "cy@x.org"}
    run = session.get(ImportRun, body["applied"]["run_id"])
    assert run is not None
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == "import_run", AuditEntry.entity_id == run.id
        )
    ).one()
    assert entry.action == "import.apply" and entry.actor_id == admin_user.id
    assert_problem(api.post(f"/imports/{plan['id']}/apply", json={}), 409)


def test_a_bad_file_is_422_naming_line_and_column(
    as_user: Any, admin_user: Any, session: Session
) -> None:
    api: ApiClient = as_user(admin_user)
    body = assert_problem(post_file(api, BAD), 422)
    [error] = body["errors"]
    assert error["file"] == "people.csv" and error["line"] == 3 and error["column"] == "email"
    assert error["value"] == "not-an-e-mail" and error["message"]
    assert emails(session) == set()
    plan_id = body["plan_id"]
    assert f"/imports/{plan_id}" in body["detail"]
    assert api.get(f"/imports/{plan_id}").get_json()["status"] == "refused"
    assert_problem(api.post(f"/imports/{plan_id}/apply", json={}), 409)


def test_apply_is_refused_when_the_data_changed_since_the_plan(
    as_user: Any, admin_user: Any, make: Any, session: Session, operator: Actor
) -> None:
    make.user("student", email="ann@x.org", name="Ann", external_id="S-1")
    api: ApiClient = as_user(admin_user)
    plan = post_file(api, HEADER + "S-1,ann@x.org,Ann Smith,student\n").get_json()
    assert plan["counts"]["update"] == 1
    users_service.update_user(
        session, actor=operator, email="ann@x.org", data=UserUpdate(full_name="Ann Elsewhere")
    )
    session.flush()
    refused = assert_problem(api.post(f"/imports/{plan['id']}/apply", json={}), 409)
    assert any(
        e["column"] == "full_name" and "Ann Elsewhere" in e["message"] for e in refused["errors"]
    )
    session.expire_all()
    assert session.scalars(select(User.full_name).where(User.email == "ann@x.org")).one() == (
        "Ann Elsewhere"
    )
    # Refused in the request: the plan stays as it was (applying it again is refused again).
    assert api.get(f"/imports/{plan['id']}").get_json()["status"] == "planned"


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_only_administrators_import(as_user: Any, make: Any, role: str) -> None:
    api: ApiClient = as_user(make.user(role))
    assert_problem(post_file(api, GOOD), 403)


def test_scope_kind_and_other_callers_plans(
    as_user: Any, admin_user: Any, cli: Any, client: Any, make: Any
) -> None:
    token = cli("tokens", "create", "--scope", "users:write", "--json", as_=admin_user.email)
    import json

    narrow = ApiClient(client, json.loads(token.stdout)["token"])
    assert_problem(post_file(narrow, GOOD), 403)
    assert_problem(post_file(narrow, GOOD, kind="nothing"), 403)
    api: ApiClient = as_user(admin_user)
    assert_problem(post_file(api, GOOD, kind="nothing"), 422)
    assert_problem(post_file(api, GOOD, mode="replace"), 422)
    plan = post_file(api, GOOD).get_json()
    other: ApiClient = as_user(make.user("admin"))
    assert_problem(other.get(f"/imports/{plan['id']}"), 404)
    assert_problem(other.post(f"/imports/{plan['id']}/apply", json={}), 404)
    assert_problem(api.get(f"/imports/{'0' * 32}"), 404)


def test_an_oversize_file_is_refused_as_it_streams_in(
    as_user: Any, admin_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import admin_ui.app

    monkeypatch.setattr(admin_ui.app, "MAX_IMPORT_MB", 1)
    api: ApiClient = as_user(admin_user)
    big = HEADER + "S-1,ann@x.org,Ann,student\n" * 50_000
    body = assert_problem(post_file(api, big), 422)
    message = body["errors"][0]["message"]
    assert "1 MB" in message and message.count("MB") == 1, message


@pytest.fixture
def job_app(app: Flask) -> Flask:
    """Files of more than 2 rows are large (the default is thousands)."""
    from admin_ui.app import EXTENSION

    state = app.extensions[EXTENSION]
    state.settings = state.settings.model_copy(update={"import_job_rows": 2})
    return app


def _run_job(session_factory: Callable[[], Session], settings: Any, kind: str) -> None:
    with session_factory() as s:
        job = s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id.desc())).first()
        assert job is not None and job.status == "queued"
        job_id = job.id
    outcome = ledger.run_job(session_factory, settings, job_id, worker="test")
    assert outcome is not None and outcome.status == "succeeded", outcome


def test_a_large_file_goes_through_the_jobs(
    job_app: Flask, as_user: Any, admin_user: Any, session: Session, session_factory: Any
) -> None:
    from admin_ui.app import EXTENSION

    settings = job_app.extensions[EXTENSION].settings
    api: ApiClient = as_user(admin_user)
    queued = post_file(api, GOOD)
    assert queued.status_code == 202, queued.get_data(as_text=True)
    plan = queued.get_json()
    assert plan["status"] == "planning" and plan["job"]["status"] == "queued"
    _run_job(session_factory, settings, "imports.plan")
    planned = api.get(f"/imports/{plan['id']}").get_json()
    assert planned["status"] == "planned" and planned["counts"]["create"] == 3
    assert emails(session) == set()
    applying = api.post(
        f"/imports/{plan['id']}/apply", json={"fingerprint": planned["fingerprint"]}
    )
    assert applying.status_code == 202 and applying.get_json()["status"] == "applying"
    assert_problem(api.post(f"/imports/{plan['id']}/apply", json={}), 409)
    _run_job(session_factory, settings, "imports.apply")
    done = api.get(f"/imports/{plan['id']}").get_json()
    assert done["status"] == "applied" and done["applied"]["counts"]["create"] == 3
    assert emails(session) == {"ann@x.org", "bob@x.org", "cy@x.org"}


@pytest.mark.parametrize("who", ["anonymous", "student"])
def test_an_upload_is_refused_before_its_body_is_read(app: Flask, make: Any, who: str) -> None:
    from tests.api.test_submissions_upload import _Counted, _multipart

    body = _multipart([("people.csv", GOOD.encode() + b"x" * (2 * 1024 * 1024))])
    stream = _Counted(body)
    client = app.test_client()
    headers = {}
    if who != "anonymous":
        from tests.api.conftest import login

        headers = bearer(login(client, make.user(who)).get_json()["access_token"])
    refused = client.post(
        f"{API}/imports/users",
        input_stream=stream,
        content_length=len(body),
        content_type="multipart/form-data; boundary=BOUNDARY",
        headers=headers,
    )
    assert_problem(refused, 401 if who == "anonymous" else 403)
    assert stream.taken == 0


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "9" * 5000, "-1", "1.5", "1_000"])
def test_max_removals_is_plain_bounded_digits(as_user: Any, admin_user: Any, value: str) -> None:
    api: ApiClient = as_user(admin_user)
    body = assert_problem(post_file(api, GOOD, max_removals=value), 422)
    assert body["errors"][0]["field"] == "max_removals"
    assert post_file(api, GOOD, max_removals="999999999").status_code == 200


def _stages(app: Flask) -> set[str]:
    from admin_ui.app import EXTENSION
    from admin_ui.import_staging import root

    folder = root(app.extensions[EXTENSION].settings)
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_a_refused_upload_leaves_no_stage_folder(
    app: Flask, as_user: Any, admin_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import admin_ui.app

    api: ApiClient = as_user(admin_user)
    before = _stages(app)
    no_file = api.client.post(
        f"{API}/imports/users",
        data={"mode": "add"},
        content_type="multipart/form-data",
        headers=bearer(api.token),
    )
    assert assert_problem(no_file, 422)["errors"][0]["field"] == "file"
    assert _stages(app) == before
    monkeypatch.setattr(admin_ui.app, "MAX_IMPORT_MB", 1)
    assert_problem(post_file(api, HEADER + "S-1,ann@x.org,Ann,student\n" * 50_000), 422)
    assert _stages(app) == before


def test_a_password_column_is_refused_in_words_for_any_caller(
    as_user: Any, admin_user: Any
) -> None:
    api: ApiClient = as_user(admin_user)
    text = "external_id,email,full_name,role,password\nS-1,ann@x.org,Ann,student,Secret-99x\n"
    body = assert_problem(post_file(api, text), 422)
    [error] = [e for e in body["errors"] if e["column"] == "password"]
    assert "password column" in error["message"] and "back office" not in error["message"]


def test_a_lessons_file_is_for_a_courses_import_only(
    app: Flask, as_user: Any, admin_user: Any
) -> None:
    api: ApiClient = as_user(admin_user)
    before = _stages(app)
    lessons = (io.BytesIO(b"course,slug,title\n"), "lessons.csv")
    body = assert_problem(post_file(api, GOOD, lessons=lessons), 422)
    assert body["errors"][0]["field"] == "lessons" and body["errors"][0]["value"] == "lessons.csv"
    assert _stages(app) == before


def test_apply_while_another_import_runs_is_409_without_its_process(
    as_user: Any, admin_user: Any, session_factory: Any, session: Session
) -> None:
    from lms_core.locks import run_lock

    api: ApiClient = as_user(admin_user)
    plan = post_file(api, GOOD).get_json()
    with run_lock(session_factory, "import", holder="someone else"):
        body = assert_problem(api.post(f"/imports/{plan['id']}/apply", json={}), 409)
    assert "another import is running" in body["detail"]
    assert "pid" not in body["detail"] and "someone else" not in body["detail"]
    assert emails(session) == set()
    assert api.post(f"/imports/{plan['id']}/apply", json={}).status_code == 200
