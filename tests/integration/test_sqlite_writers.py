"""SQLite writers that start while a long run holds the write lock (lms_core/sqlite_writer.py).

SQLite only, whatever database the suite runs on (PostgreSQL writers wait on row locks, with
nothing to add): each test has a SQLite file of its own. The README promises that commands
started together by cron all succeed; a 150,000-row import holds the write lock for seconds,
so the others must wait for it, saying whom they wait for, and a writer that waits past the
busy timeout gets a clean refusal naming the holder, not a traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest

from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.settings_env import DatabaseSettings
from lms_core.sqlite_writer import DatabaseBusy, announce_writer
from tests.integration.conftest import BIN, lmsctl, lmsctl_env

pytestmark = pytest.mark.scratch

IMPORT_ROWS = 150_000  # holds the write lock for ~3 s here


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "busy.db"


@pytest.fixture
def env(db: Path, tmp_path: Path) -> dict[str, str]:
    env = lmsctl_env(f"sqlite:///{db}", tmp_path)
    env.pop("LMS_SQLITE_BUSY_TIMEOUT_MS", None)  # the default: it must fit the longest writer
    return env


@pytest.fixture
def seeded(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    for args in (["init"], ["demo", "seed"]):
        done = lmsctl(env, tmp_path, *args)
        assert done.returncode == 0, done.stderr
    return env


def _start(
    env: dict[str, str], cwd: Path, *args: str, out: Path, err: Path | None = None
) -> subprocess.Popen[str]:
    # stdout to a file: an import's output is large and a full pipe would stall it; stderr
    # to a file when the test reads it while the command runs.
    with out.open("w") as stdout, (err or out.with_suffix(".err")).open("w") as stderr:
        return subprocess.Popen(
            [str(BIN / "lmsctl"), *args],
            env=env,
            cwd=cwd,
            text=True,
            stdout=stdout,
            stderr=stderr if err is not None else subprocess.PIPE,
        )


def _scalar(db: Path, sql: str) -> object:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_six_writers_during_a_large_import_all_succeed_and_say_whom_they_wait_for(
    seeded: dict[str, str], db: Path, tmp_path: Path
) -> None:
    users = tmp_path / "users.csv"
    users.write_text(
        "external_id,email,full_name,role\n"
        + "".join(f"B-{i},b{i}@big.example.org,Big {i},student\n" for i in range(IMPORT_ROWS)),
        encoding="utf-8",
    )
    # The test takes the write lock first and keeps it until a writer has said whom it waits
    # for: however slowly seven processes start on a loaded machine, the writers meet the
    # import's lock (queued behind the test's, then its ~3 s of writing), never a free one.
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        imp = _start(seeded, tmp_path, "import", "users", str(users), out=tmp_path / "import.out")
        announced = Path(f"{db}.writer-{imp.pid}")
        deadline = time.monotonic() + 30
        while not announced.exists():
            assert imp.poll() is None, imp.stderr.read() if imp.stderr else ""
            assert time.monotonic() < deadline, "the import never announced itself"
            time.sleep(0.02)
        procs, errs = _start_writers(seeded, tmp_path)
        deadline = time.monotonic() + 30
        while not any("waiting for the database:" in e.read_text() for e in errs):
            assert time.monotonic() < deadline, [e.read_text() for e in errs]
            assert all(p.poll() is None for p in procs), [e.read_text() for e in errs]
            time.sleep(0.05)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    codes = [p.wait(timeout=120) for p in procs]
    results = [(code, e.read_text()) for code, e in zip(codes, errs, strict=True)]
    imported = imp.wait(timeout=120)
    import_err = imp.stderr.read() if imp.stderr else ""

    assert imported == 0, import_err
    assert codes == [0] * 6, results
    waiting = [err for _, err in results if "waiting for the database:" in err]
    assert waiting, results
    assert f"lmsctl import users {users}" in waiting[0]
    assert f"(pid {imp.pid})" in waiting[0]
    assert "waiting up to 600 s" in waiting[0]  # the default busy timeout: 10 minutes
    assert all("Traceback" not in err for _, err in results)
    assert json.loads((tmp_path / "w5.out").read_text())["role"] == "admin"  # stdout: JSON only
    assert not announced.exists()  # the run took its announcement away

    assert _scalar(db, "SELECT count(*) FROM users WHERE email LIKE '%@big.example.org'") == (
        IMPORT_ROWS
    )
    assert _scalar(db, "SELECT count(*) FROM users WHERE email = 'busy1@x.org'") == 1
    assert _scalar(db, "SELECT count(*) FROM courses WHERE slug = 'busy-course'") == 1
    assert _scalar(db, "SELECT count(*) FROM lessons WHERE slug = 'busy-lesson'") == 1
    assert _scalar(db, "SELECT bio FROM users WHERE email = 'student@demo.example.org'") == (
        "waited"
    )
    assert _scalar(db, "SELECT role FROM users WHERE email = 'instructor@demo.example.org'") == (
        "admin"
    )


def _start_writers(
    env: dict[str, str], tmp_path: Path
) -> tuple[list[subprocess.Popen[str]], list[Path]]:
    """Six short writers, as cron might start them together; their stderr files."""
    commands = [
        ["users", "create", "busy1@x.org", "--name", "Busy One"],
        [
            "courses",
            "create",
            "busy-course",
            "--title",
            "Busy",
            "--instructor",
            "instructor@demo.example.org",
        ],
        ["lessons", "add", "demo-python-basics/busy-lesson", "--title", "Busy lesson"],
        ["users", "update", "student@demo.example.org", "--bio", "waited"],
        ["enrollments", "drop", "student@demo.example.org", "demo-python-basics"],
        ["users", "set-role", "instructor@demo.example.org", "admin", "--json"],
    ]
    errs = [tmp_path / f"w{n}.err" for n in range(len(commands))]
    procs = [
        _start(env, tmp_path, *args, out=tmp_path / f"w{n}.out", err=errs[n])
        for n, args in enumerate(commands)
    ]
    return procs, errs


@pytest.fixture
def initialised(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    done = lmsctl(env, tmp_path, "init")
    assert done.returncode == 0, done.stderr
    return {**env, "LMS_SQLITE_BUSY_TIMEOUT_MS": "1500"}


def test_a_writer_past_the_busy_timeout_is_refused_naming_the_holder(
    initialised: dict[str, str], db: Path, tmp_path: Path
) -> None:
    gone = subprocess.Popen(["true"])  # a process that has ended: its announcement is stale
    gone.wait()
    stale = Path(f"{db}.writer-{gone.pid}")
    stale.write_text(
        json.dumps({"pid": gone.pid, "command": "lmsctl import users old.csv", "started": 0})
    )
    with (
        announce_writer(db, "certificates-7 run by ops"),
        sqlite3.connect(db, isolation_level=None) as holder,
    ):
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        done = lmsctl(initialised, tmp_path, "users", "create", "late@x.org", "--name", "Late")
        as_json = lmsctl(
            initialised, tmp_path, "users", "create", "late@x.org", "--name", "Late", "--json"
        )
        waited = time.monotonic() - started
        holder.execute("ROLLBACK")

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "waiting for the database: " in done.stderr
    assert "the database stayed locked by " in done.stderr
    assert "(certificates-7 run by ops)" in done.stderr
    assert "for 1.5 s; nothing was changed" in done.stderr
    assert "old.csv" not in done.stderr  # a stale announcement (its process gone) is ignored
    assert not stale.exists()  # and swept
    assert as_json.returncode == 1
    (error,) = json.loads(as_json.stdout)["errors"]
    assert error["field"] == "database_url"
    assert error["message"].startswith("the database stayed locked by ")
    assert waited < 30  # 2 x 1.5 s, and two start-ups on a loaded machine
    assert _scalar(db, "SELECT count(*) FROM users WHERE email = 'late@x.org'") == 0


def test_the_notifier_hears_once_and_the_timeout_comes_back(
    initialised: dict[str, str], db: Path
) -> None:
    heard: list[str] = []
    engine = make_engine(
        DatabaseSettings(database_url=f"sqlite:///{db}", sqlite_busy_timeout_ms=1500),
        notify=heard.append,
    )
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        factory = make_session_factory(engine)
        holder.execute("BEGIN IMMEDIATE")
        busy = r"stayed locked by another process for 1\.5 s"
        with pytest.raises(DatabaseBusy, match=busy), unit_of_work(factory):
            pass
        holder.execute("ROLLBACK")
        assert heard == [
            "waiting for the database: another process is writing; waiting up to 1.5 s"
        ]
        with unit_of_work(factory) as session:  # uncontended: no word, full timeout kept
            assert session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 1500
        assert len(heard) == 1
    finally:
        holder.close()
        engine.dispose()


def test_an_announcement_never_writes_through_a_planted_symlink(db: Path, tmp_path: Path) -> None:
    """``<db>.writer-<pid>`` sits in the database's folder: a link planted there by another
    user must not make a run overwrite the link's target."""
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n", encoding="utf-8")
    planted = Path(f"{db}.writer-{os.getpid()}")
    planted.symlink_to(precious)
    with announce_writer(db, "import by ops"):
        assert planted.is_symlink()
    assert precious.read_text(encoding="utf-8") == "keep me\n"


def test_an_announcement_is_private_and_gone_after_the_run(db: Path) -> None:
    path = Path(f"{db}.writer-{os.getpid()}")
    with announce_writer(db, "import by ops"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["pid"] == os.getpid() and record["command"].endswith("(import by ops)")
    assert not path.exists()
