"""Certificate runs as real processes: killed mid-run and rerun, or started twice at once."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from lms_core.certificates.orphans import ORPHAN_GRACE_SECONDS
from tests.integration.conftest import BIN, lmsctl, lmsctl_env

pytestmark = pytest.mark.scratch
LEARNERS = 120


def _rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


@pytest.fixture
def completers(scratch_url: str, tmp_path: Path) -> dict[str, str]:
    """A course of LEARNERS learners who all completed it, made through lmsctl itself."""
    env = lmsctl_env(scratch_url, tmp_path)
    assert lmsctl(env, tmp_path, "init").returncode == 0
    script = [
        ["users", "create", "teacher@x.org", "--name", "Teacher", "--role", "instructor"],
        [
            "courses",
            "create",
            "run-course",
            "--title",
            "Run Course",
            "--instructor",
            "teacher@x.org",
        ],
        ["lessons", "add", "run-course", "only", "--title", "Only lesson"],
        ["courses", "publish", "run-course"],
    ]
    for args in script:
        done = lmsctl(env, tmp_path, *args)
        assert done.returncode == 0, done.stderr
    # Learners in bulk through the services, as one process (fast), then completion.
    code = (
        "from lms_core.settings import load_settings\n"
        "from lms_core.db import make_engine, make_session_factory, unit_of_work\n"
        "from lms_core.actor import Actor\n"
        "from lms_core.accounts import users\n"
        "from lms_core.accounts.fields import UserCreate\n"
        "from lms_core.catalog import enrollments\n"
        "s = load_settings(); f = make_session_factory(make_engine(s)); a = Actor.operator('t')\n"
        "with unit_of_work(f) as db:\n"
        f"    for i in range({LEARNERS}):\n"
        "        e = f'l{i}@x.org'\n"
        "        users.create_user(db, actor=a, data=UserCreate(email=e, full_name=f'Learner {i}'))\n"
        "        enrollments.enroll(db, actor=a, email=e, course_slug='run-course')\n"
        "        enrollments.complete_lesson(db, actor=a, email=e, course_slug='run-course', lesson_slug='only')\n"
    )
    done = subprocess.run(
        [str(BIN / "python"), "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return env


def _check_whole(url: str, files_dir: Path) -> int:
    """Every certificate row has its PDF with the recorded hash, and no PDF lacks a row."""
    rows = _rows(url, "SELECT pdf_path, pdf_sha256 FROM certificates")
    for path, digest in rows:
        assert hashlib.sha256((files_dir / path).read_bytes()).hexdigest() == digest
    on_disk = {str(p.relative_to(files_dir)) for p in (files_dir / "certificates").rglob("*.pdf")}
    assert on_disk == {path for path, _ in rows}
    return len(rows)


def test_a_run_killed_mid_way_keeps_whole_certificates_and_a_rerun_finishes(
    completers: dict[str, str], tmp_path: Path
) -> None:
    url = completers["LMS_DATABASE_URL"]
    proc = subprocess.Popen(
        [str(BIN / "lmsctl"), "certificates", "issue", "run-course", "--batch-size", "5"],
        env=completers,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    while _rows(url, "SELECT count(*) FROM certificates")[0][0] < 10:
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    files_dir = tmp_path / "files"
    partial = _rows(url, "SELECT count(*) FROM certificates")[0][0]
    assert 10 <= partial < LEARNERS
    rows = _rows(url, "SELECT pdf_path, pdf_sha256 FROM certificates")
    for path, digest in rows:  # every committed row has its whole PDF
        assert hashlib.sha256((files_dir / path).read_bytes()).hexdigest() == digest

    # A rerun removes what the killed batch left once it is older than the grace period (a
    # younger PDF might be a live writer's, not yet committed): the kill was long ago.
    long_ago = time.time() - ORPHAN_GRACE_SECONDS - 60
    for leftover in (files_dir / "certificates").rglob("*"):
        os.utime(leftover, (long_ago, long_ago))
    rerun = lmsctl(completers, tmp_path, "certificates", "issue", "run-course", "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert _check_whole(url, files_dir) == LEARNERS
    assert _rows(url, "SELECT count(DISTINCT enrollment_id) FROM certificates")[0][0] == LEARNERS


def test_two_runs_at_once_never_issue_twice(completers: dict[str, str], tmp_path: Path) -> None:
    url = completers["LMS_DATABASE_URL"]
    procs = [
        subprocess.Popen(
            [str(BIN / "lmsctl"), "certificates", "issue", "run-course", "--batch-size", "10"],
            env=completers,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=180), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    # One issues everything; the other either found the lock taken or found nothing to do.
    assert codes[0] == 0, results
    assert codes[1] in (0, 1), results
    if codes[1] == 1:
        assert any("holds the lock" in err for _, err in results), results
    assert _check_whole(url, tmp_path / "files") == LEARNERS
    assert _rows(url, "SELECT count(DISTINCT enrollment_id) FROM certificates")[0][0] == LEARNERS
