"""Killed runs leave no lock behind: pool workers die with their parent and never hold a lock.

Real processes: an import with a ``password`` column hashes in a process pool, and a
certificate render pool; the parent is killed (``kill -9`` or ``kill -TERM``) while its
workers are busy, and the next run must start at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from lms_core.db import make_engine, make_session_factory
from lms_core.locks import run_lock
from tests.conftest import cheap_settings
from tests.integration.conftest import BIN, lmsctl, lmsctl_env

pytestmark = pytest.mark.scratch


def _ppid_and_state(pid: int) -> tuple[int, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0]


def _descendants(pid: int) -> set[int]:
    """Live (not zombie) processes under ``pid``, read from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _ppid_and_state(int(entry))
            if info is not None and info[1] != "Z":
                parents[int(entry)] = info[0]
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    return {p for p in pids if (info := _ppid_and_state(p)) is not None and info[1] != "Z"}


def _kill_when_working(
    proc: subprocess.Popen[str], sig: int, delay: float, *, min_children: int = 1
) -> set[int]:
    """Wait until ``proc`` has started its workers, wait ``delay``, send ``sig``; the workers."""
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < min_children:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started its workers"
        time.sleep(0.02)
        workers = _descendants(proc.pid)
    time.sleep(delay)
    workers |= _descendants(proc.pid)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    return workers


def _gone_within(workers: set[int], seconds: float) -> set[int]:
    """The workers still alive after ``seconds`` (killed then, so a failing test leaks none)."""
    deadline = time.monotonic() + seconds
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _alive(workers)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def _users_csv(path: Path, rows: int) -> None:
    lines = ["external_id,email,full_name,role,password"]
    lines += [f"K-{i},k{i}@x.org,Learner {i},student,Correct-Horse-{i:05d}!" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _start_slow_import(
    scratch_url: str, tmp_path: Path
) -> tuple[dict[str, str], Path, subprocess.Popen[str]]:
    """An initialised scratch database and an import of 400 users with passwords, started:
    hashes dearer than the other tests' keep the pool busy when the parent is killed."""
    env = lmsctl_env(scratch_url, tmp_path)
    done = lmsctl(env, tmp_path, "init")
    assert done.returncode == 0, done.stderr
    path = tmp_path / "users.csv"
    _users_csv(path, 400)
    slow = {**env, "LMS_PASSWORD_MEMORY_COST": "4096", "LMS_PASSWORD_TIME_COST": "3"}
    proc = subprocess.Popen(
        [str(BIN / "lmsctl"), "import", "users", str(path), "--json"],
        env=slow,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return env, path, proc


@pytest.mark.parametrize(
    ("sig", "delay"),
    [(signal.SIGKILL, 0.0), (signal.SIGKILL, 0.4), (signal.SIGTERM, 0.2)],
    ids=["kill9-at-start", "kill9-mid-way", "term"],
)
def test_killed_import_leaves_no_worker_and_no_lock(
    scratch_url: str, tmp_path: Path, sig: int, delay: float
) -> None:
    env, path, proc = _start_slow_import(scratch_url, tmp_path)
    try:
        workers = _kill_when_working(proc, sig, delay)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -sig
    assert _gone_within(workers, 5) == set(), "pool workers outlived their parent"

    started = time.monotonic()
    _users_csv(path, 3)
    again = lmsctl(env, tmp_path, "import", "users", str(path), "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["counts"]["create"] == 3
    assert time.monotonic() - started < 30


_RENDER_SCRIPT = """
import sys, time
from lms_core.certificates.pdf.render import CertificateFields, RenderPool
from lms_core.db import make_engine, make_session_factory
from lms_core.locks import run_lock
from tests.conftest import cheap_settings
from pathlib import Path

engine = make_engine(cheap_settings(sys.argv[1], Path(sys.argv[2])))
fields = CertificateFields(
    learner="Ann", course="Course", date="2026-01-01", instructor="Ben", number="C-1",
    verify_url="https://example.org/v/1",
)
with run_lock(make_session_factory(engine), "certificates-1", holder="test"):
    with RenderPool(None, page_size="A4", extra_fonts_dir=None, workers=2) as pool:
        print("ready", flush=True)
        while True:
            for _ in pool.map([fields] * 16):
                pass
"""


def test_killed_certificate_run_leaves_no_render_worker_and_no_lock(
    scratch_url: str, tmp_path: Path
) -> None:
    env = lmsctl_env(scratch_url, tmp_path)
    done = lmsctl(env, tmp_path, "init")
    assert done.returncode == 0, done.stderr
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", _RENDER_SCRIPT, scratch_url, str(tmp_path / "files")],
        env={**env, "PYTHONPATH": str(root)},
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.communicate()
        workers = _kill_when_working(proc, signal.SIGKILL, 0.3, min_children=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _gone_within(workers, 5) == set(), "render workers outlived their parent"
    engine = make_engine(cheap_settings(scratch_url, tmp_path / "files"))
    try:
        with run_lock(make_session_factory(engine), "certificates-1", holder="next", wait=5):
            pass
    finally:
        engine.dispose()


_FORK_SCRIPT = """
import os, sys, time
from lms_core.db import make_engine, make_session_factory
from lms_core.locks import run_lock
from tests.conftest import cheap_settings
from pathlib import Path

engine = make_engine(cheap_settings(sys.argv[1], Path(sys.argv[2])))
with run_lock(make_session_factory(engine), "import", holder="parent"):
    child = os.fork()
    if child == 0:
        time.sleep(60)
        os._exit(0)
    print(child, flush=True)
    time.sleep(60)
"""


def test_a_child_forked_under_the_lock_does_not_keep_it(scratch_url: str, tmp_path: Path) -> None:
    """The holder is killed; a child it forked while holding the lock lives on, lock-free."""
    env = lmsctl_env(scratch_url, tmp_path)
    done = lmsctl(env, tmp_path, "init")
    assert done.returncode == 0, done.stderr
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", _FORK_SCRIPT, scratch_url, str(tmp_path / "files")],
        env={**env, "PYTHONPATH": str(root)},
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child = 0
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline().strip() or 0)
        assert child, proc.communicate()
        proc.kill()
        proc.wait(timeout=30)
        assert _alive({child}) == {child}
        engine = make_engine(cheap_settings(scratch_url, tmp_path / "files"))
        try:
            with run_lock(make_session_factory(engine), "import", holder="next", wait=3):
                pass
        finally:
            engine.dispose()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if child and _alive({child}):
            os.kill(child, signal.SIGKILL)


def _history(env: dict[str, str], cwd: Path) -> list[dict[str, object]]:
    done = lmsctl(env, cwd, "import", "history", "--json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, object]] = json.loads(done.stdout)
    return rows


def test_killed_import_shows_in_history_as_interrupted(scratch_url: str, tmp_path: Path) -> None:
    """Recorded before it works: ``running`` while it runs, ``interrupted`` once killed."""
    env, path, proc = _start_slow_import(scratch_url, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not _descendants(proc.pid):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        running = _history(env, tmp_path)
        workers = _kill_when_working(proc, signal.SIGKILL, 0.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [r["status"] for r in running] == ["running"]
    assert _gone_within(workers, 5) == set()

    rows = _history(env, tmp_path)
    assert [(r["status"], r["entity"], r["file"]) for r in rows] == [
        ("interrupted", "users", "users.csv")
    ]
    assert "stopped before it finished" in str(rows[0]["message"])
    engine = make_engine(cheap_settings(scratch_url, tmp_path / "files"))
    try:
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT count(*) FROM users WHERE email LIKE 'k%'")).scalar() == 0
            )
            assert conn.execute(text("SELECT count(*) FROM import_changes")).scalar() == 0
    finally:
        engine.dispose()

    _users_csv(path, 3)
    again = lmsctl(env, tmp_path, "import", "users", str(path), "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert [r["status"] for r in _history(env, tmp_path)] == ["applied", "interrupted"]
    undo = lmsctl(env, tmp_path, "import", "undo", str(rows[0]["id"]), "--json")
    assert undo.returncode == 1, undo.stderr
    assert "is unfinished; only an applied run" in json.loads(undo.stdout)["errors"][0]["message"]


def test_killed_plan_apply_shows_in_history_as_interrupted(
    scratch_url: str, tmp_path: Path
) -> None:
    """``import apply PLAN`` is recorded before it works too: killed, it shows as interrupted."""
    env = lmsctl_env(scratch_url, tmp_path)
    assert lmsctl(env, tmp_path, "init").returncode == 0
    path = tmp_path / "users.csv"
    lines = ["external_id,email,full_name,role"]
    lines += [f"P-{i},p{i}@x.org,Planned {i},student" for i in range(30_000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = tmp_path / "plan.json"
    made = lmsctl(env, tmp_path, "import", "users", str(path), "--dry-run", "--plan-out", str(plan))
    assert made.returncode == 0, made.stdout + made.stderr
    engine = make_engine(cheap_settings(scratch_url, tmp_path / "files"))
    proc = subprocess.Popen(
        [str(BIN / "lmsctl"), "import", "apply", str(plan), "--json"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        unfinished = "SELECT count(*) FROM import_runs WHERE finished_at IS NULL"
        while True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the plan's run was never recorded"
            with engine.connect() as conn:
                if conn.execute(text(unfinished)).scalar():
                    break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT count(*) FROM users WHERE email LIKE 'p%'")).scalar() == 0
            )
    finally:
        engine.dispose()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rows = _history(env, tmp_path)
    assert [(r["status"], r["entity"], r["file"]) for r in rows] == [
        ("interrupted", "users", "users.csv (plan plan.json)")
    ]
    again = lmsctl(env, tmp_path, "import", "apply", str(plan), "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert [r["status"] for r in _history(env, tmp_path)] == ["applied", "interrupted"]
