"""Claims at scale and claims that last: due jobs read by index (no sort of every due row),
leases renewed while a handler runs, and outcomes fenced by each claim's own token."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text, update
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.jobs import admin, ledger
from lms_core.models import Job, utcnow
from lms_core.ops import schema
from lms_core.settings import Settings
from tests.conftest import cheap_settings

Factory = Callable[[], Session]


def _enqueue(factory: Factory, kind: str = "maintenance.ping", args=None, **kw) -> int:
    with unit_of_work(factory) as session:
        return ledger.enqueue(session, kind, args or {}, **kw).id


def _set(factory: Factory, job_id: int, **values) -> None:
    with unit_of_work(factory) as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


def _job(factory: Factory, job_id: int) -> Job:
    with unit_of_work(factory, write=False) as session:
        return session.get_one(Job, job_id)


def test_claims_go_oldest_first_across_queued_failed_and_expired(
    session_factory: Factory, settings: Settings
) -> None:
    now = utcnow()
    queued = _enqueue(session_factory, run_at=now - timedelta(minutes=1))
    failed = _enqueue(session_factory)
    _set(session_factory, failed, status="failed", attempts=1, run_at=now - timedelta(minutes=3))
    expired = _enqueue(session_factory, max_attempts=3)
    _set(
        session_factory,
        expired,
        status="running",
        attempts=1,
        worker="gone:1",
        run_at=now - timedelta(minutes=2),
        lease_until=now - timedelta(seconds=5),
    )
    held = _enqueue(session_factory)
    _set(session_factory, held, status="running", attempts=1, lease_until=now + timedelta(hours=1))
    _enqueue(session_factory, run_at=now + timedelta(hours=1))  # not due
    with unit_of_work(session_factory, write=False) as session:
        assert ledger.due_ids(session) == [failed, expired, queued]
        assert ledger.due_ids(session, limit=2) == [failed, expired]
    order = []
    while (job := ledger.claim_due(session_factory, settings, worker="w")) is not None:
        order.append(job.id)
    assert order == [failed, expired, queued]


def test_a_claim_sorts_no_due_rows(
    session_factory: Factory, settings: Settings, engine: Engine
) -> None:
    """Every query a claim and a poll make reads its rows in index order: SQLite's plan has
    no TEMP B-TREE (a sort of every due row, per claim: quadratic when draining)."""
    for _ in range(3):
        _enqueue(session_factory)
    seen: list[tuple[str, object]] = []

    def remember(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM jobs" in statement:
            seen.append((statement, parameters))

    with session_factory() as probe:
        connection = probe.connection()
    event.listen(connection, "before_cursor_execute", remember)
    try:
        assert ledger.claim_due(session_factory, settings, worker="w") is not None
        with unit_of_work(session_factory, write=False) as session:
            assert len(ledger.due_ids(session)) == 2
    finally:
        event.remove(connection, "before_cursor_execute", remember)
    assert len(seen) >= 6  # three branches each
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL plans by table statistics; a tiny table is read whole
    for statement, parameters in seen:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        details = " | ".join(str(row[-1]) for row in plan)
        assert "TEMP B-TREE" not in details and "MULTI-INDEX OR" not in details, (
            statement,
            details,
        )
        assert "USING" in details and "INDEX" in details, (statement, details)


def test_a_retried_job_is_not_recorded_by_a_late_worker_of_an_earlier_claim(
    session_factory: Factory, settings: Settings
) -> None:
    """Worker and attempts repeat after ``jobs retry`` resets a job's attempts: only the
    claim's own token tells the claims apart."""
    job_id = _enqueue(session_factory, args={"echo": "late"})
    late = ledger.claim(session_factory, settings, job_id, worker="host:1")
    assert late is not None and late.claim_token
    _set(session_factory, job_id, lease_until=utcnow() - timedelta(seconds=1))
    with unit_of_work(session_factory) as session:
        admin.cancel(session, actor=Actor.operator("pytest"), job_id=job_id)
        admin.retry(session, actor=Actor.operator("pytest"), job_id=job_id)
    again = ledger.claim(session_factory, settings, job_id, worker="host:1")
    assert again is not None and (again.worker, again.attempts) == (late.worker, late.attempts)
    assert again.claim_token != late.claim_token
    outcome = ledger.run_claimed(session_factory, settings, late)
    assert outcome.recorded is False
    assert _job(session_factory, job_id).status == "running"
    assert ledger.run_claimed(session_factory, settings, again).recorded is True
    assert _job(session_factory, job_id).status == "succeeded"


@pytest.fixture
def real_factory(scratch_url: str, tmp_path: Path) -> Iterator[tuple[Factory, Settings]]:
    """Its own database and engine: the renewer thread needs connections of its own."""
    settings = cheap_settings(scratch_url, tmp_path / "files").model_copy(
        update={"jobs_lease_seconds": 1}
    )
    engine = make_engine(settings)
    schema.upgrade(engine)
    try:
        yield make_session_factory(engine), settings
    finally:
        engine.dispose()


def test_a_handler_that_outlives_its_lease_keeps_its_job(
    real_factory: tuple[Factory, Settings],
) -> None:
    factory, settings = real_factory
    job_id = _enqueue(factory, "maintenance.touch", {"sleep": 2.5}, key="slow")
    outcomes: list[ledger.Outcome | None] = []
    runner = threading.Thread(
        target=lambda: outcomes.append(ledger.run_job(factory, settings, job_id, worker="w1"))
    )
    runner.start()
    try:
        time.sleep(0.3)
        assert _job(factory, job_id).worker == "w1"
        for _ in range(4):  # past the 1 s lease, several times: renewed every third of it
            time.sleep(0.5)
            assert ledger.claim_due(factory, settings, worker="w2") is None
            assert _job(factory, job_id).lease_until > utcnow()
    finally:
        runner.join(timeout=30)
    [outcome] = outcomes
    assert outcome is not None and outcome.status == "succeeded" and outcome.recorded
    done = _job(factory, job_id)
    assert (done.status, done.attempts, done.worker) == ("succeeded", 1, "w1")
    # Once the handler returned, nothing renews: the lease is gone with the claim.
    time.sleep(0.5)
    assert _job(factory, job_id).lease_until is None
    with factory() as session:
        assert session.execute(text("SELECT count(*) FROM jobs")).scalar() == 1
