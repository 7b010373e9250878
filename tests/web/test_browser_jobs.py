"""In Chromium: a large import followed while jobs plan and apply it (the page reloads itself,
through lms-admin.js: no inline script), and the create forms of quizzes and assignments
and the certificate reinstate page, each free of Content-Security-Policy refusals.

Files of more than 2 rows count as large here (``LMS_IMPORT_JOB_ROWS=2`` for this server).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from lms_core.db import make_session_factory
from lms_core.imports.staged import ProgressFile, stage_at
from lms_core.jobs import ledger
from lms_core.models import Certificate, User
from lms_core.models.jobs import Job
from tests.web.browser_support import (
    ADMIN,
    CERTIFICATE,
    Console,
    LiveServer,
    chromium_or_stop,
    live_server,
    shoot,
)
from tests.web.test_browser import log_in, upload

ROWS = "".join(f"JOB-{i},job{i}.brw@example.org,Job Browser {i},student,true\n" for i in range(5))
USERS = "external_id,email,full_name,role,is_active\n" + ROWS


@pytest.fixture(scope="module")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    chromium_or_stop()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LMS_IMPORT_JOB_ROWS", "2")
        with live_server(db_url, tmp_path_factory.mktemp("browser-jobs")) as running:
            assert running.settings.import_job_rows == 2
            yield running


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-GB", timezone_id="Europe/Paris"
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())
    console.attach(tab)
    yield tab
    context.close()
    console.check()


@pytest.fixture
def console() -> Console:
    return Console()


def _queued(server: LiveServer, kind: str) -> Job:
    with server.engine.connect() as conn:
        row = conn.execute(
            select(Job.id, Job.args).where(Job.kind == kind, Job.status == "queued")
        ).one()
    return Job(id=row.id, args=row.args)


def test_a_large_import_is_followed_while_jobs_plan_and_apply_it(
    page: Any, server: LiveServer, console: Console
) -> None:
    factory = make_session_factory(server.engine)
    log_in(page, server, ADMIN[0], ADMIN[3], console)
    upload(page, server, "many-users.csv", USERS)
    assert "queued" in page.locator(".lms-job-status").inner_text()
    assert page.locator("[data-lms-refresh]").count() == 1
    job = _queued(server, "imports.plan")
    claimed = ledger.claim(factory, server.settings, job.id, worker="browser-test")
    assert claimed is not None
    stage = stage_at(server.settings, str(job.args["stage"]))
    assert stage is not None
    ProgressFile(stage, "plan", job.args["rows"])("users", 3)
    page.reload()
    assert "3 of about 5 rows read" in " ".join(
        page.locator(".lms-progress-figure").inner_text().split()
    )
    assert page.locator("progress.lms-progress").count() == 1
    shoot(page, "import-progress")
    console.check()

    ledger.run_claimed(factory, server.settings, claimed)
    page.wait_for_selector("[data-count=create]", timeout=15_000)  # the page reloaded itself
    assert page.locator("[data-count=create]").inner_text().strip() == "5"
    console.check()

    page.click("button:has-text('Apply this plan')")
    page.wait_for_selector(".lms-job-status")
    ledger.run_job(factory, server.settings, _queued(server, "imports.apply").id)
    page.wait_for_url("**/admin/importrun/details/**", timeout=15_000)
    assert "Applied import run" in page.locator(".alert").first.inner_text()
    console.check()
    with server.engine.connect() as conn:
        made = conn.execute(select(User.email).where(User.external_id.like("JOB-%"))).scalars()
        assert len(list(made)) == 5


def test_create_forms_and_reinstate_in_the_browser(
    page: Any, server: LiveServer, console: Console
) -> None:
    log_in(page, server, ADMIN[0], ADMIN[3], console)
    page.goto(server.at("/admin/quiz/new/"))
    assert page.locator("select#lesson").count() == 1
    assert "add one under Lessons" in page.inner_text("body")  # the demo's quiz lessons have theirs
    shoot(page, "quiz-create")
    console.check()

    page.goto(server.at("/admin/assignment/new/"))
    page.select_option("#place", index=0)
    page.fill("#title", "Browser homework")
    page.fill("#max_points", "-1")
    page.click("input[type=submit]")
    assert page.locator("#max_points.is-invalid").count() == 1
    assert "must be more than 0" in page.inner_text("body")
    shoot(page, "assignment-create-error")
    page.fill("#max_points", "20")
    page.fill("#due_date", "2030-06-01")
    page.click("input[type=submit]")
    assert "Created assignment" in page.locator(".alert-success").first.inner_text()
    console.check()

    with server.engine.connect() as conn:
        cert_id = conn.execute(
            select(Certificate.id).where(Certificate.number == CERTIFICATE)
        ).scalar_one()
    page.goto(server.at(f"/admin/certificate/revoke/?id={cert_id}"))
    page.fill("#reason", "Browser test")
    page.click("button:has-text('Revoke')")
    page.goto(server.at(f"/admin/certificate/reinstate/?id={cert_id}"))
    shoot(page, "certificate-reinstate", full_page=False)
    page.click("button:has-text('Reinstate')")
    assert f"Reinstated 1 certificate(s): {CERTIFICATE}" in page.content()
    console.check()
    response = page.goto(server.at("/favicon.ico"))
    assert response is not None and response.status == 200
