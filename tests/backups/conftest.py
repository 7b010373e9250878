"""A real site for backup tests: a committed, migrated database of its own with demo data and
a files folder, and lmsctl run against it (backups read what is committed, not a test's
rolled-back transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.ops import schema
from lms_core.ops.demo import generate
from lms_core.settings import Settings
from lmsctl.runtime import Runtime
from tests.conftest import cheap_settings


@dataclass
class Site:
    settings: Settings
    engine: Engine
    backups: Path
    tmp: Path

    @property
    def url(self) -> str:
        return self.settings.database_url

    @property
    def kind(self) -> str:
        return "postgresql" if self.url.startswith("postgresql") else "sqlite"

    def run(self, *args: str, settings: Settings | None = None) -> Result:
        """lmsctl as at the shell, building its own engine from the site's settings."""
        from lmsctl.main import app

        runtime = Runtime(settings=settings or self.settings)
        try:
            return CliRunner().invoke(app, list(args), obj=runtime)
        finally:
            if runtime.engine is not None:
                runtime.engine.dispose()


def make_site(url: str, tmp: Path, *, users: int = 30, enrollments: int = 60) -> Site:
    files = tmp / "files"
    (files / "uploads" / "c1").mkdir(parents=True)
    (files / "uploads" / "c1" / "notes.txt").write_text("lesson notes\n", encoding="utf-8")
    (files / "certificates").mkdir()
    (files / "certificates" / "cert-1.pdf").write_bytes(b"%PDF-1.4 fake\n" * 100)
    settings = cheap_settings(url, files)
    engine = make_engine(settings)
    schema.upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        generate(
            session,
            actor=Actor.operator("pytest"),
            settings=settings,
            n_users=users,
            n_courses=3,
            n_enrollments=enrollments,
            seed_value=12,
        )
    return Site(settings, engine, tmp / "backups", tmp)


@pytest.fixture
def site(scratch_url: str, tmp_path: Path) -> Iterator[Site]:
    made = make_site(scratch_url, tmp_path)
    yield made
    made.engine.dispose()


@pytest.fixture
def sqlite_site(tmp_path: Path) -> Iterator[Site]:
    """A SQLite site whatever the suite's database (tests that edit the SQLite copy)."""
    made = make_site(f"sqlite:///{tmp_path / 'site.db'}", tmp_path)
    yield made
    made.engine.dispose()


@pytest.fixture
def restore_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty restore target that does not exist yet: ``<suite db>_restore`` on PostgreSQL
    (dropped before and after), a new file on SQLite."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'restored' / 'restored.db'}"
        return
    name = f"{url.database}_restore"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    drop = text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    with admin.connect() as conn:
        conn.execute(drop)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(drop)
        admin.dispose()


def only_archive(folder: Path) -> Path:
    found = sorted(folder.glob("lms-backup-*.tar"))
    assert len(found) == 1, found
    return found[0]
