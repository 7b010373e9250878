"""Jobs queued in the caller's transaction: woken only after it commits, one per key even
when two transactions race for the same key (scratch database: real commits, two sessions)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from jobs.wakeup import attach
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.jobs import ledger
from lms_core.models import Job
from lms_core.ops import schema
from tests.conftest import cheap_settings


@pytest.fixture
def scratch(scratch_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(cheap_settings(scratch_url, tmp_path / "files"))
    schema.upgrade(engine)
    yield engine
    engine.dispose()


def test_a_worker_is_woken_after_the_commit_never_after_a_rollback(scratch: Engine) -> None:
    factory: sessionmaker[Session] = make_session_factory(scratch)
    woken: list[int] = []
    attach(factory, woken.extend)
    with pytest.raises(RuntimeError), unit_of_work(factory) as session:
        ledger.enqueue(session, "maintenance.ping", {}, key="rolled-back")
        raise RuntimeError("the change that caused it failed")
    assert woken == []
    with unit_of_work(factory) as session:
        job_id = ledger.enqueue(session, "maintenance.ping", {}, key="kept").id
        assert woken == [], "woken before the commit"
    assert woken == [job_id]
    with unit_of_work(factory) as session:
        assert ledger.enqueue(session, "maintenance.ping", {}, key="kept").id == job_id
    assert woken == [job_id], "an existing job is not a new one"
    with unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_two_transactions_racing_for_one_key_make_one_job(scratch: Engine) -> None:
    """The first holds its uncommitted job while the second enqueues the same key: the second
    waits (the unique key on PostgreSQL, the write lock on SQLite), then gets the first's."""
    factory = make_session_factory(scratch)
    flushed, results, errors = threading.Event(), {}, []

    def first() -> None:
        try:
            with unit_of_work(factory) as session:
                results["first"] = ledger.enqueue(session, "maintenance.ping", {}, key="race").id
                flushed.set()
                threading.Event().wait(0.5)  # hold the transaction open
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            flushed.set()

    def second() -> None:
        flushed.wait(10)
        try:
            with unit_of_work(factory) as session:
                job = ledger.enqueue(session, "maintenance.ping", {"late": True}, key="race")
                results["second"] = job.id
                results["args"] = job.args
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert results["first"] == results["second"] and results["args"] == {}
    with unit_of_work(factory, write=False) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1
