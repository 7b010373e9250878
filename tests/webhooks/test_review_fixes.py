"""Review fixes: replay --dry-run queues nothing, the signature covers the id, a total request
timeout, deliveries of jobs that died on the last attempt, embedded IPv4 in IPv6, a race on
an event key."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from lms_core.db import unit_of_work
from lms_core.jobs.registry import get_handler
from lms_core.models import utcnow
from lms_core.models.jobs import Job
from lms_core.models.webhooks import Event
from lms_core.settings import Settings
from lms_core.webhooks import http
from lms_core.webhooks.signing import headers_for
from tests.cli.helpers import ok, ok_json, refused
from tests.conftest import Cli
from tests.webhooks.conftest import SECRET, Receiver, hook_settings
from tests.webhooks.helpers import Factory, add, deliveries, drain, new_user


def _jobs(factory: Factory) -> int:
    with unit_of_work(factory, write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def test_replay_one_delivery_dry_run_queues_nothing(
    hook_cli: Cli, receiver: Receiver, secret_file: Path, session_factory: Factory
) -> None:
    args = ["webhooks", "add", receiver.url, "--all", "--secret-file", str(secret_file)]
    hook = str(ok_json(hook_cli(*args, "--json"))["id"])
    receiver.status = 500
    refused(hook_cli("webhooks", "test", hook), "url", contains="HTTP 500")
    [dead] = ok_json(hook_cli("webhooks", "deliveries", "--status", "dead", "--json"))
    jobs_before = _jobs(session_factory)
    dry = ok(hook_cli("webhooks", "replay", dead["id"], "--dry-run"))
    assert "would queue 1 delivery(ies)" in dry.stdout
    assert _jobs(session_factory) == jobs_before
    [still] = ok_json(hook_cli("webhooks", "deliveries", "--json"))
    assert still["status"] == "dead"
    refused(hook_cli("webhooks", "replay", "nope", "--dry-run"), "id", contains="no webhook")
    ok(hook_cli("webhooks", "replay", dead["id"]))
    assert _jobs(session_factory) == jobs_before + 1


def test_the_signature_covers_the_webhook_id() -> None:
    body = b'{"id":"a"}'
    first = headers_for(SECRET, "a", body, timestamp=1_800_000_000)
    second = headers_for(SECRET, "b", body, timestamp=1_800_000_000)
    assert first["Webhook-Signature"] != second["Webhook-Signature"]


@contextlib.contextmanager
def trickling_server(step: float = 0.5) -> Iterator[int]:
    """Accepts connections and answers one byte of a status line every ``step`` seconds."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 200:
                    if stop.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(step)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=2)


def test_a_trickling_receiver_is_cut_off_at_the_total_timeout(
    session_factory: Factory, settings: Settings, tmp_path: Path
) -> None:
    quick = hook_settings(settings, tmp_path, webhooks_timeout_seconds=1.2)
    with trickling_server() as port:
        add(session_factory, quick, f"http://127.0.0.1:{port}/hooks")
        new_user(session_factory)
        started = time.monotonic()
        [outcome] = drain(session_factory, quick)
        elapsed = time.monotonic() - started
    assert outcome.status == "failed"
    assert elapsed < 2.5, elapsed
    [delivery] = deliveries(session_factory)
    assert delivery.last_status_code is None
    assert "timed out" in (delivery.response_excerpt or "")
    assert 1100 <= (delivery.last_duration_ms or 0) < 2000


def test_a_job_dead_on_its_last_attempt_makes_its_delivery_dead(
    session_factory: Factory, webhook_settings: Settings, receiver: Receiver
) -> None:
    from lms_core.webhooks.delivery import sweep_dead

    add(session_factory, webhook_settings, receiver.url)
    new_user(session_factory)
    # A worker took the last attempt and was killed: the job is running, its lease expired.
    with unit_of_work(session_factory) as session:
        session.execute(
            update(Job).values(
                status="running",
                attempts=Job.max_attempts,
                worker="killed",
                lease_until=utcnow() - timedelta(minutes=1),
            )
        )
    drain(session_factory, webhook_settings)  # the ledger gives up on the job in its claim
    with unit_of_work(session_factory, write=False) as session:
        assert session.scalars(select(Job.status)).all() == ["dead"]
    assert [d.status for d in deliveries(session_factory)] == ["pending"]
    assert receiver.requests == []
    get_handler("webhooks.sweep")  # registered: the schedule runs it every 10 minutes
    with unit_of_work(session_factory) as session:
        assert sweep_dead(session) == 1
    [delivery] = deliveries(session_factory)
    assert delivery.status == "dead" and "gave up" in (delivery.response_excerpt or "")
    with unit_of_work(session_factory) as session:
        assert sweep_dead(session) == 0


def test_a_pending_delivery_with_a_live_job_is_not_swept(
    session_factory: Factory, webhook_settings: Settings, receiver: Receiver
) -> None:
    from lms_core.webhooks.delivery import sweep_dead

    add(session_factory, webhook_settings, receiver.url)
    new_user(session_factory)
    with unit_of_work(session_factory) as session:
        assert sweep_dead(session) == 0
    assert [d.status for d in deliveries(session_factory)] == ["pending"]


WRAPPED = [
    ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
    ("2002:a00:1::", "private"),  # 6to4 around 10.0.0.1
    ("2001:0:7f00:1::ffff", "loopback"),  # Teredo, server 127.0.0.1
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 around 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 around 169.254.169.254
    ("::ffff:192.168.1.1", "private"),
]


@pytest.mark.parametrize(("text", "kind"), WRAPPED)
def test_ipv6_wrapping_a_private_ipv4_is_refused(text: str, kind: str) -> None:
    reason = http.forbidden_reason(ipaddress.ip_address(text))
    assert reason is not None and kind in reason, reason
    with pytest.raises(http.Refused, match=kind):
        http.post(f"http://[{text}]/x", b"{}", {}, allow_private=False)


def test_public_ipv6_still_passes() -> None:
    assert http.forbidden_reason(ipaddress.ip_address("2606:4700:4700::1111")) is None
    assert http.forbidden_reason(ipaddress.ip_address("2002:808:808::")) is None


def test_a_race_on_an_event_key_returns_the_winner(engine: Engine) -> None:
    """Two real connections (the test's shared connection cannot race with itself); the rows
    are committed, so they are deleted at the end."""
    from lms_core.events import record

    key = f"race:{time.time_ns()}"
    first = Session(bind=engine)
    winner = record(first, "user.created", {"n": 1}, [], key=key)  # flushed, not committed
    result: dict[str, object] = {}

    def loser() -> None:
        with Session(bind=engine) as session:
            result["id"] = record(session, "user.created", {"n": 2}, [], key=key)
            # The transaction is still usable after losing the race.
            stmt = select(func.count()).select_from(Event).where(Event.key == key)
            result["events"] = session.scalar(stmt)
            session.commit()

    try:
        if engine.dialect.name == "postgresql":
            # The loser's check misses the uncommitted event; its insert waits on the unique
            # index, then fails when the winner commits: a SAVEPOINT keeps it usable.
            thread = threading.Thread(target=loser)
            thread.start()
            time.sleep(0.5)
            first.commit()
            thread.join(timeout=10)
        else:
            first.commit()  # SQLite serialises writers: the loser's check finds the event
            loser()
        assert result == {"id": winner, "events": 1}
    finally:
        first.close()
        with engine.begin() as conn:
            conn.execute(delete(Event).where(Event.key == key))
