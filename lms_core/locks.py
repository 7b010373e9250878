"""Named run locks, one holder per database: a certificate run per course, an import.

PostgreSQL: a session-level advisory lock on a connection kept for the run (several hosts
share it; the server drops it when the holder's connection dies). SQLite: ``flock`` on a
file beside the database (one host by nature; the kernel drops it when the process dies).
Either way a crashed run never leaves the lock behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text

from lms_core.db import SessionFactory
from lms_core.errors import Conflict


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def run_lock(factory: SessionFactory, name: str, *, holder: str, wait: float = 0) -> Iterator[None]:
    """Hold the lock ``name`` for the block, or raise Conflict naming who holds it."""
    session = factory()
    try:
        bind: Any = session.get_bind()
        engine = bind.engine
    finally:
        session.close()
    if engine.url.get_backend_name() == "postgresql":
        with _pg_lock(engine, name, wait):
            yield
    else:
        path = Path(f"{engine.url.database or 'memory'}.{name.replace('/', '_')}.lock")
        with _file_lock(path, name, holder, wait):
            yield


@contextmanager
def _pg_lock(engine: Any, name: str, wait: float) -> Iterator[None]:
    """A session-level advisory lock on a connection of its own, outside any transaction
    (so a long run is not "idle in transaction", and the run's own commits are independent)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        deadline = time.monotonic() + wait
        while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)}).scalar():
            if time.monotonic() >= deadline:
                raise Conflict(
                    f"another run holds the lock {name}; try again when it ends",
                    field="lock",
                    value=name,
                )
            time.sleep(0.2)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})


@contextmanager
def _file_lock(path: Path, name: str, holder: str, wait: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    who = handle.read().strip() or "another process"
                    raise Conflict(
                        f"{who} holds the lock {name}; try again when it ends",
                        field="lock",
                        value=name,
                    ) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder} (pid {os.getpid()})")
        handle.flush()
        yield
    finally:
        handle.close()
