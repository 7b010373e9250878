"""Racing starts of the same learner's attempt, as real lmsctl processes on a real database."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.conftest import BIN

pytestmark = pytest.mark.scratch


def test_simultaneous_starts_open_one_attempt(seeded: dict[str, str], tmp_path: Path) -> None:
    """The demo student has one graded attempt; six starts at once make one more, shared by all."""
    procs = [
        subprocess.Popen(
            [
                str(BIN / "lmsctl"),
                "quizzes",
                "start",
                "demo-python-basics/checkpoint",
                "student@demo.example.org",
                "--json",
            ],
            env=seeded,
            cwd=tmp_path,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(6)
    ]
    outputs = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [code for code, _, _ in outputs] == [0] * 6, outputs
    started = [json.loads(out) for _, out, _ in outputs]
    assert len({s["attempt"]["id"] for s in started}) == 1
    assert sorted(s["resumed"] for s in started) == [False] + [True] * 5
    assert len({json.dumps(s["questions"]) for s in started}) == 1  # same order for everyone
    engine = create_engine(seeded["LMS_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            counts = conn.execute(
                text("SELECT status, count(*) FROM attempts GROUP BY status ORDER BY status")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in counts] == [("graded", 1), ("in_progress", 1)]
