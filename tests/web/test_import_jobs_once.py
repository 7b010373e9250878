"""An import plan is applied once, whoever applies it: a second click, a second worker, a job
run again after its worker was killed between the commit and ``applied.json``. The ledger
names the run after the stage's plan file, and the apply looks for it under the import lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_ui.app import EXTENSION, create_app
from lms_core.actor import Actor
from lms_core.imports.staged import stage_at
from lms_core.models import ImportRun, User
from lms_core.models.jobs import Job
from lms_core.settings import Settings
from tests.web.test_import_jobs import Login, queued_job, run, stage_id
from tests.web.test_import_page import GOOD, apply, flashes, plan_path, text, upload


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    """Files of more than 2 rows are large: planned and applied by jobs."""
    return settings.model_copy(update={"import_job_rows": 2})


@pytest.fixture
def app(job_settings: Settings, session_factory: Callable[[], Session]) -> Iterator[Flask]:
    app = create_app(job_settings, session_factory=session_factory)
    app.config["TESTING"] = True
    yield app
    app.extensions[EXTENSION].dispose()


def _planned_and_queued(
    client: FlaskClient, session: Session, factory: Callable[[], Session], settings: Settings
) -> tuple[Any, Job, Any]:
    """A large upload planned by its job, then "Apply this plan" clicked: (page, job, stage)."""
    waiting = upload(client, GOOD)
    run(factory, settings, queued_job(session, "imports.plan"))
    apply(client, plan_path(client.get(waiting.request.path)))
    stage = stage_at(settings, stage_id(waiting))
    assert stage is not None
    return waiting, queued_job(session, "imports.apply"), stage


def _runs(session: Session) -> list[tuple[int, str]]:
    session.expire_all()
    return [(r.id, r.status) for r in session.scalars(select(ImportRun).order_by(ImportRun.id))]


def test_an_apply_job_run_again_after_its_commit_says_applied_not_refused(
    logged_in: Login,
    admin_user: User,
    session: Session,
    session_factory: Callable[[], Session],
    job_settings: Settings,
) -> None:
    """The worker committed the plan, then was killed before it wrote ``applied.json``; the
    lease expired and another worker runs the job again: the plan is found applied (the
    ledger names its run after the stage's plan file), not refused by its own changes."""
    from lms_core.imports.runs import apply_plan_file

    client = logged_in(admin_user)
    waiting, job, stage = _planned_and_queued(client, session, session_factory, job_settings)
    with session_factory() as s:
        actor = Actor.for_user(s.get(User, admin_user.id))  # type: ignore[arg-type]
    first = apply_plan_file(session_factory, actor=actor, settings=job_settings, path=stage.plan)
    first.close()
    assert first.run_id is not None and not stage.applied.exists()  # the kill -9

    assert run(session_factory, job_settings, job)["status"] == "applied"
    done = client.get(waiting.request.path, follow_redirects=True)
    assert f"Applied import run {first.run_id}" in flashes(done)
    assert _runs(session) == [(first.run_id, "applied")]  # no refused run recorded
    later = text(client.get(waiting.request.path))
    assert f"import run {first.run_id}" in later and "Apply this plan" not in later


def test_an_apply_job_that_waited_for_the_lock_finds_the_plan_applied(
    logged_in: Login,
    admin_user: User,
    session: Session,
    session_factory: Callable[[], Session],
    job_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two applies of one stage (a job and a request, two workers): the second waits for the
    import lock while the first applies; under the lock it finds the plan applied."""
    from contextlib import contextmanager

    from lms_core.imports import runs
    from lms_core.imports.staged import apply_stage

    client = logged_in(admin_user)
    _, _, stage = _planned_and_queued(client, session, session_factory, job_settings)
    with session_factory() as s:
        actor = Actor.for_user(s.get(User, admin_user.id))  # type: ignore[arg-type]
    real_lock = runs.run_lock
    first: list[dict[str, Any]] = []

    @contextmanager
    def lock(*args: Any, **kwargs: Any) -> Iterator[None]:
        if not first:  # the second apply is past its checks; the first takes the lock first
            first.append({})
            first[0] = apply_stage(session_factory, job_settings, actor, stage)
        with real_lock(*args, **kwargs):
            yield

    monkeypatch.setattr(runs, "run_lock", lock)
    second = apply_stage(session_factory, job_settings, actor, stage)
    assert first[0]["status"] == "applied"
    assert (second["status"], second["run_id"]) == ("already", first[0]["run_id"])
    assert _runs(session) == [(first[0]["run_id"], "applied")]


def test_two_apply_clicks_queue_one_job(
    logged_in: Login,
    admin_user: User,
    session: Session,
    session_factory: Callable[[], Session],
    job_settings: Settings,
) -> None:
    """The second click passed the page's checks before the first wrote ``job.json``: the job's
    key (the stage and its plan's SHA-256) gives it the first click's job."""
    client = logged_in(admin_user)
    waiting, job, stage = _planned_and_queued(client, session, session_factory, job_settings)
    stage.job.unlink()
    apply(client, waiting.request.path + "/apply")
    session.expire_all()
    assert list(session.scalars(select(Job.id).where(Job.kind == "imports.apply"))) == [job.id]
    assert run(session_factory, job_settings, job)["status"] == "applied"
    assert "Applied import run" in flashes(client.get(waiting.request.path, follow_redirects=True))


def test_a_job_cancelled_after_it_applied_shows_the_run(
    logged_in: Login,
    admin_user: User,
    session: Session,
    session_factory: Callable[[], Session],
    job_settings: Settings,
) -> None:
    """An apply job cancelled once its lease expired may have committed: the page looks for
    the plan's run in the ledger instead of saying nothing changed."""
    from lms_core.imports.runs import apply_plan_file
    from lms_core.jobs.admin import cancel

    client = logged_in(admin_user)
    waiting, job, stage = _planned_and_queued(client, session, session_factory, job_settings)
    with session_factory() as s:
        actor = Actor.for_user(s.get(User, admin_user.id))  # type: ignore[arg-type]
    applied = apply_plan_file(session_factory, actor=actor, settings=job_settings, path=stage.plan)
    applied.close()
    cancel(session, actor=Actor.operator("pytest"), job_id=job.id)
    session.commit()
    page = text(client.get(waiting.request.path))
    assert "Nothing was changed" not in page and "Apply this plan" not in page
    assert f"import run {applied.run_id}" in page


def test_a_cancelled_apply_job_that_applied_nothing_says_so(
    logged_in: Login,
    admin_user: User,
    session: Session,
    session_factory: Callable[[], Session],
    job_settings: Settings,
) -> None:
    from lms_core.jobs.admin import cancel

    client = logged_in(admin_user)
    waiting, job, _ = _planned_and_queued(client, session, session_factory, job_settings)
    cancel(session, actor=Actor.operator("pytest"), job_id=job.id)
    session.commit()
    page = text(client.get(waiting.request.path))
    assert "was cancelled" in page and "ledger has no import run of this plan" in page
