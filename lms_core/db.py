"""Engine factory and unit of work.

The entry point (CLI command, web request, Huey task) owns the transaction through
:func:`unit_of_work`; services only flush. Runs (an import, a certificate issue) take the
:data:`SessionFactory` instead and open their own units of work (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lms_core.settings import Settings

SessionFactory = Callable[[], Session]
T = TypeVar("T")


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[..., None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the driver, decides when transactions start (see _begin_immediate).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


#: Execution option asking SQLite for a write-locking transaction (see _sqlite_begin).
WRITE_LOCK = "lms_sqlite_write_lock"


def _sqlite_begin(conn: Connection) -> None:
    """Start SQLite transactions ourselves, write-locked for units of work that write.

    With a deferred BEGIN, two processes that both read then write conflict, and SQLite fails
    one at once with "database is locked" instead of waiting for the busy timeout: two cron
    jobs at the same minute would see that. BEGIN IMMEDIATE makes the second writer wait its
    turn; readers keep a plain BEGIN and are never blocked (WAL). Taking BEGIN over from the
    driver is also what makes SAVEPOINTs work (SQLAlchemy's documented pysqlite recipe).
    """
    immediate = conn.get_execution_options().get(WRITE_LOCK, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(settings: Settings, *, url: str | None = None) -> Engine:
    """Build the engine for ``settings.database_url`` (or ``url``).

    SQLite gets WAL, foreign keys, a busy timeout and write-locking transactions on every
    connection, and its parent folder is created so the embedded default needs nothing set up. PostgreSQL gets the
    pool size and overflow from settings, with pre-ping so a restarted server is survived.
    """
    sa_url = make_url(url or settings.database_url)
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(sa_url)
        event.listen(engine, "connect", _sqlite_pragmas(settings.sqlite_busy_timeout_ms))
        event.listen(engine, "begin", _sqlite_begin)
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
def unit_of_work(factory: SessionFactory, *, write: bool = True) -> Iterator[Session]:
    """One transaction: commit when the block ends normally, roll back on any exception.

    ``write=False`` marks a read-only unit (listings): on SQLite it does not queue behind
    writers. Elsewhere the flag changes nothing.
    """
    session = factory()
    if write:
        session.connection(execution_options={WRITE_LOCK: True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_or_winner(session: Session, row: T, winner: Callable[[], T | None]) -> T | None:
    """Insert ``row``; None when it went in, else the row a concurrent transaction inserted
    first (``winner()``), found after our unique violation (re-raised when there is none).

    Under a SAVEPOINT, so that losing the race leaves the caller's transaction usable
    (PostgreSQL aborts the whole transaction on a unique violation otherwise).
    """
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = winner()
        if found is None:
            raise
        return found
    return None
