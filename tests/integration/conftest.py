"""Helpers for tests that run lmsctl as real processes against a scratch database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def lmsctl_env(url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a user's shell: the venv on PATH, this database, cheap argon2."""
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "LMS_DATABASE_URL": url,
        "LMS_FILES_DIR": str(tmp_path / "files"),
        "LMS_PASSWORD_MEMORY_COST": "8",
        "LMS_PASSWORD_TIME_COST": "1",
        "LMS_PASSWORD_PARALLELISM": "1",
    }


def lmsctl(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "lmsctl"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def seeded(scratch_url: str, tmp_path: Path) -> dict[str, str]:
    """A scratch database after `lmsctl init` and `lmsctl demo seed`; returns the env."""
    env = lmsctl_env(scratch_url, tmp_path)
    for args in (["init"], ["demo", "seed"]):
        done = lmsctl(env, tmp_path, *args)
        assert done.returncode == 0, done.stderr
    return env
