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
from lms_core.jobs import groups, ledger, registry
from lms_core.jobs.heartbeat import RENEWER
from lms_core.jobs.registry import JobContext
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


def _fast(*kinds: str) -> groups.Pace:
    pace = groups.Pace()
    for kind in kinds or ("maintenance.ping",):
        pace.note(kind, 0.0001)
    return pace


GROUPABLE = "tests.groupable"


def _groupable(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """A groupable kind for these tests: sleeps, or leaves the process like ``sys.exit``."""
    time.sleep(float(args.get("sleep", 0)))
    if args.get("exit"):
        raise SystemExit("a library called sys.exit()")
    return {"job": ctx.job_id}


@pytest.fixture
def groupable_kind() -> Iterator[str]:
    registry.handler(GROUPABLE, max_attempts=3, lease_seconds=60, groupable=True)(_groupable)
    try:
        yield GROUPABLE
    finally:
        registry._handlers.pop(GROUPABLE, None)


def test_a_group_claim_gives_each_due_job_its_own_claim(
    session_factory: Factory, settings: Settings
) -> None:
    due = [_enqueue(session_factory) for _ in range(5)]
    later = _enqueue(session_factory, run_at=utcnow() + timedelta(hours=1))
    with unit_of_work(session_factory) as session:
        jobs = ledger.claim_group_in(session, settings, "w:1", ids=[*due, later], limit=10)
    assert sorted(j.id for j in jobs) == due
    assert len({j.claim_token for j in jobs} - {None}) == 5
    assert [j.attempts for j in jobs] == [1] * 5  # what each handler and outcome sees
    for job_id in due:
        row = _job(session_factory, job_id)
        counted = 1 if job_id == due[0] else 0  # the others count theirs with the outcome
        assert (row.status, row.attempts, row.worker) == ("running", counted, "w:1")
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
    pace.note("maintenance.ping", 1.0)
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
    assert claimed == [1, 1, 1]  # the last transaction only records: nothing left to claim


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
    own_factory: tuple[Factory, Settings], groupable_kind: str
) -> None:
    """While the first job of a group runs, another worker takes the second over (its lease
    expired): the group writes the first's outcome, not the second's."""
    session_factory, settings = own_factory
    slow = _enqueue(session_factory, groupable_kind, {"sleep": 0.4})
    taken = _enqueue(session_factory, groupable_kind)

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
    pace = _fast(groupable_kind)
    outcomes = groups.run_jobs(session_factory, settings, [slow, taken], pace=pace)
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


def test_the_pace_sizes_groups_by_recent_durations_of_each_kind() -> None:
    pace = groups.Pace()
    assert pace.size("a") == 1 and pace.size("a", 0) == 0  # nothing timed yet
    assert pace.most() == 1
    pace.note("a", 0.0001)
    assert pace.size("a") == groups.GROUP_MAX and pace.size("a", 7) == 7
    assert pace.size("b") == 1, "another kind's pace says nothing of b's"
    # the group is expected to take a tenth of the lease at most: 0.001 s / 0.0001 s
    assert pace.size("a", lease=0.01) == 10
    pace.note("b", 0.5)
    assert pace.size("a") == groups.GROUP_MAX and pace.most() == groups.GROUP_MAX
    pace.note("a", 0.5)  # one slow job: the next group of its kind is one job at once
    assert pace.size("a") == 1


def test_a_group_is_one_groupable_kind_and_other_kinds_go_alone(
    session_factory: Factory, settings: Settings
) -> None:
    ping1 = _enqueue(session_factory)
    touch1 = _enqueue(session_factory, "maintenance.touch")
    ping2, ping3 = _enqueue(session_factory), _enqueue(session_factory)
    touch2 = _enqueue(session_factory, "maintenance.touch")
    with unit_of_work(session_factory) as session:
        first = ledger.claim_group_in(session, settings, "w:1", limit=10)
    assert [j.id for j in first] == [ping1, ping2, ping3]
    with unit_of_work(session_factory) as session:
        second = ledger.claim_group_in(session, settings, "w:1", limit=10)
    assert [j.id for j in second] == [touch1], "maintenance.touch did not opt in"
    assert _job(session_factory, touch2).status == "queued"


def test_jobs_waiting_in_a_killed_group_keep_their_attempts(
    session_factory: Factory, settings: Settings
) -> None:
    """A worker claims a group and dies (nothing runs, nothing is recorded): once the leases
    expire, only the first job has spent its attempt; the others run as if never claimed."""
    ids = [_enqueue(session_factory, max_attempts=1) for _ in range(3)]
    with unit_of_work(session_factory) as session:
        group = ledger.claim_group_in(session, settings, "w:dead", limit=10)
    assert [j.id for j in group] == ids and [j.attempts for j in group] == [1, 1, 1]
    assert [_job(session_factory, i).attempts for i in ids] == [1, 0, 0]
    with unit_of_work(session_factory) as session:  # the killed worker's leases expire
        session.execute(
            update(Job).where(Job.id.in_(ids)).values(lease_until=utcnow() - timedelta(seconds=1))
        )
    outcomes = groups.run_due(session_factory, settings, worker="w:2", pace=_fast())
    assert [(o.job_id, o.status, o.attempt) for o in outcomes] == [
        (ids[1], "succeeded", 1),
        (ids[2], "succeeded", 1),
    ]
    rows = [_job(session_factory, i) for i in ids]
    assert [(r.status, r.attempts) for r in rows] == [
        ("dead", 1),
        ("succeeded", 1),
        ("succeeded", 1),
    ]
    assert "stopped holding it" in (rows[0].error or "")


def test_a_base_exception_out_of_a_group_releases_every_claim(
    session_factory: Factory, settings: Settings, groupable_kind: str
) -> None:
    ids = [
        _enqueue(session_factory, groupable_kind),
        _enqueue(session_factory, groupable_kind, {"exit": True}),
        _enqueue(session_factory, groupable_kind),
    ]
    with pytest.raises(SystemExit):
        groups.run_jobs(session_factory, settings, ids, worker="w:1", pace=_fast(groupable_kind))
    rows = [_job(session_factory, i) for i in ids]
    assert [r.status for r in rows] == ["running"] * 3, "claimed in one group"
    tokens = {r.claim_token for r in rows}
    assert not tokens & set(RENEWER._held), "the renewer would hold them for ever"


def test_wake_ups_go_in_chunks_shared_by_several_workers() -> None:
    assert chunks([]) == []
    assert chunks([7]) == [[7]]
    many = chunks(list(range(10_000)))
    assert len(many) == 10_000 // CHUNK_MAX and {len(c) for c in many} == {CHUNK_MAX}
    hundred = chunks(list(range(100)))
    assert len(hundred) >= SPREAD and [i for c in hundred for i in c] == list(range(100))
