"""``lmsctl serve``: its help, its refusals, and a real development server answering."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lms_core.db import make_engine
from lmsctl.main import app
from tests.conftest import cheap_settings, reset_schema

ROOT = Path(__file__).resolve().parents[2]


def test_serve_help_says_development_and_names_gunicorn() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for words in ("--host", "--port", "development", "gunicorn -c gunicorn.conf.py", "Example:"):
        assert words in out, words


def test_serve_refuses_a_database_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = CliRunner().invoke(
        app, ["--database", f"sqlite:///{missing}", "serve", "--port", "1", "--json"]
    )
    assert result.exit_code == 1, result.output
    assert "does not exist" in result.stdout
    assert not missing.exists()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at the newest revision, for the servers to copy (their own file:
    a server in another process cannot share the test's transaction)."""
    folder = tmp_path_factory.mktemp("served")
    db = folder / "lms.db"
    engine = make_engine(cheap_settings(f"sqlite:///{db}", folder), create=True)
    reset_schema(engine)
    engine.dispose()
    return db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (our own server)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_answers_on_the_port(tmp_path: Path, migrated: Path) -> None:
    db = tmp_path / "serve.db"
    shutil.copyfile(migrated, db)
    port = _free_port()
    env = {
        **os.environ,
        "LMS_DATABASE_URL": f"sqlite:///{db}",
        "LMS_FILES_DIR": str(tmp_path / "files"),
    }
    env.pop("LMS_ACTOR", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from lmsctl.main import run; run()",
            "serve",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        status = 0
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        assert status == 200 and '"ok"' in body, server.poll()
        status, page = _get(f"http://127.0.0.1:{port}/login")
        assert status == 200 and "Forgot your password?" in page
        assert _get(f"http://127.0.0.1:{port}/set-password/Zx9-secret-token")[0] == 400
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    assert "DEVELOPMENT server" in err and "gunicorn -c gunicorn.conf.py" in err
    assert "GET /set-password/[token] HTTP/1.1" in err and "Zx9-secret-token" not in err


def _wait_for(url: str, proc: subprocess.Popen[str]) -> tuple[int, str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            return _get(url)
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered (exit {proc.poll()})")


def test_gunicorn_serves_with_the_config_and_keeps_tokens_out_of_the_log(
    tmp_path: Path, migrated: Path
) -> None:
    db = tmp_path / "gunicorn.db"
    shutil.copyfile(migrated, db)  # the token page reads the tokens table
    port = _free_port()
    env = {
        **os.environ,
        "LMS_DATABASE_URL": f"sqlite:///{db}",
        "LMS_FILES_DIR": str(tmp_path / "files"),
        "LMS_BIND": f"127.0.0.1:{port}",
    }
    env.pop("LMS_WEB_WORKERS", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "admin_ui.app:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    secret = "Zx9-secret-token-value"
    try:
        status, _ = _wait_for(f"http://127.0.0.1:{port}/healthz", server)
        assert status == 200
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/set-password/{secret}",
            headers={"Referer": f"http://127.0.0.1:{port}/reset-password/{secret}?x=1"},
        )
        try:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310 (our own server)
        except urllib.error.HTTPError as exc:  # the token is unknown: 400, still logged
            assert exc.code == 400
    finally:
        # SIGTERM, gunicorn's graceful stop: the worker finishes the request it is on, access
        # log line included (SIGINT's quick stop could cut the line the client had not waited
        # for: the response is sent before the request is logged).
        server.send_signal(signal.SIGTERM)
        log, _ = server.communicate(timeout=40)
    assert "Booting worker" in log and log.count("Booting worker") == 1  # SQLite: 1 worker
    assert '"GET /set-password/[token] HTTP/1.1" 400' in log, log
    assert "/reset-password/[token]?x=1" in log
    assert secret not in log
    assert "Control socket" not in log  # gunicorn 25.1+'s per-user socket stays closed


def test_redact_hides_only_the_tokens_of_token_links() -> None:
    from admin_ui.public.redact import redact

    line = (
        'GET /set-password/abc_DEF-123?x=1 HTTP/1.1 "https://lms.example/reset-password/'
        'r3set" /verify-email/v-1#top /verify/LMS-7K4F-9QX2-H /reset-password'
    )
    assert redact(line) == (
        'GET /set-password/[token]?x=1 HTTP/1.1 "https://lms.example/reset-password/'
        '[token]" /verify-email/[token]#top /verify/LMS-7K4F-9QX2-H /reset-password'
    )


@pytest.fixture
def api_log_restored() -> Iterator[logging.Logger]:
    """gunicorn's logger set-up points the API's line logger at its handlers: put it back as
    it was (later tests of this process read its lines through caplog)."""
    api_log = logging.getLogger("lms.api.access")
    saved = (list(api_log.handlers), api_log.propagate, api_log.level)
    yield api_log
    for handler in list(api_log.handlers):
        api_log.removeHandler(handler)
        if handler not in saved[0]:
            handler.close()
    for handler in saved[0]:
        api_log.addHandler(handler)
    api_log.propagate, api_log.level = saved[1], saved[2]


def test_gunicorn_error_log_redacts_tokens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, api_log_restored: logging.Logger
) -> None:
    import runpy

    from gunicorn.config import Config  # type: ignore[import-untyped]

    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    config.set("errorlog", str(tmp_path / "error.log"))
    logger = settings["RedactingLogger"](config)
    logger.error("Error handling request %s", "/set-password/Zx9-secret")
    logging.getLogger(settings["APP_LOGGER"]).error("Exception on /verify-email/Zx9-mail [GET]")
    logged = (tmp_path / "error.log").read_text(encoding="utf-8")
    assert "Error handling request /set-password/[token]" in logged
    assert "Zx9-secret" not in logged
    assert "Exception on /verify-email/[token] [GET]" in caplog.text  # the app's own logger
    assert "Zx9-mail" not in caplog.text


def test_serve_makes_a_missing_metrics_folder(tmp_path: Path, migrated: Path) -> None:
    """PROMETHEUS_MULTIPROC_DIR set to a folder that is not there (outside gunicorn, which
    makes it): the app makes it when built, so the API and /metrics answer instead of 500."""
    db = tmp_path / "serve.db"
    shutil.copyfile(migrated, db)
    folder = tmp_path / "run" / "metrics"
    port = _free_port()
    env = {
        **os.environ,
        "LMS_DATABASE_URL": f"sqlite:///{db}",
        "LMS_FILES_DIR": str(tmp_path / "files"),
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    env.pop("LMS_ACTOR", None)
    server = subprocess.Popen(
        [sys.executable, "-c", "from lmsctl.main import run; run()", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/healthz", server)[0] == 200
        assert _get(f"http://127.0.0.1:{port}/api/v1/openapi.json")[0] == 200
        status, text = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "lms_api_requests_total" in text, text[:500]
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=10)
    assert folder.is_dir()
    # The API request's JSON line, on standard error with Werkzeug's own.
    lines = [json.loads(x) for x in err.splitlines() if x.startswith('{"request_id"')]
    assert [x["path"] for x in lines] == ["/api/v1/openapi.json"], err[-2000:]


def test_gunicorn_writes_the_api_json_line_to_its_access_log(
    tmp_path: Path, api_log_restored: logging.Logger
) -> None:
    """The API's line per request (``lms.api.access``) goes where gunicorn's access log goes;
    without a handler its INFO lines were dropped under gunicorn."""
    import runpy

    from gunicorn.config import Config  # type: ignore[import-untyped]

    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("errorlog", str(tmp_path / "error.log"))
    settings["RedactingLogger"](config)
    api_log_restored.info('{"request_id":"r1","status":200}')
    for handler in api_log_restored.handlers:
        handler.flush()
    assert (tmp_path / "access.log").read_text().splitlines() == [
        '{"request_id":"r1","status":200}'
    ]
    assert "r1" not in (tmp_path / "error.log").read_text()


def test_the_api_line_goes_up_where_the_access_log_has_no_handler(
    api_log_restored: logging.Logger,
) -> None:
    """An access log configured to pass its lines up to the root logger (no handler of its
    own): the API's lines go up too, instead of being dropped while gunicorn's line for the
    request is skipped."""
    from admin_ui.api.requestlog import write_lines_to

    write_lines_to([])
    assert api_log_restored.propagate and not api_log_restored.handlers
    handler = logging.StreamHandler()
    write_lines_to([handler])
    assert not api_log_restored.propagate and api_log_restored.handlers == [handler]
