"""Named run locks, one holder per database: a certificate run per course, an import.

PostgreSQL: a session-level advisory lock on a connection kept for the run (several hosts
share it; the server drops it when the holder's connection dies). SQLite: ``flock`` on a
file beside the database (one host by nature; the kernel drops it when the process dies).
Either way a crashed run never leaves the lock behind.

A child forked while a lock is held (a process pool's worker) does not keep it: flock belongs
to the open file and an advisory lock to its connection, both alive while any process has a
descriptor of them, so each forked child points its copies at ``/dev/null`` at once (see
:func:`_detach_in_child`); and pool workers die with their parent (:mod:`lms_core.workers`).
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

from lms_core.db import SessionFactory, sqlite_file
from lms_core.errors import Conflict
from lms_core.sqlite_writer import announce_writer

#: Descriptors of the locks this process holds: lock files, PostgreSQL lock connections.
_held: set[int] = set()


def _detach_in_child() -> None:
    """In a freshly forked child: let go of the parent's locks without releasing them.

    Each descriptor is replaced by ``/dev/null`` rather than closed, so that the parent's
    objects copied into the child never write to (or close) a number reused for something else.
    """
    if not _held:
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in list(_held):
            os.dup2(null, fd)
    finally:
        os.close(null)
    _held.clear()


os.register_at_fork(after_in_child=_detach_in_child)


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
        db = sqlite_file(engine.url)
        with _file_lock(path, name, holder, wait):
            if db is None:
                yield
            else:  # a run writes long: name it to writers that wait (lms_core.sqlite_writer)
                with announce_writer(db, f"{name} run by {holder}"):
                    yield


def lock_held(session: Any, name: str) -> bool:
    """Whether some process holds the lock ``name`` now, read without taking it."""
    bind: Any = session.get_bind()
    engine = bind.engine
    if engine.url.get_backend_name() == "postgresql":
        key = _key(name) & 0xFFFFFFFFFFFFFFFF
        return bool(
            session.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                    " AND granted AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                    " AND classid::bigint = :hi AND objid::bigint = :lo AND objsubid = 1)"
                ),
                {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
            ).scalar()
        )
    path = Path(f"{engine.url.database or 'memory'}.{name.replace('/', '_')}.lock")
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    try:  # Linux lists every flock in /proc/locks: no need to touch the lock itself
        listing = Path("/proc/locks").read_text()
    except OSError:  # pragma: no cover - not Linux: probe with a shared lock, at once let go
        with open(path, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    return any("FLOCK" in line and wanted in line.split() for line in listing.splitlines())


@contextmanager
def _pg_lock(engine: Any, name: str, wait: float) -> Iterator[None]:
    """A session-level advisory lock on a connection of its own, outside any transaction
    (so a long run is not "idle in transaction", and the run's own commits are independent)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        fileno = getattr(conn.connection.dbapi_connection, "fileno", None)
        fd: int | None = fileno() if fileno is not None else None
        if fd is not None:
            _held.add(fd)
        try:
            with _pg_acquire(conn, name, wait):
                yield
        finally:
            if fd is not None:
                _held.discard(fd)


@contextmanager
def _pg_acquire(conn: Any, name: str, wait: float) -> Iterator[None]:
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
    _held.add(handle.fileno())
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
        _held.discard(handle.fileno())
        handle.close()
