"""Several lmsctl processes at once, and a process killed mid-write, on a real database.

These commit for real, so they use ``scratch_url`` (a database of their own). They are what
the unit of work and the SQLite write lock (``lms_core.db``) are for: cron jobs that start
in the same minute must all succeed, and ``kill -9`` must leave the database as it was.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.integration.conftest import BIN, lmsctl

pytestmark = pytest.mark.scratch


def _start(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "lmsctl"), *args],
        env=env,
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _scalar(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


@pytest.fixture
def env(seeded: dict[str, str]) -> dict[str, str]:
    return seeded


def test_simultaneous_writers_all_succeed(env: dict[str, str], tmp_path: Path) -> None:
    procs = [
        _start(env, tmp_path, "users", "create", f"parallel{i}@x.org", "--name", f"P {i}")
        for i in range(6)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0] * 6, results
    assert (
        _scalar(env["LMS_DATABASE_URL"], "SELECT count(*) FROM users WHERE email LIKE 'parallel%'")
        == 6
    )


def test_simultaneous_enrolls_of_the_same_learner_make_one_enrollment(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert lmsctl(env, tmp_path, "users", "create", "race@x.org", "--name", "Race").returncode == 0
    procs = [
        _start(env, tmp_path, "enrollments", "enroll", "race@x.org", "demo-python-basics", "--json")
        for _ in range(6)
    ]
    outputs = [
        (
            p.wait(timeout=120),
            p.stdout.read() if p.stdout else "",
            p.stderr.read() if p.stderr else "",
        )
        for p in procs
    ]
    assert [code for code, _, _ in outputs] == [0] * 6, outputs
    outcomes = sorted(json.loads(out)["outcome"] for _, out, _ in outputs)
    assert outcomes == ["created"] + ["unchanged"] * 5
    assert (
        _scalar(
            env["LMS_DATABASE_URL"],
            "SELECT count(*) FROM enrollments e JOIN users u ON u.id = e.student_id "
            "WHERE u.email = 'race@x.org'",
        )
        == 1
    )


def _writing(url: str, wal: Path | None) -> bool:
    """Has the generating process started writing rows (uncommitted)?"""
    if wal is not None:
        return wal.exists() and wal.stat().st_size > 256 * 1024
    return (
        _scalar(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
        )
        > 0
    )


def test_kill_9_mid_generate_leaves_the_database_as_before(
    env: dict[str, str], tmp_path: Path
) -> None:
    url = env["LMS_DATABASE_URL"]
    users_before = _scalar(url, "SELECT count(*) FROM users")
    audit_before = _scalar(url, "SELECT count(*) FROM audit_log")
    parsed = make_url(url)
    wal = Path(f"{parsed.database}-wal") if parsed.get_backend_name() == "sqlite" else None
    proc = _start(
        env,
        tmp_path,
        "demo",
        "generate",
        "--users",
        "400000",
        "--courses",
        "100",
        "--enrollments",
        "400000",
    )
    deadline = time.monotonic() + 60
    while not _writing(url, wal):
        assert proc.poll() is None, f"generate ended before it could be killed: {proc.stderr}"
        assert time.monotonic() < deadline, "generate never started writing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    time.sleep(0.5)  # PostgreSQL notices the dropped connection and rolls back

    assert _scalar(url, "SELECT count(*) FROM users") == users_before
    assert _scalar(url, "SELECT count(*) FROM audit_log") == audit_before
    # Nothing is left locked: the next writer and the health check go through.
    assert (
        lmsctl(env, tmp_path, "users", "create", "after-crash@x.org", "--name", "A").returncode == 0
    )
    assert lmsctl(env, tmp_path, "doctor").returncode == 0
