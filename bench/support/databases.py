"""Fresh, throw-away databases for a benchmark run: SQLite files or PostgreSQL databases."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

_names = itertools.count()

FreshDatabases = Callable[[], AbstractContextManager[str]]


def sqlite_databases(tmp: Path) -> FreshDatabases:
    """Each call yields the URL of a new SQLite file under ``tmp``, deleted (with WAL) after."""

    @contextmanager
    def fresh() -> Iterator[str]:
        path = tmp / f"bench-{next(_names)}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    return fresh


def postgres_databases(server_url: str) -> FreshDatabases:
    """Each call yields a new database ``lms_bench_<pid>_<n>`` on the server, dropped after
    (``LMS_BENCH_DB_PREFIX`` replaces ``lms_bench``: runs sharing a server keep to their own
    names)."""
    url = make_url(server_url)

    def admin(sql: str) -> None:
        engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()

    @contextmanager
    def fresh() -> Iterator[str]:
        prefix = os.environ.get("LMS_BENCH_DB_PREFIX", "lms_bench")
        name = f"{prefix}_{os.getpid()}_{next(_names)}"
        admin(f'DROP DATABASE IF EXISTS "{name}"')
        admin(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return fresh


def kept_postgres_database(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server, created (empty) when it does not exist:
    a big site generated once and measured again by later runs (``--reuse``), never dropped
    here (``DROP DATABASE`` by hand when done)."""
    url = make_url(server_url)
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not found:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)
