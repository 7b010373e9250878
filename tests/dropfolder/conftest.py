"""Fixtures of the drop-folder tests: a folder, settings that watch it, a CLI using them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from lms_core.settings import Settings
from tests.conftest import Cli
from tests.mail.conftest import pointing_at
from tests.mail.smtp_server import Server


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    server = Server()
    yield server
    server.stop()


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


@pytest.fixture
def drop_settings(settings: Settings, drop: Path, tmp_path: Path, smtp_server: Server) -> Settings:
    return pointing_at(settings, smtp_server.port, tmp_path).model_copy(
        update={
            "import_drop_dir": drop,
            "import_drop_stable_seconds": 0.0,
            "files_dir": tmp_path / "files",
            "jobs_backoff_base_seconds": 0.0,
        }
    )


@pytest.fixture
def drop_cli(drop_settings: Settings, session_factory: Callable[[], Session]) -> Cli:
    return Cli(drop_settings, session_factory)
