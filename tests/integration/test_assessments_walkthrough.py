"""examples/assessments/walkthrough.sh runs as an instructor would run it, and does what it says.

Real lmsctl processes against a scratch database (SQLite, or PostgreSQL under
LMS_TEST_DATABASE_URL), named with ``--database`` as the script allows.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import lmsctl, lmsctl_env

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples/assessments/walkthrough.sh"
COURSE = "walkthrough-python"


def test_the_assessments_walkthrough_runs_end_to_end(scratch_url: str, tmp_path: Path) -> None:
    env = lmsctl_env(scratch_url, tmp_path)
    del env["LMS_DATABASE_URL"]  # the script is given the database with --database
    work = tmp_path / "work"
    done = subprocess.run(
        ["bash", str(SCRIPT), "--database", scratch_url],
        env={**env, "WORKDIR": str(work), "PYTHON": sys.executable},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, out[-3000:] + err
    assert "Traceback" not in out + err

    # The GIFT bank's description item is skipped, and the instructor is told.
    assert "python-basics.gift, line 80, column 1: no answer block" in err
    # The key fix: two questions differ, and the regrade changes Bo's and Cy's scores.
    assert "13 replaced (2 changed: regrade after)" in out
    assert "would change 2 attempt(s) and the final score of 2 learner(s)" in out
    assert "quiz 1: regraded 3 attempt(s); changed 2 attempt(s)" in out
    # The slip in the worksheet is refused with its place, and nothing is written.
    assert "grades.xlsx, line 3, column grade: must be from 0 to 20" in err
    assert "(refused, exit code 1: nothing written)" in out

    with (work / "gradebook.csv").open(newline="", encoding="utf-8-sig") as f:
        book = {row["email"]: row for row in csv.DictReader(f)}
    quiz, homework = "Python checkpoint (%)", "Loops (/20)"
    assert {e: (r[quiz], r[homework], r["total"]) for e, r in book.items()} == {
        "ana@example.org": ("92.31", "18.0", "91.16"),
        "bo@example.org": ("3.85", "7.5", "20.68"),  # 7.69 before the regrade
        "cy@example.org": ("55.77", "", "27.89"),  # 48.08 (a fail) before it
    }
    # Ana finished the quiz and the homework; Cy passes the quiz after the regrade only.
    progress = {e: r["progress_percentage"] for e, r in book.items()}
    assert progress == {
        "ana@example.org": "66.67",
        "bo@example.org": "33.33",
        "cy@example.org": "33.33",
    }

    db_env = {**env, "LMS_DATABASE_URL": scratch_url}

    def read(*args: str) -> object:
        shown = lmsctl(db_env, tmp_path, *args, "--json")
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)

    attempts = read("quizzes", "attempts", f"{COURSE}/checkpoint")
    assert isinstance(attempts, list)
    assert {a["email"]: (a["status"], a["score"], a["passed"]) for a in attempts} == {
        "ana@example.org": ("graded", 92.31, True),
        "bo@example.org": ("graded", 3.85, False),
        "cy@example.org": ("graded", 55.77, True),
    }
    regrade = read("quizzes", "regrade", f"{COURSE}/checkpoint", "--dry-run")
    assert isinstance(regrade, dict)
    assert regrade["changed_attempts"] == 0  # applied once, for good

    cy = next(a for a in attempts if a["email"] == "cy@example.org")
    review = read("quizzes", "attempt", str(cy["id"]))
    assert isinstance(review, dict)
    essay = review["questions"][11]
    assert (essay["question_type"], essay["points_earned"], essay["waiting"]) == (
        "essay",
        0.75,
        False,
    )
    assert essay["answer"].startswith("It runs its body once")

    submissions = read("submissions", "list", f"{COURSE}/homework")
    assert isinstance(submissions, list)
    assert {s["email"]: (s["grade"], s["feedback"]) for s in submissions} == {
        "ana@example.org": (18.0, "Clean loops."),
        "bo@example.org": (7.5, "Reflect on the off-by-one."),
    }
    assert {s["email"]: [f["name"] for f in s["files"]] for s in submissions} == {
        "ana@example.org": ["loops.py"],
        "bo@example.org": ["reflection.md"],
    }
