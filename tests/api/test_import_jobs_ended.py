"""A large import's job that ended without doing its work (cancelled, dead, refused) never
wedges its plan: GET says how it ended, and an apply may be posted again (a new job)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts import users as users_service
from lms_core.accounts.fields import UserUpdate
from lms_core.jobs import admin as jobs_admin
from lms_core.models.jobs import Job
from tests.api.conftest import ApiClient, assert_problem
from tests.api.test_imports import GOOD, HEADER, _run_job, emails, job_app, post_file

__all__ = ["job_app"]  # the fixture, used by name


def _settings(app: Flask) -> Any:
    from admin_ui.app import EXTENSION

    return app.extensions[EXTENSION].settings


def _jobs(session: Session, kind: str) -> list[Job]:
    session.expire_all()
    return list(session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))


def _planned(api: ApiClient, session_factory: Any, settings: Any, text: str) -> dict[str, Any]:
    plan: dict[str, Any] = post_file(api, text).get_json()
    _run_job(session_factory, settings, "imports.plan")
    planned: dict[str, Any] = api.get(f"/imports/{plan['id']}").get_json()
    assert planned["status"] == "planned"
    return planned


def test_a_cancelled_apply_job_is_apply_failed_and_may_be_applied_again(
    job_app: Flask,
    as_user: Any,
    admin_user: Any,
    session: Session,
    session_factory: Any,
    operator: Any,
) -> None:
    settings = _settings(job_app)
    api: ApiClient = as_user(admin_user)
    plan = _planned(api, session_factory, settings, GOOD)
    assert api.post(f"/imports/{plan['id']}/apply", json={}).status_code == 202
    (first,) = _jobs(session, "imports.apply")
    jobs_admin.cancel(session, actor=operator, job_id=first.id)
    session.flush()
    ended = api.get(f"/imports/{plan['id']}").get_json()
    assert ended["status"] == "apply_failed", ended
    assert ended["job"]["status"] == "cancelled" and ended["errors"][0]["message"]
    assert ended["fingerprint"] == plan["fingerprint"]
    again = api.post(f"/imports/{plan['id']}/apply", json={"fingerprint": plan["fingerprint"]})
    assert again.status_code == 202, again.get_data(as_text=True)
    assert again.get_json()["status"] == "applying"
    second = _jobs(session, "imports.apply")[-1]
    assert second.id != first.id and second.status == "queued"
    assert second.key.endswith(f":after-{first.id}")
    _run_job(session_factory, settings, "imports.apply")
    assert api.get(f"/imports/{plan['id']}").get_json()["status"] == "applied"
    assert emails(session) == {"ann@x.org", "bob@x.org", "cy@x.org"}


def test_a_refused_apply_job_then_apply_again_queues_a_new_job(
    job_app: Flask,
    as_user: Any,
    admin_user: Any,
    session: Session,
    session_factory: Any,
    operator: Any,
    make: Any,
) -> None:
    settings = _settings(job_app)
    make.user("student", email="ann@x.org", name="Ann", external_id="S-1")
    api: ApiClient = as_user(admin_user)
    text = HEADER + "S-1,ann@x.org,Ann Smith,student\nS-2,bob@x.org,Bob,student\n"
    text += "S-3,cy@x.org,Cy,student\n"
    plan = _planned(api, session_factory, settings, text)
    assert api.post(f"/imports/{plan['id']}/apply", json={}).status_code == 202
    users_service.update_user(
        session, actor=operator, email="ann@x.org", data=UserUpdate(full_name="Ann X")
    )
    session.flush()
    _run_job(session_factory, settings, "imports.apply")
    assert api.get(f"/imports/{plan['id']}").get_json()["status"] == "apply_refused"
    again = api.post(f"/imports/{plan['id']}/apply", json={})
    assert again.status_code == 202, again.get_data(as_text=True)
    first, second = _jobs(session, "imports.apply")
    assert first.status == "succeeded" and second.status == "queued"
    assert again.get_json()["job"]["id"] == second.id
    _run_job(session_factory, settings, "imports.apply")  # the data changed still: refused
    assert api.get(f"/imports/{plan['id']}").get_json()["status"] == "apply_refused"


def test_a_cancelled_plan_job_is_plan_failed(
    job_app: Flask, as_user: Any, admin_user: Any, session: Session, operator: Any
) -> None:
    api: ApiClient = as_user(admin_user)
    plan = post_file(api, GOOD).get_json()
    (job,) = _jobs(session, "imports.plan")
    jobs_admin.cancel(session, actor=operator, job_id=job.id)
    session.flush()
    ended = api.get(f"/imports/{plan['id']}").get_json()
    assert ended["status"] == "plan_failed", ended
    assert ended["file"] == "people.csv" and ended["fingerprint"] is None
    assert_problem(api.post(f"/imports/{plan['id']}/apply", json={}), 409)
