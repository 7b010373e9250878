"""Engine factory and unit of work.

The entry point (CLI command, web request, Huey task) owns the transaction through
:func:`unit_of_work`; services only flush.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from lms_core.settings import Settings

SessionFactory = Callable[[], Session]


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[..., None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


def make_engine(settings: Settings, *, url: str | None = None) -> Engine:
    """Build the engine for ``settings.database_url`` (or ``url``).

    SQLite gets WAL, foreign keys and a busy timeout on every connection, and its parent
    folder is created so the embedded default needs nothing set up. PostgreSQL gets the
    pool size and overflow from settings, with pre-ping so a restarted server is survived.
    """
    sa_url = make_url(url or settings.database_url)
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(sa_url)
        event.listen(engine, "connect", _sqlite_pragmas(settings.sqlite_busy_timeout_ms))
        return engine
    return create_engine(
        sa_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: SessionFactory) -> Iterator[Session]:
    """One transaction: commit when the block ends normally, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
