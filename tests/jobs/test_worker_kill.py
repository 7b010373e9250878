"""kill -9 a real ``lmsctl jobs worker`` while it runs jobs, again and again: every job still
succeeds, and each effect exists exactly once.

The handler, ``maintenance.touch``, works a while and then creates its marker file once
(``O_EXCL``, named by the job's key). A worker killed mid-job leaves the job ``running``; its
short lease (``LMS_JOBS_LEASE_SECONDS=2``) expires and the next worker runs it again. Five
kills by default; ``LMS_JOBS_KILLS=20`` for the issue's count.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.jobs import ledger
from lms_core.jobs.maintenance import touch_path
from lms_core.models import Job
from lms_core.ops import schema
from tests.conftest import cheap_settings
from tests.integration.conftest import BIN, lmsctl_env

pytestmark = pytest.mark.scratch

KILLS = int(os.environ.get("LMS_JOBS_KILLS", "5"))
#: Enough work that every kill lands while jobs are left (a worker gets 2-3 done per life).
JOBS = max(10, 3 * KILLS - 5)


def _worker(
    env: dict[str, str], cwd: Path, log: Path, *, periodic: bool = False
) -> subprocess.Popen[bytes]:
    periodic_flag = "--periodic" if periodic else "--no-periodic"
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(BIN / "lmsctl"), "jobs", "worker", "--workers", "2", periodic_flag],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_for(test: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not test():
        assert time.monotonic() < deadline, f"{what}; worker log:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


def test_kill_9_at_random_moments_gives_each_effect_exactly_once(
    scratch_url: str, tmp_path: Path
) -> None:
    settings = cheap_settings(scratch_url, tmp_path / "files")
    engine = make_engine(settings)
    schema.upgrade(engine)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        for i in range(JOBS):
            ledger.enqueue(
                session, "maintenance.touch", {"sleep": 0.25}, key=f"kill:{i}", max_attempts=50
            )
    env = {k: v for k, v in lmsctl_env(scratch_url, tmp_path).items() if k != "LMS_HUEY_URL"}
    env.update(LMS_JOBS_LEASE_SECONDS="1", LMS_JOBS_POLL_SECONDS="0.2")
    log = tmp_path / "worker.log"
    rng = random.Random()  # noqa: S311 - when to kill, not a secret

    def count(session_filter: Callable[[Session], int]) -> int:
        with unit_of_work(factory, write=False) as session:
            return session_filter(session)

    def running_on(pid: int) -> bool:
        return bool(
            count(
                lambda s: (
                    s.scalar(
                        select(func.count())
                        .select_from(Job)
                        .where(Job.status == "running", Job.worker.like(f"%:{pid}"))
                    )
                    or 0
                )
            )
        )

    def succeeded() -> int:
        return count(
            lambda s: (
                s.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.status == "succeeded", Job.kind == "maintenance.touch")
                )
                or 0
            )
        )

    try:
        kills = 0
        while kills < KILLS and succeeded() < JOBS:
            proc = _worker(env, tmp_path, log)
            try:
                _wait_for(lambda p=proc: running_on(p.pid), 30, "the worker took no job", log)
                time.sleep(rng.uniform(0, 0.35))  # before, during or after a marker is made
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
            kills += 1
        # The last worker also queues the periodic jobs' missed slots as it starts.
        proc = _worker(env, tmp_path, log, periodic=True)
        try:
            _wait_for(lambda: succeeded() == JOBS, 60, "not every job succeeded", log)
            _wait_for(
                lambda: (
                    count(
                        lambda s: len(
                            s.scalars(
                                select(Job.id).where(
                                    Job.kind == "maintenance.prune_jobs", Job.status == "succeeded"
                                )
                            ).all()
                        )
                    )
                    == 1
                ),
                20,
                "the nightly prune-jobs slot was not caught up",
                log,
            )
        finally:
            proc.send_signal(signal.SIGINT)  # graceful: lets running jobs finish
            assert proc.wait(timeout=20) == 0, log.read_text()[-3000:]
        with unit_of_work(factory, write=False) as session:
            jobs = list(session.scalars(select(Job).where(Job.kind == "maintenance.touch")))
        assert {j.status for j in jobs} == {"succeeded"}
        assert kills == KILLS
        assert sum(j.attempts for j in jobs) > JOBS, "no kill landed while a job ran"
        markers = sorted((settings.files_dir / "jobs" / "touch").iterdir())
        assert len(markers) == JOBS
        assert sorted(p.read_text() for p in markers) == sorted(f"kill:{i}\n" for i in range(JOBS))
        assert all(touch_path(settings.files_dir, j.key).exists() for j in jobs)
    finally:
        engine.dispose()


def test_process_workers_die_with_a_killed_worker(scratch_url: str, tmp_path: Path) -> None:
    """``--worker-type process``: kill -9 the worker, and its processes (workers, scheduler)
    end too, instead of taking jobs on as orphans."""
    from tests.integration.test_killed_runs import _descendants, _gone_within

    engine = make_engine(cheap_settings(scratch_url, tmp_path / "files"))
    schema.upgrade(engine)
    engine.dispose()
    env = {k: v for k, v in lmsctl_env(scratch_url, tmp_path).items() if k != "LMS_HUEY_URL"}
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(BIN / "lmsctl"), "jobs", "worker", "--workers", "2", "--worker-type", "process"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    children: set[int] = set()
    try:
        _wait_for(lambda: len(children | _descendants(proc.pid)) >= 3, 30, "no workers", log)
        children |= _descendants(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert _gone_within(children, 5) == set(), log.read_text()[-2000:]
