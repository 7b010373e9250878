"""Listings as a cron job and a shell pipe get them: real lmsctl processes, every row."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.integration.conftest import BIN, lmsctl

ROOT = Path(__file__).resolve().parents[2]


def test_cron_report_counts_every_active_enrollment(seeded: dict[str, str], tmp_path: Path) -> None:
    made = lmsctl(seeded, tmp_path, "demo", "generate", "--users", "90", "--courses", "2",
                  "--enrollments", "150", "--seed", "7")  # fmt: skip
    assert made.returncode == 0, made.stderr
    paged = lmsctl(seeded, tmp_path, "enrollments", "list", "--status", "active",
                   "--per-page", "1", "--json")  # fmt: skip
    assert paged.returncode == 0, paged.stderr
    active = json.loads(paged.stdout)["total"]
    assert active > 50  # more than one default page

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
    assert json.loads(report.read_text())["active"] == active
    assert not list((tmp_path / "reports").glob("*.tmp"))


def test_users_list_into_a_pipe_keeps_every_email_whole(
    seeded: dict[str, str], tmp_path: Path
) -> None:
    email = "a-" + "very-long-" * 11 + "mailbox@example.org"
    created = lmsctl(seeded, tmp_path, "users", "create", email, "--name", "Long Mailbox")
    assert created.returncode == 0, created.stderr
    made = lmsctl(seeded, tmp_path, "demo", "generate", "--users", "70", "--courses", "0",
                  "--enrollments", "0", "--seed", "3")  # fmt: skip
    assert made.returncode == 0, made.stderr

    # `lmsctl users list | grep -c EMAIL`, through a real pipe
    with subprocess.Popen(
        [str(BIN / "lmsctl"), "users", "list"], env=seeded, cwd=tmp_path, stdout=subprocess.PIPE
    ) as listing:
        done = subprocess.run(
            ["grep", "-c", "-F", "--", email],
            stdin=listing.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
    assert listing.returncode == 0
    assert done.stdout.strip() == "1", done.stderr
    everyone = lmsctl(seeded, tmp_path, "users", "list")
    assert len(everyone.stdout.splitlines()) == 1 + 3 + 1 + 70  # header, demo, ours, generated
