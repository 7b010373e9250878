"""What a short command loads: ``users list --json`` starts without Pydantic (Typer's option
coercion and the full settings are its largest avoidable imports) and without the other
database's dialect (bench/cli_start.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from typer.testing import CliRunner

from lmsctl.main import app
from tests.cli.helpers import ok_json

PROBE = """
import atexit, gc, json, sys
atexit.register(lambda: sys.stderr.write("\\nMODULES " + json.dumps(
    {"modules": sorted(sys.modules), "gc": gc.isenabled(), "frozen": gc.get_freeze_count()}
) + "\\n"))
from lmsctl.main import run
run()
"""


def run_lmsctl(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LMS_")}
    env["LMS_FILES_DIR"] = str(cwd / "files")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=120,
    )
    head, _, state = proc.stderr.rpartition("\nMODULES ")
    proc.stderr = head
    return proc, json.loads(state)


def test_users_list_json_starts_without_pydantic(engine: Engine, db_url: str, tmp_path: Path):
    proc, state = run_lmsctl("--database", db_url, "users", "list", "--json", cwd=tmp_path)
    modules = set(state["modules"])
    assert proc.returncode == 0, proc.stderr
    assert isinstance(json.loads(proc.stdout), list)
    loaded = sorted(m for m in modules if m.split(".")[0] in {"pydantic", "pydantic_settings"})
    assert loaded == [], loaded
    assert "typer._adapters" not in modules
    assert "lms_core.settings" not in modules
    other = "sqlite" if db_url.startswith("postgresql") else "postgresql"
    assert f"sqlalchemy.dialects.{other}" not in modules  # only the database's own dialect
    # The cyclic GC was off while modules loaded, then back on, start-up's objects frozen.
    assert state["gc"] is True and state["frozen"] > 10_000


def test_a_setting_the_quick_reading_cannot_vouch_for_gets_the_full_check(
    engine: Engine, db_url: str, tmp_path: Path
):
    (tmp_path / ".env").write_text("LMS_DB_POOL_SIZE=0\n", encoding="utf-8")
    proc, state = run_lmsctl("--database", db_url, "users", "list", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: db_pool_size: Input should be greater than or equal to 1"
    )
    assert "pydantic_settings" in state["modules"]


def test_option_values_are_checked_and_worded_as_before(cli):
    runner = CliRunner()
    for value, message in (
        ("0", "Input should be greater than or equal to 1"),
        ("10001", "Input should be less than or equal to 10000"),
        ("abc", "Input should be a valid integer"),
        ("\uff15", "Input should be a valid integer"),  # a full-width digit
    ):
        result = runner.invoke(app, ["users", "list", "--per-page", value])
        assert result.exit_code == 2, result.output
        assert f"Invalid value for '--per-page': {message}" in result.output
    page = ok_json(cli("users", "list", "--page", "1", "--per-page", "007", "--json"))
    assert page["per_page"] == 7
