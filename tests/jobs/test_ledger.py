"""The job ledger on a real database: enqueue by key, claim, leases, backoff, dead jobs, drain."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lms_core.db import unit_of_work
from lms_core.errors import Conflict, NotFound, ValidationError
from lms_core.jobs import groups, ledger
from lms_core.models import Job, utcnow
from lms_core.settings import Settings

Factory = Callable[[], Session]


@pytest.fixture
def jobs_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"jobs_backoff_base_seconds": 10.0, "jobs_backoff_max_seconds": 60.0}
    )


def _enqueue(factory: Factory, kind: str = "maintenance.ping", args=None, **kw) -> int:
    with unit_of_work(factory) as session:
        return ledger.enqueue(session, kind, args or {}, **kw).id


def _job(factory: Factory, job_id: int) -> Job:
    with unit_of_work(factory, write=False) as session:
        return session.get_one(Job, job_id)


def _make_due(factory: Factory, job_id: int, **values) -> None:
    with unit_of_work(factory) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(run_at=utcnow() - timedelta(seconds=1), **values)
        )


def test_the_same_key_queues_one_job(session: Session) -> None:
    first = ledger.enqueue(session, "maintenance.ping", {"echo": "a"}, key="ping:once")
    again = ledger.enqueue(session, "maintenance.ping", {"echo": "b"}, key="ping:once")
    assert again.id == first.id and again.args == {"echo": "a"}
    assert session.scalar(select(func.count()).select_from(Job)) == 1
    other = ledger.enqueue(session, "maintenance.ping", {})
    assert other.id != first.id and other.key.startswith("maintenance.ping:")
    assert session.info[ledger.QUEUED_INFO_KEY] == [first.id, other.id]


def test_enqueue_refuses_what_it_cannot_run(session: Session) -> None:
    with pytest.raises(NotFound, match=r"maintenance\.ping"):
        ledger.enqueue(session, "no.such.kind", {})
    with pytest.raises(ValidationError, match="plain JSON"):
        ledger.enqueue(session, "maintenance.ping", {"when": object()})
    ledger.enqueue(session, "maintenance.ping", {}, key="shared")
    with pytest.raises(Conflict, match=r"maintenance\.ping job"):
        ledger.enqueue(session, "maintenance.touch", {}, key="shared")
    with pytest.raises(ValidationError):
        ledger.enqueue(session, "maintenance.ping", {}, key="k" * 256)


def test_claim_takes_the_oldest_due_job_once(
    session_factory: Factory, jobs_settings: Settings
) -> None:
    later = _enqueue(session_factory, run_at=utcnow() + timedelta(hours=1))
    first = _enqueue(session_factory)
    second = _enqueue(session_factory)
    job = ledger.claim_due(session_factory, jobs_settings, worker="w1")
    assert job is not None and job.id == first
    stored = _job(session_factory, first)
    assert (stored.status, stored.attempts, stored.worker) == ("running", 1, "w1")
    assert stored.lease_until is not None and stored.lease_until > utcnow() + timedelta(seconds=50)
    assert ledger.claim(session_factory, jobs_settings, first, worker="w2") is None  # held
    assert ledger.claim(session_factory, jobs_settings, later, worker="w2") is None  # not due
    nxt = ledger.claim_due(session_factory, jobs_settings, worker="w2")
    assert nxt is not None and nxt.id == second
    assert ledger.claim_due(session_factory, jobs_settings, worker="w2") is None


def test_an_expired_lease_runs_the_job_again_and_the_late_worker_records_nothing(
    session_factory: Factory, jobs_settings: Settings
) -> None:
    job_id = _enqueue(session_factory, args={"echo": "again"}, max_attempts=3)
    lost = ledger.claim(session_factory, jobs_settings, job_id, worker="dead-worker")
    assert lost is not None
    # The worker died: its lease runs out.
    with unit_of_work(session_factory) as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1))
        )
    outcome = ledger.run_job(session_factory, jobs_settings, job_id, worker="w2")
    assert outcome is not None and outcome.status == "succeeded" and outcome.attempt == 2
    done = _job(session_factory, job_id)
    assert (done.status, done.attempts, done.worker) == ("succeeded", 2, "w2")
    assert done.result is not None and done.result["echo"] == "again"
    # The first worker was only slow: it finishes late, and its outcome is not written.
    late = ledger.run_claimed(session_factory, jobs_settings, lost)
    assert late.recorded is False
    assert _job(session_factory, job_id).worker == "w2"


def test_backoff_grows_is_jittered_and_capped() -> None:
    rng = random.Random(7)  # noqa: S311 - jitter, not a secret
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60), (30, 60)]:
        delays = [ledger.backoff_seconds(attempt, base=10, cap=60, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays), attempt
        assert max(delays) > ceiling * 0.8, "the jitter spans the whole range"
        assert len({round(d, 6) for d in delays}) > 150, "jittered, not fixed"


def test_failures_back_off_then_the_job_is_dead_and_says_why(
    session_factory: Factory, jobs_settings: Settings
) -> None:
    job_id = _enqueue(session_factory, args={"fail": "smtp down"}, max_attempts=3)
    before = utcnow()
    outcome = ledger.run_job(session_factory, jobs_settings, job_id)
    assert outcome is not None and outcome.status == "failed"
    job = _job(session_factory, job_id)
    assert job.status == "failed" and job.error == "RuntimeError: smtp down"
    assert before <= job.run_at <= utcnow() + timedelta(seconds=10)  # base 10 s, attempt 1
    assert job.finished_at is None and job.lease_until is None
    _make_due(session_factory, job_id)
    assert ledger.run_job(session_factory, jobs_settings, job_id).status == "failed"  # type: ignore[union-attr]
    _make_due(session_factory, job_id)
    last = ledger.run_job(session_factory, jobs_settings, job_id)
    assert last is not None and last.status == "dead"
    dead = _job(session_factory, job_id)
    assert dead.status == "dead" and dead.attempts == 3 and dead.finished_at is not None
    assert dead.error == "gave up after 3 attempts: RuntimeError: smtp down"
    assert ledger.claim(session_factory, jobs_settings, job_id, worker="w") is None


def test_a_worker_lost_on_the_last_attempt_leaves_a_dead_job(
    session_factory: Factory, jobs_settings: Settings
) -> None:
    job_id = _enqueue(session_factory, max_attempts=1)
    assert ledger.claim(session_factory, jobs_settings, job_id, worker="host:1") is not None
    with unit_of_work(session_factory) as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1))
        )
    assert ledger.claim_due(session_factory, jobs_settings, worker="w2") is None
    job = _job(session_factory, job_id)
    assert job.status == "dead"
    assert job.error is not None
    assert job.error.startswith("gave up after 1 attempts: worker host:1 stopped holding it")


def test_a_job_of_an_unknown_kind_fails_and_names_the_kinds(
    session_factory: Factory, jobs_settings: Settings
) -> None:
    with unit_of_work(session_factory) as session:
        job = Job(kind="gone.away", args={}, key="gone", max_attempts=1, run_at=utcnow())
        session.add(job)
        session.flush()
        job_id = job.id
    outcome = ledger.run_job(session_factory, jobs_settings, job_id)
    assert outcome is not None and outcome.status == "dead"
    assert "no handler for job kind 'gone.away'" in (outcome.error or "")


def test_run_due_runs_each_due_job_once(session_factory: Factory, jobs_settings: Settings) -> None:
    no_wait = jobs_settings.model_copy(update={"jobs_backoff_base_seconds": 0.0})
    ok = [_enqueue(session_factory, args={"echo": str(i)}) for i in range(3)]
    flaky = _enqueue(session_factory, args={"fail": "again"}, max_attempts=5)
    _enqueue(session_factory, run_at=utcnow() + timedelta(hours=1))
    outcomes = groups.run_due(session_factory, no_wait, worker="drain")
    assert sorted((o.job_id, o.status) for o in outcomes) == sorted(
        [*((i, "succeeded") for i in ok), (flaky, "failed")]
    )
    # Due again at once (no backoff), yet it ran once in that drain; the next drain retries it.
    assert _job(session_factory, flaky).attempts == 1
    again = groups.run_due(session_factory, no_wait, worker="drain")
    assert [(o.job_id, o.attempt) for o in again] == [(flaky, 2)]


def test_prune_jobs_deletes_only_old_finished_jobs(
    session_factory: Factory, jobs_settings: Settings
) -> None:
    old_done = _enqueue(session_factory)
    old_queued = _enqueue(session_factory)
    recent_done = _enqueue(session_factory)
    for job_id in (old_done, recent_done):
        ledger.run_job(session_factory, jobs_settings, job_id)
    with unit_of_work(session_factory) as session:
        session.execute(
            update(Job)
            .where(Job.id.in_([old_done, old_queued]))
            .values(
                finished_at=utcnow() - timedelta(days=31),
                created_at=utcnow() - timedelta(days=31),
            )
        )
    prune = _enqueue(session_factory, "maintenance.prune_jobs")
    outcome = ledger.run_job(session_factory, jobs_settings, prune)
    assert outcome is not None and outcome.status == "succeeded"
    with unit_of_work(session_factory, write=False) as session:
        left = set(session.scalars(select(Job.id)))
        assert session.get_one(Job, prune).result == {"deleted": 1, "days": 30}
    assert left == {old_queued, recent_done, prune}
