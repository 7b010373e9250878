"""/metrics under a real gunicorn of two workers with ``PROMETHEUS_MULTIPROC_DIR``: requests
answered by both workers are all counted in one scrape, whichever worker answers it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine

from lms_core.settings import Settings
from tests.web.test_serve import ROOT, _free_port, _get, _wait_for

REQUESTS = 120
_COUNT = re.compile(
    r'^lms_api_requests_total\{endpoint="api.openapi",method="GET",status="200"\} (\S+)$', re.M
)


def test_one_scrape_counts_every_workers_requests(
    tmp_path: Path, settings: Settings, engine: Engine
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"a previous run's file")  # emptied at start
    port = _free_port()
    env = {
        **os.environ,
        "LMS_DATABASE_URL": settings.database_url,  # migrated by the engine fixture
        "LMS_FILES_DIR": str(tmp_path / "files"),
        "LMS_BIND": f"127.0.0.1:{port}",
        "LMS_WEB_WORKERS": "2",
        "LMS_ENVIRONMENT": "development",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/healthz", server)[0] == 200
        url = f"http://127.0.0.1:{port}/api/v1/openapi.json"
        with ThreadPoolExecutor(8) as pool:  # concurrent: both sync workers take some
            statuses = list(pool.map(lambda _: _get(url)[0], range(REQUESTS)))
        assert statuses == [200] * REQUESTS
        pids = {p.stem.rsplit("_", 1)[1] for p in folder.glob("counter_*.db")}
        assert len(pids) == 2 and "999999" not in pids, pids  # both workers counted some
        for _ in range(3):  # whichever worker answers the scrape: the same total
            status, text = _get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200
            found = _COUNT.search(text)
            assert found is not None, text[:2000]
            assert float(found.group(1)) == REQUESTS
            assert 'lms_jobs{status="queued"}' in text
            assert "lms_api_request_duration_seconds_count" in text
    finally:
        server.send_signal(signal.SIGTERM)
        log, _ = server.communicate(timeout=40)
    assert log.count("Booting worker") == 2, log
    # Each API request's JSON line, on gunicorn's access log (stdout here).
    lines = [json.loads(x) for x in log.splitlines() if x.startswith('{"request_id"')]
    assert len([x for x in lines if x["path"] == "/api/v1/openapi.json"]) == REQUESTS, log[-2000:]
    assert {x["status"] for x in lines} == {200} and all(x["time"] and x["bytes"] for x in lines)
    # One line per request: gunicorn's access line only for what the API did not log.
    assert '"GET /api/v1/openapi.json' not in log
    assert '"GET /metrics HTTP/1.1" 200' in log and '"GET /healthz HTTP/1.1" 200' in log


def test_a_metrics_folder_holding_the_database_stops_the_start_and_keeps_it(
    tmp_path: Path, settings: Settings
) -> None:
    """PROMETHEUS_MULTIPROC_DIR pointed at the data folder: gunicorn refuses to start, and
    lms.db (a real SQLite file) is still there; nothing in the folder is deleted."""
    import sqlite3

    data = tmp_path / "data"
    data.mkdir()
    database = data / "lms.db"
    sqlite3.connect(database).execute("create table kept (x)").connection.commit()
    (data / "counter_999999.db").write_bytes(b"a previous run's file")
    env = {
        **os.environ,
        "LMS_DATABASE_URL": f"sqlite:///{database}",
        "LMS_FILES_DIR": str(tmp_path / "files"),
        "LMS_BIND": f"127.0.0.1:{_free_port()}",
        "LMS_WEB_WORKERS": "1",
        "LMS_ENVIRONMENT": "development",
        "PROMETHEUS_MULTIPROC_DIR": str(data),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        log, _ = server.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        server.send_signal(signal.SIGTERM)
        log, _ = server.communicate(timeout=40)
    assert database.exists() and (data / "counter_999999.db").exists(), log
    assert server.returncode not in (0, None), log
    assert "is the database's folder" in log, log
