"""The shipped examples run as a user would run them: real lmsctl processes, a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "LMS_DATABASE_URL": url,
        "LMS_FILES_DIR": str(tmp_path / "files"),
        "LMS_PASSWORD_MEMORY_COST": "8",
        "LMS_PASSWORD_TIME_COST": "1",
        "LMS_PASSWORD_PARALLELISM": "1",
    }


@pytest.fixture
def seeded(scratch_url: str, tmp_path: Path) -> dict[str, str]:
    env = _env(scratch_url, tmp_path)
    for args in (["init"], ["demo", "seed"]):
        done = subprocess.run(
            [str(BIN / "lmsctl"), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    return env


def test_cron_report_writes_the_enrollments_behind(seeded: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "examples/cron_report.sh"), str(tmp_path / "reports")],
        env=seeded,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (report,) = (tmp_path / "reports").glob("enrollments-*.json")
    data = json.loads(report.read_text())
    assert data["active"] == 2
    assert [r["course_slug"] for r in data["behind"]] == ["demo-sql-essentials"]


def test_cron_report_fails_when_the_database_is_not_initialised(tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    done = subprocess.run(
        ["bash", str(ROOT / "examples/cron_report.sh"), str(tmp_path / "reports")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert not list((tmp_path / "reports").glob("*.json"))


def test_tour_runs_on_the_demo_data(seeded: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "examples/tour.sh")],
        env=seeded,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "demo-python-basics" in done.stdout
    assert "only the course's instructor or an administrator may unpublish" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
