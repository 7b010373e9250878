"""The documented command, ``huey_consumer jobs.main.huey``, runs tasks built from settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import huey
import pytest

from jobs.huey_app import make_huey
from jobs.tasks import register_tasks
from tests.conftest import cheap_settings


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env.update(
        LMS_DATABASE_URL=f"sqlite:///{tmp_path / 'lms.db'}", LMS_FILES_DIR=str(tmp_path / "files")
    )
    return env


def test_importing_the_packages_builds_nothing(tmp_path: Path) -> None:
    code = (
        "import jobs, jobs.huey_app, jobs.tasks, jobs.main, admin_ui, admin_ui.app, "
        "admin_ui.auth, admin_ui.views, gc, huey, flask, sqlalchemy\n"
        "import jobs.dispatch, jobs.schedule, jobs.signing, jobs.wakeup, jobs.worker\n"
        "import lms_core.jobs.ledger, lms_core.jobs.registry, lms_core.jobs.admin\n"
        "assert not lms_core.jobs.registry._handlers, 'handlers registered at import'\n"
        "assert 'huey' not in vars(jobs.main), 'jobs.main built its queue at import'\n"
        "built = (huey.Huey, flask.Flask, sqlalchemy.Engine)\n"
        "assert not [o for o in gc.get_objects() if isinstance(o, built)]\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(tmp_path), check=True)
    assert list(tmp_path.iterdir()) == [], "importing created files"


def test_jobs_main_builds_the_queue_from_settings_on_first_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jobs.main

    monkeypatch.chdir(tmp_path)  # no stray .env
    for key, value in _env(tmp_path).items():
        if key.startswith("LMS_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("LMS_HUEY_URL", raising=False)
    jobs.main.get_tasks.cache_clear()
    try:
        queue = jobs.main.huey
        assert type(queue) is huey.SqliteHuey
        assert Path(queue.storage.filename) == tmp_path / "huey.db"
        assert jobs.main.huey is queue
        assert jobs.main.tasks.ping.huey is queue
    finally:
        jobs.main.get_tasks().close()
        jobs.main.get_tasks.cache_clear()


def test_huey_consumer_command_runs_ping(tmp_path: Path) -> None:
    command = Path(sys.executable).with_name("huey_consumer")
    proc = subprocess.Popen(
        [
            str(command),
            "jobs.main.huey",
            "--workers",
            "1",
            "--worker-type",
            "thread",
            "--max-delay",
            "0.5",
            "--no-periodic",
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    settings = cheap_settings(f"sqlite:///{tmp_path / 'lms.db'}", tmp_path / "files")
    tasks = register_tasks(make_huey(settings), settings)
    try:
        result = tasks.ping("from the test")
        value = result.get(blocking=True, timeout=30)
        assert value == {"echo": "from the test", "pid": proc.pid}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert b"jobs.tasks.ping" in output, output.decode(errors="replace")
