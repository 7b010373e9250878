"""The back office waits for SQLite's write lock for seconds, not the ten minutes a command may.

A command started during an import waits for it (``sqlite_busy_timeout_ms``, 10 minutes by
default); a web worker waiting that long is a worker lost, so the back office's engines use
``admin_ui.app.WEB_SQLITE_BUSY_TIMEOUT_MS`` (or the setting, when it is shorter). SQLite
files of the test's own, whatever database the suite runs on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from admin_ui.app import EXTENSION, WEB_SQLITE_BUSY_TIMEOUT_MS, AppState, create_app
from tests.conftest import cheap_settings


def _busy_timeout(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one())


@pytest.mark.parametrize(("setting", "expected"), [(600_000, 15_000), (2_000, 2_000)])
def test_the_back_office_waits_for_the_write_lock_seconds_not_minutes(
    tmp_path: Path, setting: int, expected: int
) -> None:
    assert WEB_SQLITE_BUSY_TIMEOUT_MS == 15_000
    settings = cheap_settings(
        f"sqlite:///{tmp_path / 'web.db'}", tmp_path / "files", sqlite_busy_timeout_ms=setting
    )
    app_state: AppState = create_app(settings).extensions[EXTENSION]
    try:
        assert _busy_timeout(app_state.engine) == expected
        session = app_state.session_factory()
        try:
            busy = session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar_one()
            assert busy == expected
        finally:
            session.close()
    finally:
        app_state.dispose()


def test_an_engine_built_on_first_use_has_the_short_timeout_too(
    tmp_path: Path, session_factory: Callable[[], Session]
) -> None:
    settings = cheap_settings(f"sqlite:///{tmp_path / 'web.db'}", tmp_path / "files")
    assert settings.sqlite_busy_timeout_ms == 600_000
    app_state: AppState = create_app(settings, session_factory=session_factory).extensions[
        EXTENSION
    ]
    try:
        assert _busy_timeout(app_state.engine) == WEB_SQLITE_BUSY_TIMEOUT_MS
    finally:
        app_state.dispose()
