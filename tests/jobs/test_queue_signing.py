"""Queue entries are signed with the secret key: a forged one is refused, never unpickled.

The forged entry is a pickle that creates a file when loaded, written straight into the
queue's storage (the SqliteHuey table), as someone who can write to ``huey.db`` could.
"""

from __future__ import annotations

import logging
import pickle
import signal
import time
from collections.abc import Callable
from pathlib import Path

import huey
import huey.consumer
import pytest
from sqlalchemy.orm import Session

from jobs.huey_app import make_huey
from jobs.signing import ForgedEntry
from jobs.tasks import register_tasks
from lms_core.settings import Settings
from tests.conftest import Cli, cheap_settings

SECRET = "a-test-secret-key-that-is-long-enough-0123456789"


class _CreatesFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
        return (open, (str(self.path), "w"))


def forged_entry(path: Path) -> bytes:
    """A pickle that creates ``path`` when loaded, with a signature-shaped tail."""
    return pickle.dumps(_CreatesFile(path)) + b":" + b"0" * 64


def _settings(tmp_path: Path, secret: str = SECRET) -> Settings:
    return cheap_settings(
        f"sqlite:///{tmp_path / 'lms.db'}",
        tmp_path / "files",
        huey_url=f"sqlite:///{tmp_path / 'huey.db'}",
        secret_key=secret,
    )


def run_consumer(queue: huey.Huey, seconds: float) -> None:
    """One worker thread for ``seconds``; signal handlers given back to pytest."""
    consumer = queue.create_consumer(
        workers=1, worker_type="thread", periodic=False, check_worker_health=False, max_delay=0.1
    )
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    saved = {signum: signal.getsignal(signum) for signum in signals}
    try:
        consumer.start()
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    time.sleep(seconds)
    consumer.stop(graceful=True)


def test_every_queue_kind_signs_its_entries(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    redis_settings = settings.model_copy(update={"huey_url": "redis://127.0.0.1:1/3"})
    queues = (make_huey(settings), make_huey(settings, immediate=True), make_huey(redis_settings))
    assert [type(q) for q in queues] == [huey.SqliteHuey, huey.MemoryHuey, huey.RedisHuey]
    for queue in queues:
        data = queue.serializer.serialize({"x": 1})
        assert queue.serializer.deserialize(data) == {"x": 1}
        with pytest.raises(ForgedEntry):
            queue.serializer.deserialize(bytes([data[0] ^ 1]) + data[1:])
        with pytest.raises(ForgedEntry):
            queue.serializer.deserialize(pickle.dumps({"x": 1}))


def test_a_forged_entry_is_refused_by_the_consumer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)
    tasks = register_tasks(make_huey(settings), settings)
    marker = tmp_path / "pwned"
    tasks.huey.storage.enqueue(forged_entry(marker))
    result = tasks.ping("still works")
    with caplog.at_level(logging.ERROR, logger="jobs.signing"):
        run_consumer(tasks.huey, 1.5)
    assert not marker.exists(), "the forged pickle was loaded"
    assert "refused a queue entry" in caplog.text and "not unpickled" in caplog.text
    assert result.get(blocking=True, timeout=5)["echo"] == "still works"
    assert tasks.huey.pending_count() == 0


def test_an_entry_signed_with_another_secret_is_refused(tmp_path: Path) -> None:
    producer = register_tasks(make_huey(_settings(tmp_path, "x" * 48)), _settings(tmp_path))
    producer.ping("from a stranger")
    consumer = make_huey(_settings(tmp_path))
    with pytest.raises(ForgedEntry):
        consumer.dequeue()


def test_run_due_refuses_a_forged_entry_and_exits_1(
    tmp_path: Path, settings: Settings, session_factory: Callable[[], Session]
) -> None:
    own = settings.model_copy(
        update={"huey_url": f"sqlite:///{tmp_path / 'huey.db'}", "files_dir": tmp_path / "f"}
    )
    marker = tmp_path / "pwned-by-cron"
    make_huey(own).storage.enqueue(forged_entry(marker))
    result = Cli(own, session_factory)("jobs", "run-due")
    assert result.exit_code == 1, result.output
    assert not marker.exists()
    assert "error: queue: queue entry refused: bad signature (not unpickled)" in result.stderr
    assert make_huey(own).pending_count() == 0
