"""Jobs claimed, run and recorded in groups: each job its own claim, token, lease and attempt;
each outcome fenced by its own token; the group as large as the recent pace allows; wake-ups
sent in chunks of ids."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from jobs.wakeup import CHUNK_MAX, SPREAD, chunks
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.jobs import groups, ledger
from lms_core.models import Job, utcnow
from lms_core.ops import schema
from lms_core.settings import Settings
from tests.conftest import cheap_settings

Factory = Callable[[], Session]


def _enqueue(factory: Factory, kind: str = "maintenance.ping", args=None, **kw) -> int:
    with unit_of_work(factory) as session:
        return ledger.enqueue(session, kind, args or {}, **kw).id


def _job(factory: Factory, job_id: int) -> Job:
    with unit_of_work(factory, write=False) as session:
        return session.get_one(Job, job_id)


def _fast() -> groups.Pace:
    pace = groups.Pace()
    pace.note(0.0001)
    return pace


def test_a_group_claim_gives_each_due_job_its_own_claim(
    session_factory: Factory, settings: Settings
) -> None:
    due = [_enqueue(session_factory) for _ in range(5)]
    later = _enqueue(session_factory, run_at=utcnow() + timedelta(hours=1))
    with unit_of_work(session_factory) as session:
        jobs = ledger.claim_group_in(session, settings, "w:1", ids=[*due, later], limit=10)
    assert sorted(j.id for j in jobs) == due
    assert len({j.claim_token for j in jobs} - {None}) == 5
    for job_id in due:
        row = _job(session_factory, job_id)
        assert (row.status, row.attempts, row.worker) == ("running", 1, "w:1")
        assert row.lease_until is not None and row.lease_until > utcnow()
    assert _job(session_factory, later).status == "queued"
    with unit_of_work(session_factory) as session:  # held now: nothing left to claim
        assert ledger.claim_group_in(session, settings, "w:2", ids=due, limit=10) == []


def test_run_jobs_runs_the_due_ones_in_one_group_and_records_each(
    session_factory: Factory, settings: Settings
) -> None:
    pings = [_enqueue(session_factory, args={"echo": i}) for i in range(6)]
    failing = _enqueue(session_factory, args={"fail": "relay down"}, max_attempts=3)
    held = _enqueue(session_factory)
    with unit_of_work(session_factory) as session:
        session.execute(
            update(Job)
            .where(Job.id == held)
            .values(status="running", attempts=1, lease_until=utcnow() + timedelta(hours=1))
        )
    outcomes = groups.run_jobs(
        session_factory, settings, [*pings, failing, held, pings[0]], worker="w:1", pace=_fast()
    )
    assert sorted((o.job_id, o.status) for o in outcomes) == sorted(
        [(p, "succeeded") for p in pings] + [(failing, "failed")]
    )
    assert all(o.recorded for o in outcomes)
    rows = [_job(session_factory, i) for i in [*pings, failing]]
    assert [r.result for r in rows[:6]] == [
        {"echo": i, "pid": rows[0].result["pid"], "attempt": 1}  # type: ignore[index]
        for i in range(6)
    ]
    assert (rows[6].status, rows[6].error) == ("failed", "RuntimeError: relay down")
    assert len({r.started_at for r in rows}) == 1, "claimed in one transaction"
    assert {r.lease_until for r in rows} == {None}
    assert _job(session_factory, held).status == "running"  # another worker's: left alone


def test_a_slow_pace_claims_one_job_at_a_time(
    session_factory: Factory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pace = groups.Pace()
    pace.note(1.0)
    ids = [_enqueue(session_factory) for _ in range(3)]
    claimed: list[int] = []
    real = ledger.claim_group_in

    def counted(*args: Any, **kwargs: Any) -> list[Job]:  # the real claim, counted
        found = real(*args, **kwargs)
        claimed.append(len(found))
        return found

    monkeypatch.setattr(ledger, "claim_group_in", counted)
    outcomes = groups.run_jobs(session_factory, settings, ids, worker="w:1", pace=pace)
    assert [o.status for o in outcomes] == ["succeeded"] * 3
    assert claimed == [1, 1, 1, 0]  # the last transaction only records


@pytest.fixture
def own_factory(scratch_url: str, tmp_path: Path) -> Iterator[tuple[Factory, Settings]]:
    """Its own database and engine: two threads need connections of their own."""
    settings = cheap_settings(scratch_url, tmp_path / "files")
    engine = make_engine(settings)
    schema.upgrade(engine)
    try:
        yield make_session_factory(engine), settings
    finally:
        engine.dispose()


def test_an_outcome_in_a_group_is_fenced_by_its_own_token(
    own_factory: tuple[Factory, Settings],
) -> None:
    """While the first job of a group runs, another worker takes the second over (its lease
    expired): the group writes the first's outcome, not the second's."""
    session_factory, settings = own_factory
    slow = _enqueue(session_factory, "maintenance.touch", {"sleep": 0.4})
    taken = _enqueue(session_factory)

    def take_over() -> None:
        deadline = time.monotonic() + 10
        while _job(session_factory, taken).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with unit_of_work(session_factory) as session:
            session.execute(
                update(Job).where(Job.id == taken).values(claim_token="other", worker="w:2")
            )

    thief = threading.Thread(target=take_over)
    thief.start()
    outcomes = groups.run_jobs(session_factory, settings, [slow, taken], pace=_fast())
    thief.join()
    by_id = {o.job_id: o for o in outcomes}
    assert by_id[slow].recorded and _job(session_factory, slow).status == "succeeded"
    assert not by_id[taken].recorded
    row = _job(session_factory, taken)
    assert (row.status, row.claim_token, row.worker) == ("running", "other", "w:2")


def test_run_due_drains_in_groups_and_honours_the_limit(
    session_factory: Factory, settings: Settings
) -> None:
    ids = [_enqueue(session_factory) for _ in range(10)]
    first = groups.run_due(session_factory, settings, worker="w:1", limit=4, pace=_fast())
    assert [o.job_id for o in first] == ids[:4]
    rest = groups.run_due(session_factory, settings, worker="w:1", pace=_fast())
    assert [o.job_id for o in rest] == ids[4:]
    assert groups.run_due(session_factory, settings, worker="w:1", pace=_fast()) == []


def test_the_pace_sizes_groups_by_recent_durations() -> None:
    pace = groups.Pace()
    assert pace.size() == 1 and pace.size(0) == 0  # nothing timed yet
    pace.note(0.0001)
    assert pace.size() == groups.GROUP_MAX and pace.size(7) == 7
    pace.note(0.5)  # one slow job: the next group is one job at once
    assert pace.size() == 1


def test_wake_ups_go_in_chunks_shared_by_several_workers() -> None:
    assert chunks([]) == []
    assert chunks([7]) == [[7]]
    many = chunks(list(range(10_000)))
    assert len(many) == 10_000 // CHUNK_MAX and {len(c) for c in many} == {CHUNK_MAX}
    hundred = chunks(list(range(100)))
    assert len(hundred) >= SPREAD and [i for c in hundred for i in c] == list(range(100))
