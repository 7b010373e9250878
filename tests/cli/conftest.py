"""Fixtures for the lmsctl tests: "the database did not change", and a CLI on a scratch database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from lms_core.db import make_engine
from lmsctl.runtime import Runtime
from tests.cli.helpers import audit_count, db_state
from tests.conftest import cheap_settings

Unchanged = Callable[[], AbstractContextManager[None]]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich tables as on a wide terminal, so a value is never folded across lines."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def unchanged(session: Session) -> Unchanged:
    """``with unchanged(): result = cli(...)``: no row of any table (audit_log too) changed."""

    @contextmanager
    def check() -> Iterator[None]:
        before, audits = db_state(session), audit_count(session)
        yield
        assert audit_count(session) == audits, "the audit log changed"
        assert db_state(session) == before, "the database changed"

    return check


class ScratchCli:
    """lmsctl against a real database of the test's own: commands build their own engine and commit.

    Each call gets a fresh ``Runtime`` (like a new process) whose engine is disposed afterwards,
    so PostgreSQL can drop the scratch database at the end.
    """

    def __init__(self, url: str, files_dir: Path) -> None:
        self.url = url
        self.files_dir = files_dir
        self.runner = CliRunner()

    def runtime(self, **settings: Any) -> Runtime:
        return Runtime(
            settings=cheap_settings(self.url, settings.pop("files_dir", self.files_dir), **settings)
        )

    def __call__(self, *args: str, input: str | None = None, **settings: Any) -> Result:
        from lmsctl.main import app

        rt = self.runtime(**settings)
        try:
            return self.runner.invoke(app, list(args), input=input, obj=rt)
        finally:
            if rt.engine is not None:
                rt.engine.dispose()

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        engine = make_engine(cheap_settings(self.url, self.files_dir))
        try:
            yield engine
        finally:
            engine.dispose()

    def tables(self) -> set[str]:
        with self.engine() as engine:
            return set(inspect(engine).get_table_names())

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine() as engine, engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()


@pytest.fixture
def scratch(scratch_url: str, tmp_path: Path) -> ScratchCli:
    return ScratchCli(scratch_url, tmp_path / "files")
