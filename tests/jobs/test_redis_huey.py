"""A real Redis queue and a real consumer: enqueue ``ping``, a worker thread runs it.

Skipped when Redis is unreachable, unless ``LMS_REQUIRE_REDIS=1`` (CI), which makes it fail.
The queue name is unique per run and flushed afterwards, so a shared Redis stays clean.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import huey
import huey.consumer
import pytest

from jobs.huey_app import make_huey
from jobs.tasks import register_tasks
from tests.conftest import cheap_settings

REDIS_URL = os.environ.get("LMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis at {REDIS_URL} is unreachable: {exc}"
        if os.environ.get("LMS_REQUIRE_REDIS") == "1":
            pytest.fail(f"{message} (LMS_REQUIRE_REDIS=1)")
        pytest.skip(message)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_queue(redis_url: str, tmp_path: Path) -> Iterator[huey.RedisHuey]:
    settings = cheap_settings(
        f"sqlite:///{tmp_path / 'lms.db'}", tmp_path / "files", huey_url=redis_url
    )
    queue = make_huey(settings, name=f"lms-test-{uuid.uuid4().hex}")
    assert type(queue) is huey.RedisHuey
    try:
        yield queue
    finally:
        queue.flush()
        queue.storage.pool.disconnect()


def _start_consumer(queue: huey.Huey) -> huey.consumer.Consumer:
    """Start one worker thread; ``Consumer.start`` also takes over SIGINT/SIGTERM/SIGHUP, which
    belong to pytest here, so they are given back."""
    consumer = queue.create_consumer(
        workers=1, worker_type="thread", periodic=False, check_worker_health=False, max_delay=0.5
    )
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    saved = {signum: signal.getsignal(signum) for signum in signals}
    try:
        consumer.start()
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    return consumer


def test_ping_runs_on_a_real_consumer(redis_queue: huey.RedisHuey, tmp_path: Path) -> None:
    settings = cheap_settings("sqlite://", tmp_path / "files")
    tasks = register_tasks(redis_queue, settings)
    consumer = _start_consumer(redis_queue)
    try:
        result = tasks.ping("through redis")
        value = result.get(blocking=True, timeout=15)
        assert value == {"echo": "through redis", "pid": os.getpid()}
    finally:
        consumer.stop(graceful=True)
    assert redis_queue.pending_count() == 0


def test_flush_leaves_no_keys_of_the_queue(redis_queue: huey.RedisHuey, tmp_path: Path) -> None:
    import redis

    tasks = register_tasks(redis_queue, cheap_settings("sqlite://", tmp_path / "files"))
    tasks.ping("left in the queue")
    assert redis_queue.pending_count() == 1
    redis_queue.flush()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert client.keys(f"*{redis_queue.storage.name}*") == []
    finally:
        client.close()


def test_a_ledger_job_runs_end_to_end_through_signed_redis_entries(
    redis_url: str, scratch_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Enqueue in the database, wake through Redis, a consumer runs it: the ledger says so.
    A forged entry pushed onto the same Redis list is refused, never unpickled."""
    import logging
    import pickle

    from lms_core.db import make_engine, make_session_factory, unit_of_work
    from lms_core.jobs import ledger
    from lms_core.models import Job
    from lms_core.ops import schema

    settings = cheap_settings(scratch_url, tmp_path / "files", huey_url=redis_url)
    engine = make_engine(settings)
    schema.upgrade(engine)
    queue = make_huey(settings, name=f"lms-test-{uuid.uuid4().hex}")
    tasks = register_tasks(queue, settings)
    try:
        marker = tmp_path / "pwned"
        queue.storage.enqueue(pickle.dumps(_CreatesFile(marker)) + b":" + b"0" * 64)
        factory = tasks.database.session_factory()  # wakes workers after each commit
        with unit_of_work(factory) as session:
            job_id = ledger.enqueue(session, "maintenance.ping", {"echo": "via redis"}).id
        assert queue.pending_count() == 2  # the forged entry and the wake-up
        with caplog.at_level(logging.ERROR, logger="jobs.signing"):
            consumer = _start_consumer(queue)
            try:
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    with unit_of_work(make_session_factory(engine), write=False) as session:
                        job = session.get_one(Job, job_id)
                    if job.status == "succeeded":
                        break
                    time.sleep(0.1)
            finally:
                consumer.stop(graceful=True)
        assert job.status == "succeeded" and job.result is not None
        assert job.result["echo"] == "via redis" and job.result["pid"] == os.getpid()
        assert not marker.exists()
        assert "refused a queue entry" in caplog.text
    finally:
        tasks.close()
        queue.flush()
        queue.storage.pool.disconnect()
        engine.dispose()


class _CreatesFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))
