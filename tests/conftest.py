"""Test fixtures: one real database per run (SQLite, or PostgreSQL with --db-url /
LMS_TEST_DATABASE_URL), each test isolated in a transaction rolled back at its end.

Sessions join the test's outer transaction with ``join_transaction_mode="create_savepoint"``,
so a service's or a CLI command's own commit/rollback works on a SAVEPOINT. On SQLite that
needs SQLAlchemy's documented pysqlite workaround (the driver's own transaction handling off,
an explicit BEGIN), which ``lms_core.db.make_engine`` applies to every SQLite engine.
Tests of crashes, concurrency and migrations use ``scratch_url``: a database of their own.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from lms_core.actor import Actor
from lms_core.db import make_engine
from lms_core.security import PasswordHasher
from lms_core.settings import Settings
from lmsctl.runtime import Runtime
from tests.factories import Factories


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db-url",
        default=os.environ.get("LMS_TEST_DATABASE_URL"),
        help="Database for the suite (default: a temporary SQLite file). "
        "E.g. postgresql+psycopg2://postgres@127.0.0.1:5432/lms_test",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With LMS_NO_SKIPS=1 (CI), a skipped test fails: a run must not silently skip PostgreSQL or Redis."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("LMS_NO_SKIPS") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (LMS_NO_SKIPS=1): {report.longrepr}"


def pytest_report_header(config: pytest.Config) -> str:
    url = config.getoption("--db-url") or "sqlite (temporary file)"
    return f"lms test database: {make_url(url).render_as_string(hide_password=True) if '://' in url else url}"


@pytest.fixture(scope="session")
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = request.config.getoption("--db-url")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:  # pytest -n N: each worker its own database (lms_test_gw0, lms_test_gw1)
            parsed = parsed.set(database=f"{parsed.database}_{worker}")
            url = parsed.render_as_string(hide_password=False)
        _create_database_if_missing(url)
    return str(url)


def _create_database_if_missing(url: str) -> None:
    from sqlalchemy import create_engine

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        ).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def is_postgres(db_url: str) -> bool:
    return make_url(db_url).get_backend_name() == "postgresql"


def cheap_settings(url: str, files_dir: Path, **extra: Any) -> Settings:
    """Settings for tests: argon2id with the cheapest parameters, files in a temp folder."""
    return Settings(
        database_url=url,
        files_dir=files_dir,
        password_time_cost=1,
        password_memory_cost=8,
        password_parallelism=1,
        **extra,
    )


@pytest.fixture(scope="session")
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return cheap_settings(db_url, tmp_path_factory.mktemp("files"))


def reset_schema(engine: Engine) -> None:
    """Empty the database, then migrate it to head (so every run also tests the migrations)."""
    from lms_core.ops import schema

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            for (name,) in conn.execute(
                text("SELECT name FROM sqlite_master WHERE type='table'")
            ).all():
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    schema.upgrade(engine)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    reset_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> Callable[[], Session]:
    def factory() -> Session:
        return Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    return factory


@pytest.fixture
def session(session_factory: Callable[[], Session]) -> Iterator[Session]:
    s = session_factory()
    yield s
    s.close()


@pytest.fixture(scope="session")
def hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher.from_settings(settings)


@pytest.fixture
def operator() -> Actor:
    """The CLI operator without --as: admin rights."""
    return Actor.operator("pytest")


@pytest.fixture
def make(session: Session, hasher: PasswordHasher, operator: Actor) -> Factories:
    """Factory callables: ``make.user(role=...)``, ``make.course(lessons=3)``, ``make.enroll(...)``."""
    return Factories(session, hasher, operator)


class Cli:
    """Runs lmsctl in-process against the test's transaction, like a user at the shell."""

    def __init__(self, settings: Settings, factory: Callable[[], Session]) -> None:
        self.settings = settings
        self.factory = factory
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, as_: str | None = None) -> Result:
        from lmsctl.main import app

        runtime = Runtime(settings=self.settings, session_factory=self.factory, actor_email=as_)
        return self.runner.invoke(app, list(args), input=input, obj=runtime)


@pytest.fixture
def cli(settings: Settings, session_factory: Callable[[], Session]) -> Cli:
    return Cli(settings, session_factory)


_scratch_counter = itertools.count()


@contextmanager
def scratch_database(db_url: str, sqlite_path: Path) -> Iterator[str]:
    """An empty database of its own, dropped afterwards: a SQLite file at ``sqlite_path``, or
    a new PostgreSQL database on the test server (for tests that need two databases too)."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        yield f"sqlite:///{sqlite_path}"
        return
    from sqlalchemy import create_engine

    name = f"lms_scratch_{os.getpid()}_{next(_scratch_counter)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def scratch_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's own, for commands that commit for real."""
    with scratch_database(db_url, tmp_path / "scratch.db") as url:
        yield url


@dataclass
class Committed:
    """A migrated database of a test's own: its settings, engine and session factory."""

    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]


@pytest.fixture
def committed(scratch_url: str, tmp_path: Path) -> Iterator[Committed]:
    """A migrated database of the test's own whose commits are real, for what only a commit
    does (a trigger deferred to it, a second connection seeing it): the ``session``
    fixture's commits are savepoints of a transaction rolled back at the test's end."""
    from lms_core.db import make_session_factory
    from lms_core.ops import schema

    settings = cheap_settings(scratch_url, tmp_path / "files")
    engine = make_engine(settings)
    try:
        schema.upgrade(engine)
        yield Committed(settings, engine, make_session_factory(engine))
    finally:
        engine.dispose()


@pytest.fixture
def admin_user(make: Any) -> Any:
    """An administrator, made through the services like every test row."""
    return make.user("admin")


@pytest.fixture
def teacher(make: Any) -> Any:
    return make.user("instructor")


@pytest.fixture
def learner(make: Any) -> Any:
    return make.user("student")
