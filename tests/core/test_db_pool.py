"""The PostgreSQL pool: a connection idle in the pool is pinged before use (a dead one is
replaced), one used a moment ago is not; reads in autocommit (``autocommit_reads``) and the
pool's check-in handing connections back in transaction mode. On SQLite: what stays as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lms_core.db import autocommit_reads, make_engine
from lms_core.settings import Settings

IDLE_SECONDS = Settings.model_fields["db_ping_idle_ms"].default / 1000


@pytest.fixture
def engine(settings: Settings, scratch_url: str) -> Iterator[Engine]:
    built = make_engine(settings.model_copy(update={"database_url": scratch_url}))
    yield built
    built.dispose()


@pytest.fixture
def always_pinged(settings: Settings, scratch_url: str) -> Iterator[Engine]:
    """``LMS_DB_PING_IDLE_MS=0``: every checkout pinged, as SQLAlchemy's pre-ping does."""
    built = make_engine(
        settings.model_copy(update={"database_url": scratch_url, "db_ping_idle_ms": 0})
    )
    yield built
    built.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def terminate(url: str, pid: int) -> None:
    """End one server process from outside, as a restart or an idle timeout would."""
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        admin.dispose()
    time.sleep(0.1)  # the server ends the process asynchronously


def test_a_connection_that_died_while_idle_is_replaced(
    engine: Engine, scratch_url: str, is_postgres: bool
) -> None:
    if not is_postgres:
        # No pool to go stale: each SQLite connection is a file handle of this process.
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
        assert engine.dialect.name == "sqlite"
        return
    pid = backend_pid(engine)
    terminate(scratch_url, pid)
    time.sleep(IDLE_SECONDS + 0.2)
    # Pinged at checkout, found dead, replaced: the caller never sees the loss.
    assert backend_pid(engine) != pid
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1


def test_a_connection_used_a_moment_ago_is_not_pinged(
    engine: Engine, scratch_url: str, is_postgres: bool
) -> None:
    """The trade-off, shown: no ping within the idle threshold, so a connection lost in that
    window fails its next statement (a clean error); the pool then starts afresh."""
    if not is_postgres:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
        return
    pid = backend_pid(engine)
    terminate(scratch_url, pid)
    with pytest.raises(OperationalError), engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    assert backend_pid(engine) != pid  # the disconnect emptied the pool


def test_one_dead_connection_found_idle_replaces_the_whole_pool(
    engine: Engine, scratch_url: str, is_postgres: bool
) -> None:
    """Two pooled connections, both lost: the one idle past the threshold is pinged, found
    dead, and the pool drops every connection it holds, so the other one (used a moment ago,
    not pinged) is never handed out dead either."""
    if not is_postgres:
        with engine.connect() as one, engine.connect() as two:
            assert (
                one.exec_driver_sql("SELECT 1").scalar_one()
                == two.exec_driver_sql("SELECT 2").scalar_one() - 1
            )
        return
    with engine.connect() as one, engine.connect() as two:
        pids = {int(c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()) for c in (one, two)}
    for pid in pids:
        terminate(scratch_url, pid)
    time.sleep(IDLE_SECONDS + 0.2)
    with engine.connect() as first, engine.connect() as second:
        for conn in (first, second):
            assert int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()) not in pids


def test_with_no_idle_threshold_every_checkout_is_pinged(
    always_pinged: Engine, scratch_url: str, is_postgres: bool
) -> None:
    """``LMS_DB_PING_IDLE_MS=0``: a connection lost a moment after its last use is replaced
    before anyone sees it (what the default trades for a round trip per request)."""
    if not is_postgres:
        with always_pinged.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
        return
    pid = backend_pid(always_pinged)
    terminate(scratch_url, pid)
    assert backend_pid(always_pinged) != pid


def test_autocommit_reads_skip_the_transaction(engine: Engine, is_postgres: bool) -> None:
    """In autocommit each statement has its own snapshot: ``now()`` (the transaction's start)
    moves between two statements; inside a transaction it does not."""
    now = "SELECT now()" if is_postgres else "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"
    with Session(engine) as reads:
        autocommit_reads(reads)
        first = reads.execute(text(now)).scalar_one()
        time.sleep(0.02)
        second = reads.execute(text(now)).scalar_one()
        raw = reads.connection().connection.dbapi_connection
        assert raw is not None
        if is_postgres:
            assert second > first
            assert raw.autocommit is True
            assert raw.get_transaction_status() == 0  # nothing left open to roll back
    with Session(engine) as later:  # the pool lends the same connection, back in transactions
        later_raw = later.connection().connection.dbapi_connection
        assert later_raw is raw or not is_postgres
        if is_postgres:
            assert later_raw is not None and later_raw.autocommit is False
            one = later.execute(text(now)).scalar_one()
            time.sleep(0.02)
            assert later.execute(text(now)).scalar_one() == one


def test_autocommit_reads_leave_an_open_transaction_alone(
    engine: Engine, is_postgres: bool
) -> None:
    """A session joined to a transaction already open (a test's, a run's) keeps it."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # the transaction is open now
        with Session(bind=conn, join_transaction_mode="create_savepoint") as joined:
            autocommit_reads(joined)
            raw = conn.connection.dbapi_connection
            assert raw is not None
            if is_postgres:
                assert raw.autocommit is False
            assert conn.in_transaction()
