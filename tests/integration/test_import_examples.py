"""examples/import/run.sh runs as a user would run it: real lmsctl processes, a real database.

The script checks itself (re-runs change nothing, the undo empties the course, the mistakes
report matches its expected files); this test runs it and checks the database afterwards.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.integration.conftest import BIN, lmsctl, lmsctl_env

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples/import"


def test_run_sh_imports_the_example_school(scratch_url: str, tmp_path: Path) -> None:
    env = lmsctl_env(scratch_url, tmp_path)
    work = tmp_path / "work"
    done = subprocess.run(
        ["bash", str(EXAMPLES / "run.sh"), str(work)],
        env={**env, "LMSCTL": str(BIN / "lmsctl")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "Traceback" not in done.stdout + done.stderr
    assert "Done: every step did what it should" in done.stdout
    assert not (EXAMPLES / "courses.xlsx").exists(), "run.sh writes only in its work folder"

    engine = create_engine(scratch_url)
    try:
        with engine.connect() as conn:
            emails = set(conn.scalars(text("SELECT email FROM users")))
            lessons = conn.scalar(text("SELECT count(*) FROM lessons"))
            zoe = conn.execute(
                text("SELECT external_id, full_name FROM users WHERE email = :e"),
                {"e": "zoe.muller@example.org"},
            ).one()
    finally:
        engine.dispose()
    assert {"grace.hopper@example.org", "lucia.fernandez@example.org"} <= emails
    assert "maria.lopez@example.org" not in emails, "the file with mistakes changed nothing"
    assert tuple(zoe) == ("000103", "Zoë Müller")
    assert lessons == 9

    history = lmsctl(env, tmp_path, "import", "history", "--json")
    assert history.returncode == 0, history.stderr
    assert len(json.loads(history.stdout)) >= 8


def test_expected_report_lists_each_deliberate_mistake() -> None:
    """One line per problem, in the file's line order, each naming file, line and column."""
    lines = (EXAMPLES / "users-with-mistakes.expected.txt").read_text(encoding="utf-8")
    errors = json.loads((EXAMPLES / "users-with-mistakes.expected.json").read_text())["errors"]
    assert len(lines.splitlines()) == len(errors)
    where = {(e["line"], e["column"]) for e in errors}
    assert {
        (2, "email"),  # trailing non-breaking space
        (3, "external_id"),  # 1.23E+05
        (4, "full_name"),  # JosÃ© GarcÃ­a
        (6, "email"),  # Ines.Martin@ repeats ines.martin@ of line 5
        (7, "role"),  # teacher
        (8, "full_name"),  # missing
        (9, "external_id"),  # 18 digits ending in 000
    } <= where
    assert {e["file"] for e in errors} == {"users-with-mistakes.csv"}
