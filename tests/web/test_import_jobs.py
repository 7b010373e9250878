"""The import page's large files: planned and applied by jobs of the ledger, the page showing
the job's status and progress until the same plan page and apply result as a small file's,
with the CLI's run, audit entry and "refused if the data changed" rule."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_ui.app import EXTENSION, create_app
from lms_core.accounts import users as users_service
from lms_core.accounts.fields import UserUpdate
from lms_core.actor import Actor
from lms_core.imports.staged import ProgressFile, stage_at
from lms_core.jobs import ledger
from lms_core.models import AuditEntry, ImportRun, User
from lms_core.models.jobs import Job
from lms_core.settings import Settings
from tests.factories import Factories
from tests.web.test_import_page import (
    BAD,
    GOOD,
    HEADER,
    apply,
    counts,
    flashes,
    plan_path,
    problems,
    state,
    text,
    upload,
)

Login = Callable[[User], FlaskClient]
_STAGE = re.compile(r"/admin/import/plan/([0-9a-f]{32})")


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    """Files of more than 2 rows are large (the default is thousands)."""
    return settings.model_copy(update={"import_job_rows": 2})


@pytest.fixture
def app(job_settings: Settings, session_factory: Callable[[], Session]) -> Iterator[Flask]:
    app = create_app(job_settings, session_factory=session_factory)
    app.config["TESTING"] = True
    yield app
    app.extensions[EXTENSION].dispose()


def stage_id(response: Any) -> str:
    found = _STAGE.search(response.request.path)
    assert found, response.request.path
    return found.group(1)


def queued_job(session: Session, kind: str) -> Job:
    session.expire_all()
    job = session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id.desc())).first()
    assert job is not None and job.status == "queued"
    return job


def run(session_factory: Callable[[], Session], settings: Settings, job: Job) -> dict[str, Any]:
    """What ``lmsctl jobs worker`` does with the job: claim, run, record."""
    outcome = ledger.run_job(session_factory, settings, job.id, worker="test")
    assert outcome is not None and outcome.status == "succeeded", outcome
    with session_factory() as s:
        done = s.get(Job, job.id)
        assert done is not None and done.result is not None
        return dict(done.result)


def test_a_large_file_is_planned_then_applied_by_jobs_with_the_same_run_and_audit(
    logged_in: Login,
    admin_user: User,
    session: Session,
    session_factory: Callable[[], Session],
    job_settings: Settings,
) -> None:
    client = logged_in(admin_user)
    before = state(session)

    waiting = upload(client, GOOD)
    assert waiting.status_code == 200
    page = text(waiting)
    assert "background job" in page and "queued" in page and 'data-lms-refresh="2"' in page
    assert "Apply this plan" not in page
    job = queued_job(session, "imports.plan")
    assert job.args["actor_id"] == admin_user.id and job.args["kind"] == "users"
    assert job.args["rows"] == 3  # the CSV's lines less its header
    assert "ann@x.org" not in str(job.args)  # the ledger holds ids, not the file

    result = run(session_factory, job_settings, job)
    assert result["counts"]["create"] == 3 and result["error_count"] == 0
    planned = client.get(waiting.request.path)
    assert counts(planned)["create"] == 3 and "bob@x.org" in text(planned)
    assert "data-lms-refresh" not in text(planned)
    assert state(session) == {**before, "jobs": state(session)["jobs"]}  # a dry run

    applying = apply(client, plan_path(planned))
    assert applying.status_code == 200
    assert "applies its plan" in text(applying) and "data-lms-refresh" in text(applying)
    session.expire_all()
    assert not session.scalars(select(User).where(User.email == "ann@x.org")).first()
    again = apply(client, plan_path(planned))  # a second click queues nothing more
    assert "applies its plan" in text(again)
    apply_job = queued_job(session, "imports.apply")
    assert (
        session.scalar(select(Job.id).where(Job.kind == "imports.apply", Job.id != apply_job.id))
        is None
    )

    assert run(session_factory, job_settings, apply_job)["status"] == "applied"
    done = client.get(waiting.request.path, follow_redirects=True)
    assert "Applied import run" in flashes(done)
    assert done.request.path.startswith("/admin/importrun/details")
    session.expire_all()
    emails = set(session.scalars(select(User.email).where(User.external_id.like("S-%"))))
    assert emails == {"ann@x.org", "bob@x.org", "cy@x.org"}
    import_run = session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert import_run is not None and import_run.status == "applied"
    assert (import_run.actor_id, import_run.actor_label) == (admin_user.id, admin_user.email)
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == "import_run", AuditEntry.entity_id == import_run.id
        )
    ).one()
    assert entry.action == "import.apply" and entry.actor_id == admin_user.id

    later = client.get(waiting.request.path)  # the plan page now says where it went
    assert f"import run {import_run.id}" in text(later) and "Apply this plan" not in text(later)


def test_the_page_shows_the_job_status_and_the_progress_it_writes(
    logged_in: Login,
    admin_user: User,
    session: Session,
    session_factory: Callable[[], Session],
    job_settings: Settings,
) -> None:
    client = logged_in(admin_user)
    waiting = upload(
        client, HEADER + "".join(f"S-{i},u{i}@x.org,U {i},student\n" for i in range(40))
    )
    job = queued_job(session, "imports.plan")
    claimed = ledger.claim(session_factory, job_settings, job.id, worker="w1")
    assert claimed is not None
    stage = stage_at(job_settings, stage_id(waiting))
    assert stage is not None
    ProgressFile(stage, "plan", job.args["rows"])("users", 1200)
    page = text(client.get(waiting.request.path))
    assert "running" in page
    assert re.search(r"<b>users</b>: 1,200\s+of about 40 rows read", page), page
    assert 'data-lms-refresh="2"' in page

    assert ledger.run_claimed(session_factory, job_settings, claimed).status == "succeeded"
    assert not stage.progress.exists() and not stage.inputs.exists()
    assert counts(client.get(waiting.request.path))["create"] == 40


def test_a_large_file_with_mistakes_shows_its_lines_and_a_stale_plan_is_refused(
    logged_in: Login,
    admin_user: User,
    make: Factories,
    session: Session,
    session_factory: Callable[[], Session],
    job_settings: Settings,
) -> None:
    client = logged_in(admin_user)
    refused = upload(client, BAD)
    run(session_factory, job_settings, queued_job(session, "imports.plan"))
    shown = client.get(refused.request.path)
    assert problems(shown)[0][:2] == ("3", "email") and "Apply this plan" not in text(shown)

    ann = make.user("student", email="ann@x.org", name="Ann", external_id="S-1")
    planned = upload(client, GOOD.replace("Ann,", "Ann Smith,"))
    run(session_factory, job_settings, queued_job(session, "imports.plan"))
    path = plan_path(client.get(planned.request.path))
    users_service.update_user(
        session, actor=Actor.operator("pytest"), email=ann.email, data=UserUpdate(full_name="Ann B")
    )
    session.flush()
    apply(client, path)
    assert run(session_factory, job_settings, queued_job(session, "imports.apply"))["status"] == (
        "refused"
    )
    answer = client.get(planned.request.path)
    assert answer.status_code == 409
    assert "data changed since" in flashes(answer)
    assert any(column == "full_name" for _, column, _ in problems(answer))
    session.expire_all()
    assert session.get(User, ann.id).full_name == "Ann B"  # type: ignore[union-attr]
    assert not session.scalars(select(User).where(User.email == "bob@x.org")).first()


def test_a_cancelled_job_is_said_and_the_page_stops_reloading(
    logged_in: Login, admin_user: User, session: Session, settings: Settings
) -> None:
    from lms_core.jobs.admin import cancel

    client = logged_in(admin_user)
    waiting = upload(client, GOOD)
    job = queued_job(session, "imports.plan")
    cancel(session, actor=Actor.operator("pytest"), job_id=job.id)
    session.flush()
    page = text(client.get(waiting.request.path))
    assert "was cancelled" in page and "data-lms-refresh" not in page
    assert "Apply this plan" not in page
    stage = stage_at(settings, stage_id(waiting))
    assert stage is not None and stage.inputs.is_dir()  # kept: Jobs -> Retry plans it again
    stage.discard_inputs()


def test_a_workbook_counts_by_its_bytes_not_its_line_ends(
    logged_in: Login, admin_user: User, session: Session
) -> None:
    """A small XLSX of 3 rows is planned in the request (a zip's line ends count nothing)."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for line in GOOD.splitlines():
        sheet.append(line.split(","))
    data = io.BytesIO()
    book.save(data)
    planned = upload(logged_in(admin_user), data.getvalue(), name="staff.xlsx")
    assert counts(planned)["create"] == 3
    session.expire_all()
    assert session.scalars(select(Job).where(Job.kind == "imports.plan")).first() is None


def test_a_failed_attempt_says_when_it_is_tried_again_in_the_viewers_zone(
    logged_in: Login, admin_user: User, session: Session, job_settings: Settings
) -> None:
    """The retry time is a ``<time datetime>`` lms-admin.js can read (ISO 8601, one zone)."""
    from datetime import UTC, datetime

    from lms_core.models.jobs import JobStatus

    client = logged_in(admin_user)
    waiting = upload(client, GOOD)
    job = queued_job(session, "imports.plan")
    job.status, job.error = JobStatus.failed.value, "OperationalError: the database went away"
    job.run_at = datetime(2026, 12, 7, 3, 4, 5, tzinfo=UTC)
    session.commit()
    page = text(client.get(waiting.request.path))
    assert "tried again at" in page and "the database went away" in page
    found = re.search(r'<time[^>]* datetime="([^"]+)">2026-12-07 03:04</time>', page)
    assert found, page
    assert datetime.fromisoformat(found.group(1)) == job.run_at
    stage = stage_at(job_settings, stage_id(waiting))
    assert stage is not None
    stage.discard_inputs()
