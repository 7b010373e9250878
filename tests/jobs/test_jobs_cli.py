"""lmsctl jobs list/show/retry/cancel/run-due against the test's database; admins only."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from lms_core.db import unit_of_work
from lms_core.jobs import ledger
from lms_core.jobs.maintenance import touch_path
from lms_core.models import Job, utcnow
from lms_core.settings import Settings
from tests.cli.helpers import audit_count, ok, ok_json, refused, refused_json
from tests.conftest import Cli

Factory = Callable[[], Session]


@pytest.fixture
def jobs_cli(settings: Settings, session_factory: Factory, tmp_path: Path) -> Cli:
    own = settings.model_copy(
        update={
            "huey_url": f"sqlite:///{tmp_path / 'huey.db'}",
            "files_dir": tmp_path / "files",
            "jobs_backoff_base_seconds": 0.0,
        }
    )
    return Cli(own, session_factory)


def _enqueue(factory: Factory, kind: str = "maintenance.ping", args=None, **kw) -> int:
    with unit_of_work(factory) as session:
        return ledger.enqueue(session, kind, args or {}, **kw).id


def _status(factory: Factory, job_id: int) -> tuple[str, int]:
    with unit_of_work(factory, write=False) as session:
        job = session.get_one(Job, job_id)
        return job.status, job.attempts


def _within_one_minute() -> None:
    """Wait for a fresh minute when this one is nearly over: the every-minute periodic
    entries get a new slot when the minute turns, and the test compares two drains."""
    second = utcnow().second
    if second >= 45:
        time.sleep(61 - second)


def test_run_due_runs_every_due_job_and_exits_0(jobs_cli: Cli, session_factory: Factory) -> None:
    _within_one_minute()
    ids = [_enqueue(session_factory, "maintenance.touch", key=f"t{i}") for i in range(3)]
    data = ok_json(jobs_cli("jobs", "run-due", "--json"))
    assert data["ok"] is True and data["refused_entries"] == []
    ran = {job["id"]: job["status"] for job in data["jobs"]}
    assert all(ran[i] == "succeeded" for i in ids)
    assert "prune-jobs" in data["periodic"]
    files = jobs_cli.settings.files_dir
    assert all(touch_path(files, f"t{i}").read_text() == f"t{i}\n" for i in range(3))
    # The periodic slot is queued once: a second drain queues and runs nothing again.
    again = ok_json(jobs_cli("jobs", "run-due", "--json"))
    assert again["jobs"] == [] and again["periodic"] == data["periodic"]


def test_run_due_exits_1_naming_the_failed_job(jobs_cli: Cli, session_factory: Factory) -> None:
    good = _enqueue(session_factory)
    bad = _enqueue(session_factory, args={"fail": "relay refused"}, max_attempts=2)
    result = jobs_cli("jobs", "run-due")
    assert result.exit_code == 1, result.output
    assert f"job {good} maintenance.ping: succeeded" in result.stdout
    assert (
        f"error: job: {bad} (maintenance.ping) failed: RuntimeError: relay refused"
        in result.stderr.splitlines()
    )
    assert _status(session_factory, bad) == ("failed", 1)
    data = jobs_cli("jobs", "run-due", "--json")
    assert data.exit_code == 1
    assert '"status": "dead"' in data.stdout


def test_list_show_retry_cancel(jobs_cli: Cli, session_factory: Factory, session: Session) -> None:
    dead = _enqueue(session_factory, args={"fail": "boom"}, max_attempts=1)
    queued = _enqueue(session_factory, run_at=utcnow() + timedelta(hours=1))
    ledger.run_job(session_factory, jobs_cli.settings, dead)

    rows = ok_json(jobs_cli("jobs", "list", "--status", "dead", "--json"))
    assert [r["id"] for r in rows] == [dead]
    assert rows[0]["error"] == "gave up after 1 attempts: RuntimeError: boom"
    refused_json(jobs_cli("jobs", "list", "--status", "stuck", "--json"), "status")
    shown = ok_json(jobs_cli("jobs", "show", str(dead), "--json"))
    assert shown["args"] == {"fail": "boom"} and shown["result"] is None
    refused_json(jobs_cli("jobs", "show", "999999", "--json"), "id", contains="no job")

    audits = audit_count(session, "job.retry")
    ok(jobs_cli("jobs", "retry", str(dead)))
    assert _status(session_factory, dead) == ("queued", 0)
    assert audit_count(session, "job.retry") == audits + 1
    refused(jobs_cli("jobs", "retry", str(queued)), "id", contains="only a dead, failed")

    ok(jobs_cli("jobs", "cancel", str(queued)))
    assert _status(session_factory, queued) == ("cancelled", 0)
    refused(jobs_cli("jobs", "cancel", str(queued)), "id", contains="cancelled already")


def test_a_running_job_is_cancelled_only_once_its_lease_expired(
    jobs_cli: Cli, session_factory: Factory
) -> None:
    job_id = _enqueue(session_factory, max_attempts=3)
    assert ledger.claim(session_factory, jobs_cli.settings, job_id, worker="busy:1") is not None
    refused(jobs_cli("jobs", "cancel", str(job_id)), "id", contains="running on busy:1")
    with unit_of_work(session_factory) as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1))
        )
    ok(jobs_cli("jobs", "cancel", str(job_id)))
    assert _status(session_factory, job_id) == ("cancelled", 1)


def test_jobs_commands_are_for_administrators(
    jobs_cli: Cli, session_factory: Factory, make
) -> None:
    teacher = make.user("instructor")
    job_id = _enqueue(session_factory)
    for args in (["list"], ["show", str(job_id)], ["run-due"], ["worker"]):
        refused_json(jobs_cli("jobs", *args, "--json", as_=teacher.email), "as")
    assert _status(session_factory, job_id) == ("queued", 0)


def test_a_queue_url_it_cannot_use_is_refused_in_one_line(
    jobs_cli: Cli, session_factory: Factory
) -> None:
    bad = Cli(jobs_cli.settings.model_copy(update={"huey_url": "amqp://broker"}), session_factory)
    for command in ("run-due", "worker"):
        refused(bad(*["jobs", command]), None, contains="huey_url: unsupported scheme in 'amqp'")
