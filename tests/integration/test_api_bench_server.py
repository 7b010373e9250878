"""bench/api_bench.py's server: no worker recycled during the load (production's
``max_requests`` would restart workers mid-measure), and the restarts it reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> Any:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import api_bench
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return api_bench


def test_the_bench_server_recycles_no_worker(tmp_path: Path) -> None:
    bench = _bench()
    env = bench.server_env("sqlite:///" + str(tmp_path / "x.db"), tmp_path, 1)
    config = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--print-config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert [line.split() for line in config.splitlines() if line.startswith("max_requests ")] == [
        ["max_requests", "=", "0"]
    ]


def test_worker_restarts_are_counted_from_the_log() -> None:
    bench = _bench()
    booted = "[INFO] Booting worker with pid: {}\n"
    log = "".join(booted.format(pid) for pid in (10, 11, 12))
    assert bench.worker_restarts(log) == 1
    assert bench.worker_restarts(booted.format(10)) == 0
