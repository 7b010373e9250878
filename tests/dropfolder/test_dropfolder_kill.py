"""kill -9 a real ``lmsctl jobs worker`` while it imports a dropped file, then restart it:
the file is imported exactly once and ends in ``processed/``.

The import is slow on purpose (400 users with passwords, dearer hashes), so each kill lands
while the job runs: mid-move, mid-import (rolled back: nothing committed) or after the
commit (the next attempt finds the run applied and only moves the file).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.models import ImportRun, Job, User
from lms_core.ops import schema
from tests.conftest import cheap_settings
from tests.integration.conftest import BIN, lmsctl_env

pytestmark = pytest.mark.scratch

KILLS = 2
ROWS = 400


def _wait_for(test: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not test():
        assert time.monotonic() < deadline, f"{what}; worker log:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


def test_kill_9_mid_import_then_restart_imports_once(scratch_url: str, tmp_path: Path) -> None:
    settings = cheap_settings(scratch_url, tmp_path / "files")
    engine = make_engine(settings)
    schema.upgrade(engine)
    factory = make_session_factory(engine)
    drop = tmp_path / "drop"
    drop.mkdir()
    lines = ["external_id,email,full_name,role,password"]
    lines += [f"K-{i},k{i}@x.org,Learner {i},student,Correct-Horse-{i:05d}!" for i in range(ROWS)]
    (drop / "users-big.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (drop / "users-big.csv.done").write_text("", encoding="utf-8")
    env = {k: v for k, v in lmsctl_env(scratch_url, tmp_path).items() if k != "LMS_HUEY_URL"}
    env.update(
        LMS_IMPORT_DROP_DIR=str(drop),
        LMS_IMPORT_DROP_STABLE_SECONDS="0",
        LMS_JOBS_LEASE_SECONDS="2",
        LMS_JOBS_POLL_SECONDS="0.2",
        LMS_JOBS_BACKOFF_BASE_SECONDS="0",
        LMS_PASSWORD_MEMORY_COST="4096",
        LMS_PASSWORD_TIME_COST="2",
    )
    log = tmp_path / "worker.log"

    def query(fn: Callable[..., int]) -> int:
        with unit_of_work(factory, write=False) as session:
            return fn(session)

    def import_running() -> bool:
        return bool(
            query(
                lambda s: s.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.kind == "dropfolder.import", Job.status == "running")
                )
            )
        )

    def import_done() -> bool:
        return bool(
            query(
                lambda s: s.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.kind == "dropfolder.import", Job.status == "succeeded")
                )
            )
        )

    def worker() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [str(BIN / "lmsctl"), "jobs", "worker", "--workers", "2", "--periodic"],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    try:
        for kill in range(KILLS):
            proc = worker()
            try:
                _wait_for(import_running, 90, "the import job never ran", log)
                time.sleep(0.3 + 0.4 * kill)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
        proc = worker()
        try:
            _wait_for(import_done, 120, "the import job did not succeed", log)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        with unit_of_work(factory, write=False) as session:
            job = session.scalars(select(Job).where(Job.kind == "dropfolder.import")).one()
            assert job.attempts > 1, "no kill landed while the import ran"
            users = session.scalar(
                select(func.count()).select_from(User).where(User.email.like("k%@x.org"))
            )
            applied = session.scalar(
                select(func.count()).select_from(ImportRun).where(ImportRun.status == "applied")
            )
        assert users == ROWS
        assert applied == 1
        processed = list((drop / "processed").rglob("users-big.csv"))
        assert len(processed) == 1
        assert not (drop / "users-big.csv").exists()
        assert not [p for p in (drop / "working").rglob("*") if p.is_file()]
    finally:
        engine.dispose()
