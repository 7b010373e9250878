"""The shipped examples run as a user would run them: real lmsctl processes, a real database."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.integration.conftest import lmsctl_env

ROOT = Path(__file__).resolve().parents[2]


def test_cron_report_writes_the_enrollments_behind(seeded: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "examples/cron_report.sh"), str(tmp_path / "reports")],
        env={**seeded, "LMS_REPORT_THRESHOLD": "70"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (report,) = (tmp_path / "reports").glob("enrollments-*.json")
    data = json.loads(report.read_text())
    # The demo student completed demo-sql-essentials and is two thirds through
    # demo-python-basics (4 of 6 lessons, the checkpoint quiz and the homework included).
    assert data["active"] == 1
    assert [r["course_slug"] for r in data["behind"]] == ["demo-python-basics"]


def test_cron_report_fails_when_the_database_is_not_initialised(tmp_path: Path) -> None:
    env = lmsctl_env(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
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
    assert ": valid - Sam Student, SQL Essentials" in done.stdout
    assert "only the course's instructor or an administrator may unpublish" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
