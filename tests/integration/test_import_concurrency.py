"""Imports as real processes: one at a time per database, and kill -9 mid-apply leaves no row."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lms_core.db import make_engine, make_session_factory
from lms_core.locks import run_lock
from tests.conftest import cheap_settings
from tests.integration.conftest import BIN, lmsctl, lmsctl_env

pytestmark = pytest.mark.scratch

USERS = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\n"


@pytest.fixture
def env(scratch_url: str, tmp_path: Path) -> dict[str, str]:
    env = lmsctl_env(scratch_url, tmp_path)
    done = lmsctl(env, tmp_path, "init")
    assert done.returncode == 0, done.stderr
    return env


def _scalar(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def test_second_import_refused_while_the_lock_is_held_then_waits(
    env: dict[str, str], tmp_path: Path
) -> None:
    url = env["LMS_DATABASE_URL"]
    path = tmp_path / "u.csv"
    path.write_text(USERS, encoding="utf-8")
    engine = make_engine(cheap_settings(url, tmp_path / "files"))
    factory = make_session_factory(engine)
    released = threading.Event()
    try:
        lock = run_lock(factory, "import", holder="cli:other-operator")
        lock.__enter__()
        try:
            busy = lmsctl(env, tmp_path, "import", "users", str(path), "--json")
            assert busy.returncode == 1, busy.stderr
            message = json.loads(busy.stdout)["errors"][0]["message"]
            assert "lock import" in message
            if make_url(url).get_backend_name() == "sqlite":
                assert "cli:other-operator" in message
            assert _scalar(url, "SELECT count(*) FROM users WHERE email = 'ann@x.org'") == 0

            def release() -> None:
                lock.__exit__(None, None, None)
                released.set()

            timer = threading.Timer(1.0, release)
            timer.start()
            waited = lmsctl(env, tmp_path, "import", "users", str(path), "--wait", "30", "--json")
            timer.join()
            assert waited.returncode == 0, waited.stderr
            assert json.loads(waited.stdout)["counts"]["create"] == 1
        finally:
            if not released.is_set():
                lock.__exit__(None, None, None)
    finally:
        engine.dispose()


def _counts(url: str, tables: tuple[str, ...]) -> dict[str, int]:
    return {t: _scalar(url, f"SELECT count(*) FROM {t}") for t in tables}  # noqa: S608 - ours


def _writing(url: str, wal: Path | None) -> bool:
    if wal is not None:
        return wal.exists() and wal.stat().st_size > 512 * 1024
    return (
        _scalar(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
        )
        > 0
    )


def test_kill_9_mid_import_leaves_no_rows(env: dict[str, str], tmp_path: Path) -> None:
    url = env["LMS_DATABASE_URL"]
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("external_id,email,full_name,role\n")
        for i in range(200_000):
            handle.write(f"K{i:07d},kill{i}@example.org,Learner {i},student\n")
    tables = ("users", "import_runs", "import_changes", "one_time_tokens", "audit_log")
    before = _counts(url, tables)
    parsed = make_url(url)
    wal = Path(f"{parsed.database}-wal") if parsed.get_backend_name() == "sqlite" else None
    proc = subprocess.Popen(
        [str(BIN / "lmsctl"), "import", "users", str(path)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not _writing(url, wal):
        assert proc.poll() is None, f"the import ended before it could be killed: {proc.stderr}"
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    time.sleep(0.5)  # PostgreSQL notices the dropped connection and rolls back

    counts = _counts(url, tables)
    # The run itself is recorded before it works (shown as interrupted, see test_killed_runs);
    # PostgreSQL may be caught writing that record, before the import proper.
    assert counts.pop("import_runs") - before.pop("import_runs") in (0, 1)
    assert counts == before
    # The lock died with the process: the next import runs.
    small = tmp_path / "u.csv"
    small.write_text(USERS, encoding="utf-8")
    after = lmsctl(env, tmp_path, "import", "users", str(small), "--json")
    assert after.returncode == 0, after.stderr
