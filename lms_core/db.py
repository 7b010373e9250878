"""Engine factory and unit of work.

The entry point (CLI command, web request, Huey task) owns the transaction through
:func:`unit_of_work`; services only flush. Runs (an import, a certificate issue) take the
:data:`SessionFactory` instead and open their own units of work (docs/architecture.md).
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

from lms_core.errors import Hint, HintCode, NotFound
from lms_core.private_paths import create_private_file, make_private_dirs
from lms_core.settings_env import EngineSettings  # not Settings: no Pydantic on import
from lms_core.sqlite_writer import Notify, begin_immediate, log_notify

SessionFactory = Callable[[], Session]
T = TypeVar("T")


class DatabaseMissing(NotFound):
    """A SQLite database file that does not exist: only ``lmsctl init`` (or ``db upgrade``)
    creates one; every other command refuses instead of leaving an empty file behind."""


def sqlite_file(url: str | Any) -> Path | None:
    """The file behind a SQLite URL; None for other databases, ``:memory:`` and ``file:`` URIs."""
    sa_url = make_url(url) if isinstance(url, str) else url
    if sa_url.get_backend_name() != "sqlite":
        return None
    database = sa_url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def database_missing(url: str | Any) -> bool:
    """True when ``url`` names a SQLite file that does not exist yet (nothing to connect to)."""
    path = sqlite_file(url)
    return path is not None and not path.exists()


def require_database(url: str) -> None:
    """Refuse a SQLite file that does not exist, naming it, before anything creates it."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        where = "its folder does not exist either" if not path.parent.is_dir() else "no such file"
        raise DatabaseMissing(
            f"database {path} does not exist ({where}): check the path, or initialise it",
            field="database_url",
            value=str(url),
            hint=Hint(HintCode.initialise_database),
        )


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
        sqlite_math(dbapi_connection)

    return on_connect


def _sqrt(value: float | None) -> float | None:
    """SQLite's ``sqrt``: NULL for NULL and for a negative number."""
    if value is None or value < 0:
        return None
    return math.sqrt(value)


def sqlite_math(dbapi_connection: Any) -> None:
    """Give SQLite ``sqrt`` (the reports' item analysis) where the library was built without
    its math functions (before 3.35, or without SQLITE_ENABLE_MATH_FUNCTIONS)."""
    try:
        dbapi_connection.execute("SELECT sqrt(4.0)").fetchall()
    except sqlite3.OperationalError:
        dbapi_connection.create_function("sqrt", 1, _sqrt, deterministic=True)


#: Execution option asking SQLite for a write-locking transaction (see _sqlite_begin).
WRITE_LOCK = "lms_sqlite_write_lock"


def _sqlite_begin(
    db: Path | None, busy_timeout_ms: int, notify: Notify
) -> Callable[[Connection], None]:
    """Start SQLite transactions ourselves, write-locked for units of work that write.

    With a deferred BEGIN, two processes that both read then write conflict, and SQLite fails
    one at once with "database is locked" instead of waiting for the busy timeout: two cron
    jobs at the same minute would see that. BEGIN IMMEDIATE makes the second writer wait its
    turn (saying for whom once it has waited a second: :mod:`lms_core.sqlite_writer`);
    readers keep a plain BEGIN and are never blocked (WAL). Taking BEGIN over from the
    driver is also what makes SAVEPOINTs work (SQLAlchemy's documented pysqlite recipe).
    """

    def begin(conn: Connection) -> None:
        if conn.get_execution_options().get(WRITE_LOCK, False):
            begin_immediate(conn, db, busy_timeout_ms, notify)
        else:
            conn.exec_driver_sql("BEGIN")

    return begin


def _private_sqlite_file(path: Path) -> Callable[..., None]:
    """Before SQLite opens ``path``, create it 0600 if it is missing: the database holds
    password hashes and personal data, and SQLite gives its ``-wal``/``-shm`` files the mode
    of the database file."""

    def before_connect(*_args: Any) -> None:
        with suppress(OSError):  # no folder, or not writable: SQLite reports it as it would
            create_private_file(path)

    return before_connect


def make_engine(
    settings: EngineSettings,
    *,
    url: str | None = None,
    create: bool = True,
    notify: Notify | None = None,
    busy_timeout_ms: int | None = None,
) -> Engine:
    """Build the engine for ``settings.database_url`` (or ``url``).

    SQLite gets WAL, foreign keys, a busy timeout and write-locking transactions on every
    connection; with ``create`` its parent folder is made so the embedded default needs
    nothing set up (``create=False`` leaves the disk alone: see :func:`require_database`).
    ``notify`` hears that a writer waits for another one (default: a ``logging`` warning;
    lmsctl writes it on stderr). ``busy_timeout_ms`` replaces ``settings.sqlite_busy_timeout_ms``
    for this engine: the default fits the longest run a command may wait for, a web request
    wants a shorter one.
    PostgreSQL gets the pool size and overflow from settings, and a connection that sat idle
    in the pool is pinged before use (:func:`_ping_when_idle`): a server restarted while the
    pool idled is survived; under steady traffic each worker loses one request to it. With
    ``db_prepare`` the statements that ask for it run as server-side prepared statements
    (:func:`lms_core.kept.prepared_sql`).
    """
    sa_url = make_url(url or settings.database_url)
    if sa_url.drivername == "postgresql":  # SQLAlchemy 2.1 would pick psycopg 3: not bundled
        sa_url = sa_url.set(drivername="postgresql+psycopg2")
    if sa_url.get_backend_name() == "sqlite":
        path = sqlite_file(sa_url)
        if create and path is not None:
            make_private_dirs(path.parent)
        engine = create_engine(sa_url)
        if path is not None:
            event.listen(engine, "do_connect", _private_sqlite_file(path))
        busy_ms = settings.sqlite_busy_timeout_ms if busy_timeout_ms is None else busy_timeout_ms
        event.listen(engine, "connect", _sqlite_pragmas(busy_ms))
        event.listen(engine, "begin", _sqlite_begin(path, busy_ms, notify or log_notify))
        return engine
    engine = create_engine(
        sa_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )
    _ping_when_idle(engine, settings.db_ping_idle_ms / 1000)
    if settings.db_prepare:
        from lms_core.kept import PREPARING, execute_prepared, replace_stale

        event.listen(engine, "do_execute", execute_prepared)
        event.listen(engine, "handle_error", replace_stale)
        engine.update_execution_options(**{PREPARING: True})
    return engine


_CHECKED_IN = "lms_checked_in"
#: psycopg2's TRANSACTION_STATUS_IDLE: connected, no transaction open.
_PG_IDLE = 0


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only when it sat idle ``idle_seconds`` or more
    (``LMS_DB_PING_IDLE_MS``; 0: at every checkout).

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip per request
    or task (a catalog page: 5 round trips where 2 do; docs/api.md, Performance). A
    connection handed back a moment ago was alive a moment ago; one that sat idle is where a
    restarted server, a proxy's idle timeout or a failover is found. A dead one makes the
    pool drop every connection it holds (``InvalidatePoolError``, as pre-ping does) and
    connect afresh. The price: when the server goes away while connections are in steady
    use, the next statement on each of them fails (a request answers 500, a job is
    retried); the disconnect then empties the pool, so each worker loses one request.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def checked_in(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None and dbapi_connection.autocommit:
            dbapi_connection.autocommit = False  # lent for reads: back as the pool lends it
        if record is not None:
            record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is not None and time.monotonic() - since < idle_seconds:
            return  # used a moment ago
        if since is None and idle_seconds > 0:
            return  # just connected
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if not dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            alive = False
        if not alive:
            raise InvalidatePoolError("the server dropped the pooled connections; reconnecting")


def autocommit_reads(session: Session) -> None:
    """Run this session's statements in autocommit, each on its own snapshot (PostgreSQL;
    elsewhere nothing changes): for a unit of work that only reads, and whose reads need not
    agree with each other, it saves the ``BEGIN`` before the first statement and the
    ``ROLLBACK`` after the last, two round trips. psycopg2's own ``autocommit`` flag is set,
    not SQLAlchemy's isolation level: that one costs a ``SET`` when the connection goes
    back to the pool and a ``BEGIN ISOLATION LEVEL ...`` on every later transaction. The
    pool's check-in turns the flag off again. Call it before the session's first statement.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    dbapi = connection.connection.dbapi_connection
    # Idle only: a session joined to a transaction already open (a test's, rolled back at
    # its end) keeps it.
    if dbapi is not None and dbapi.get_transaction_status() == _PG_IDLE:
        dbapi.autocommit = True


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """The application's sessions; also registers the session listeners that write the
    activity notes at commit (lms_core/accounts/activity.py; imported here, not at module
    level: the models import this module)."""
    from lms_core.accounts.activity import register_listeners

    register_listeners()
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
