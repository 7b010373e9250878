"""Deliveries to a real HTTP receiver on 127.0.0.1: signature, log, retries, disabling, replay."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.db import unit_of_work
from lms_core.settings import Settings
from lms_core.webhooks.endpoints import replay, replay_since
from tests.webhooks.conftest import Receiver, hook_settings
from tests.webhooks.helpers import Factory, add, deliveries, drain, endpoint, new_user

OPERATOR = Actor.operator("pytest")


def test_user_created_is_posted_signed(
    session_factory: Factory, webhook_settings: Settings, receiver: Receiver
) -> None:
    hook = add(session_factory, webhook_settings, receiver.url, ["user.created"])
    user_id = new_user(session_factory)
    assert receiver.requests == []  # queued with the change, sent by the job
    [outcome] = drain(session_factory, webhook_settings)
    assert outcome.kind == "webhooks.deliver" and outcome.status == "succeeded"
    [got] = receiver.requests
    assert got.path == "/hooks" and got.signature_valid()
    assert not got.signature_valid("another-secret-entirely")
    assert abs(int(got.headers["Webhook-Timestamp"]) - time.time()) < 60
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"].startswith("lms-toolkit-webhooks/")
    assert got.headers["Host"] == f"127.0.0.1:{receiver.port}"
    body = got.json
    [delivery] = deliveries(session_factory)
    assert body["id"] == got.headers["Webhook-Id"] == delivery.id
    assert body["type"] == "user.created"
    assert body["data"] == {
        "user_id": user_id,
        "email": "ada@school.example",
        "full_name": "Ada Lovelace",
        "role": "student",
        "external_id": None,
        "is_active": True,
    }
    assert "password" not in got.body.decode() and "token" not in got.body.decode()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert delivery.endpoint_id == hook and delivery.delivered_at is not None
    assert delivery.last_duration_ms is not None and delivery.last_duration_ms >= 0
    assert delivery.response_excerpt is not None and len(delivery.response_excerpt) == 500
    assert drain(session_factory, webhook_settings) == []  # nothing sent twice


def test_500_is_retried_until_it_succeeds(
    session_factory: Factory, webhook_settings: Settings, receiver: Receiver
) -> None:
    add(session_factory, webhook_settings, receiver.url)
    new_user(session_factory)
    receiver.status = 500
    [first] = drain(session_factory, webhook_settings)
    assert first.status == "failed" and "HTTP 500" in (first.error or "")
    [delivery] = deliveries(session_factory)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert (delivery.response_excerpt or "").startswith("answer 500")
    drain(session_factory, webhook_settings)
    receiver.status = 204
    [last] = drain(session_factory, webhook_settings)
    assert last.status == "succeeded"
    [delivery] = deliveries(session_factory)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 204)
    assert len({r.headers["Webhook-Id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1  # the same body, re-signed
    assert endpoint(session_factory, delivery.endpoint_id).consecutive_failures == 0


def test_timeout_and_redirect_are_failures(
    session_factory: Factory, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    quick = hook_settings(settings, tmp_path, webhooks_timeout_seconds=0.3)
    add(session_factory, quick, receiver.url)
    receiver.delay = 1.0
    new_user(session_factory)
    [outcome] = drain(session_factory, quick)
    assert outcome.status == "failed"
    [delivery] = deliveries(session_factory)
    assert delivery.last_status_code is None and "timed out" in (delivery.response_excerpt or "")
    assert (delivery.last_duration_ms or 0) < 1000
    receiver.delay = 0.0
    receiver.status, receiver.location = 302, "http://10.0.0.1/internal"
    count = len(receiver.requests)
    drain(session_factory, quick)
    [delivery] = deliveries(session_factory)
    assert delivery.status == "pending" and delivery.last_status_code == 302
    assert "redirect to http://10.0.0.1/internal not followed" in (delivery.response_excerpt or "")
    assert len(receiver.requests) == count + 1  # the redirect was not followed anywhere


def test_endpoint_disabled_after_consecutive_failures(
    session_factory: Factory, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    strict = hook_settings(
        settings, tmp_path, webhooks_disable_after_failures=3, webhooks_disable_after_hours=0
    )
    hook = add(session_factory, strict, receiver.url)
    receiver.status = 500
    new_user(session_factory, "one@school.example")
    new_user(session_factory, "two@school.example")
    drain(session_factory, strict)  # 2 failures
    drain(session_factory, strict)  # the third disables it
    state = endpoint(session_factory, hook)
    assert not state.enabled and state.consecutive_failures == 3
    assert "disabled after 3 failed attempts in a row" in (state.disabled_reason or "")
    assert "HTTP 500" in (state.disabled_reason or "")
    assert [d.status for d in deliveries(session_factory)] == ["failed", "failed"]
    sent = len(receiver.requests)
    drain(session_factory, strict)
    new_user(session_factory, "three@school.example")  # a disabled endpoint gets no more
    drain(session_factory, strict)
    assert len(receiver.requests) == sent == 3
    assert len(deliveries(session_factory)) == 2


def test_replay_one_delivery_and_an_endpoint_since(
    session_factory: Factory, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    strict = hook_settings(
        settings, tmp_path, webhooks_disable_after_failures=2, webhooks_disable_after_hours=0
    )
    hook = add(session_factory, strict, receiver.url)
    receiver.status = 503
    new_user(session_factory, "one@school.example")
    new_user(session_factory, "two@school.example")
    drain(session_factory, strict)
    first, second = deliveries(session_factory)
    assert (first.status, second.status) == ("failed", "failed")
    receiver.status = 200
    with unit_of_work(session_factory) as session:
        _refused_while_disabled(session, first.id)
        from lms_core.webhooks.endpoints import set_enabled

        set_enabled(session, actor=OPERATOR, endpoint_id=hook, enabled=True)
    with unit_of_work(session_factory) as session:
        replay(session, actor=OPERATOR, delivery_id=first.id)
    drain(session_factory, strict)
    assert [r.headers["Webhook-Id"] for r in receiver.requests[-1:]] == [first.id]
    with unit_of_work(session_factory) as session:
        since = first.created_at
        would = replay_since(session, actor=OPERATOR, endpoint_id=hook, since=since, dry_run=True)
        assert [d.id for d in would] == [second.id]
        replay_since(session, actor=OPERATOR, endpoint_id=hook, since=since)
    drain(session_factory, strict)
    assert [d.status for d in deliveries(session_factory)] == ["succeeded", "succeeded"]
    assert receiver.requests[-1].headers["Webhook-Id"] == second.id
    assert receiver.requests[-1].signature_valid()


def _refused_while_disabled(session: Session, delivery_id: str) -> None:
    from lms_core.errors import Conflict

    try:
        replay(session, actor=OPERATOR, delivery_id=delivery_id)
    except Conflict as exc:
        assert "is disabled" in str(exc) and "enable it first" in str(exc)
    else:
        raise AssertionError("replay to a disabled endpoint was accepted")


def test_a_worker_keeps_its_connection_alive(
    session_factory: Factory, webhook_settings: Settings, receiver: Receiver
) -> None:
    from lms_core.webhooks.http import close_connections

    close_connections()
    add(session_factory, webhook_settings, receiver.url)
    for n in range(3):
        new_user(session_factory, f"user{n}@school.example")
    outcomes = drain(session_factory, webhook_settings)
    assert [o.status for o in outcomes] == ["succeeded"] * 3
    assert len({r.peer for r in receiver.requests}) == 1  # one TCP connection for three posts
    close_connections()
    new_user(session_factory, "later@school.example")
    drain(session_factory, webhook_settings)
    assert len({r.peer for r in receiver.requests}) == 2


def test_a_kept_alive_connection_the_server_closed_is_replaced(
    session_factory: Factory, webhook_settings: Settings, receiver: Receiver
) -> None:
    from lms_core.webhooks.http import close_connections

    close_connections()
    receiver.drop_connections = True
    add(session_factory, webhook_settings, receiver.url)
    for n in range(3):
        new_user(session_factory, f"user{n}@school.example")
    outcomes = drain(session_factory, webhook_settings)
    assert [o.status for o in outcomes] == ["succeeded"] * 3
    assert len(receiver.requests) == 3 and len({r.peer for r in receiver.requests}) == 3
    close_connections()
