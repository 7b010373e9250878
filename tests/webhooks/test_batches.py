"""Batched delivery (``webhooks.deliver_many``): one job per endpoint and transaction, one
connection, a failing delivery retried alone, the others recorded once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import select, update

from lms_core.db import unit_of_work
from lms_core.events import BATCH, record
from lms_core.models import utcnow
from lms_core.models.jobs import Job
from lms_core.settings import Settings
from lms_core.webhooks.delivery import sweep_dead
from tests.webhooks.conftest import Receiver, hook_settings
from tests.webhooks.helpers import Factory, add, deliveries, drain


def _record(factory: Factory, endpoint_ids: list[int], count: int) -> None:
    with unit_of_work(factory) as session:
        for i in range(count):
            record(session, "user.created", {"user_id": i}, endpoint_ids)


def _jobs(factory: Factory) -> list[Job]:
    with unit_of_work(factory, write=False) as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def test_one_batch_job_per_endpoint_and_transaction(
    session_factory: Factory, settings: Settings
) -> None:
    first = add(session_factory, settings, "https://hooks.example.org/a")
    second = add(session_factory, settings, "https://hooks.example.org/b")
    _record(session_factory, [first, second], BATCH + 5)
    jobs = _jobs(session_factory)
    assert [(j.kind, len(j.args["delivery_ids"])) for j in jobs] == [
        ("webhooks.deliver_many", BATCH),
        ("webhooks.deliver_many", BATCH),
        ("webhooks.deliver_many", 5),
        ("webhooks.deliver_many", 5),
    ]
    by_endpoint = {d.id: d.endpoint_id for d in deliveries(session_factory)}
    for job in jobs:  # a batch is one endpoint's
        assert len({by_endpoint[i] for i in job.args["delivery_ids"]}) == 1
    assert sum(len(j.args["delivery_ids"]) for j in jobs) == len(by_endpoint) == 2 * (BATCH + 5)


def test_a_failing_delivery_is_retried_alone_and_the_others_arrive_once(
    session_factory: Factory, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    # Retries an hour away: the first drain runs the batch only.
    slow_retry = hook_settings(
        settings, tmp_path, jobs_backoff_base_seconds=3600.0, jobs_backoff_max_seconds=3600.0
    )
    hook = add(session_factory, slow_retry, receiver.url)
    _record(session_factory, [hook], 6)
    ids = [d.id for d in deliveries(session_factory)]
    failing = ids[2]
    receiver.fail_ids.add(failing)
    [outcome] = drain(session_factory, slow_retry)
    assert outcome.kind == "webhooks.deliver_many" and outcome.status == "succeeded"
    got = [r.headers["Webhook-Id"] for r in receiver.requests]
    assert sorted(got) == sorted(ids) and all(r.signature_valid() for r in receiver.requests)
    assert len({r.peer for r in receiver.requests}) == 1  # one kept-alive connection
    state = {d.id: (d.status, d.attempts) for d in deliveries(session_factory)}
    assert state.pop(failing) == ("pending", 1)
    assert set(state.values()) == {("succeeded", 1)}
    _batch, retry = _jobs(session_factory)
    assert (retry.kind, retry.args, retry.status) == (
        "webhooks.deliver_many",
        {"delivery_ids": [failing]},
        "queued",
    )
    assert retry.run_at > utcnow()  # backoff
    with unit_of_work(session_factory) as session:
        assert sweep_dead(session) == 0  # its retry job is live
        session.execute(update(Job).where(Job.id == retry.id).values(run_at=utcnow()))
    receiver.fail_ids.clear()
    [again] = drain(session_factory, slow_retry)
    assert again.job_id == retry.id and again.status == "succeeded"
    sent = Counter(r.headers["Webhook-Id"] for r in receiver.requests)
    assert sent[failing] == 2 and all(sent[i] == 1 for i in ids if i != failing)
    assert {d.status for d in deliveries(session_factory)} == {"succeeded"}


def test_a_batch_run_again_sends_only_what_is_not_recorded(
    session_factory: Factory, webhook_settings: Settings, receiver: Receiver
) -> None:
    from lms_core.webhooks.batch import deliver_many

    hook = add(session_factory, webhook_settings, receiver.url)
    _record(session_factory, [hook], 4)
    ids = [d.id for d in deliveries(session_factory)]
    assert deliver_many(session_factory, webhook_settings, ids[:2]) == {
        "deliveries": 2,
        "succeeded": 2,
    }
    # The whole batch again (a worker killed after recording the first two).
    summary = deliver_many(session_factory, webhook_settings, ids)
    assert summary == {"deliveries": 4, "already succeeded": 2, "succeeded": 2}
    assert Counter(r.headers["Webhook-Id"] for r in receiver.requests) == Counter(ids)


def test_an_endpoint_down_stops_the_batch_without_counting_the_rest(
    session_factory: Factory, settings: Settings, tmp_path: Path
) -> None:
    slow_retry = hook_settings(
        settings, tmp_path, jobs_backoff_base_seconds=3600.0, jobs_backoff_max_seconds=3600.0
    )
    hook = add(session_factory, slow_retry, "http://127.0.0.1:9/hooks")  # nothing listens
    _record(session_factory, [hook], 5)
    [outcome] = drain(session_factory, slow_retry)
    assert outcome.status == "succeeded"
    assert sorted(d.attempts for d in deliveries(session_factory)) == [0, 0, 0, 0, 1]
    assert {d.status for d in deliveries(session_factory)} == {"pending"}
    batch, retry = _jobs(session_factory)
    assert retry.args["delivery_ids"] == batch.args["delivery_ids"]  # in the events' order
