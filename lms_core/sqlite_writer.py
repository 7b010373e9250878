"""Who writes to a SQLite database, and waiting for them by name.

SQLite lets one process write at a time: a unit of work that writes starts with
``BEGIN IMMEDIATE`` (:mod:`lms_core.db`) and waits for the busy timeout while another holds
the write lock. A short command holds it for milliseconds; a run (an import applying 150,000
rows, a certificate batch) for seconds or minutes, so the timeout is long and a waiting
command says whom it waits for instead of hanging silently.

A run announces itself in a small file beside the database, ``<db>.writer-<pid>`` (pid,
command line, start time), while it holds its run lock (:func:`announce_writer`, called by
:func:`lms_core.locks.run_lock`). A writer whose ``BEGIN IMMEDIATE`` is still busy after
:data:`FIRST_TRY_MS` reads those files (a file whose process is gone is stale and ignored),
reports once through the engine's notifier, and waits out the rest of the timeout. When even
that runs out it raises :class:`DatabaseBusy`, naming the holder, and nothing was written.
The fast path (no contention) costs two ``PRAGMA busy_timeout`` calls, no file access.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from lms_core.errors import Conflict

#: How long a writer waits quietly before saying whom it waits for (milliseconds).
FIRST_TRY_MS = 1000

#: Longest command line kept in a writer file (a run's arguments are paths and options).
_MAX_COMMAND = 300

Notify = Callable[[str], None]

_log = logging.getLogger(__name__)

#: Announcements this process holds, by file: a run inside a run (reissue under an issue's
#: lock) keeps the file until the outer one ends.
_announced: dict[Path, int] = {}
_announced_guard = threading.Lock()


class DatabaseBusy(Conflict):
    """The SQLite write lock stayed taken for the whole busy timeout; nothing was written."""


class Writer(NamedTuple):
    """A live process announced as writing to the database."""

    pid: int
    command: str
    started: float

    def describe(self) -> str:
        return f"{self.command} (pid {self.pid})"

    def since(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self.started))


def log_notify(message: str) -> None:
    """The default notifier: a warning through ``logging`` (lms_core never prints)."""
    _log.warning(message)


def _prefix(db: Path) -> str:
    return f"{db}.writer-"


def _command_line() -> str:
    """``lmsctl import users big.csv``: the program's base name and its arguments."""
    import shlex  # only runs announce themselves: not on every command's start-up

    argv = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    text = shlex.join(argv)
    return text if len(text) <= _MAX_COMMAND else text[: _MAX_COMMAND - 3] + "..."


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0600), never through a symbolic link planted at its name
    (the folder of a database can be shared: following one would overwrite its target), and
    never waiting on a FIFO there (OSError: the caller goes without an announcement)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        os.fchmod(fd, 0o600)  # a stale file of a dead process with our pid may be wider
        os.ftruncate(fd, 0)
        os.write(fd, data)
    finally:
        os.close(fd)


@contextmanager
def announce_writer(db: Path, what: str) -> Iterator[None]:
    """Announce this process as a long writer of ``db`` for the block (see module doc).

    ``what`` says which run it is (``import by alice``); a file that cannot be written only
    costs the name in other processes' waiting message, never the run.
    """
    path = Path(f"{_prefix(db)}{os.getpid()}")
    with _announced_guard:
        first = _announced.get(path, 0) == 0
        _announced[path] = _announced.get(path, 0) + 1
    if first:
        record = {
            "pid": os.getpid(),
            "command": f"{_command_line()} ({what})",
            "started": time.time(),
        }
        with suppress(OSError):
            _write_private(path, json.dumps(record).encode("utf-8"))
    try:
        yield
    finally:
        with _announced_guard:
            _announced[path] -= 1
            last = _announced[path] == 0
            if last:
                del _announced[path]
        if last and path.name.endswith(f"-{os.getpid()}"):  # not from a forked child
            with suppress(OSError):
                path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    try:  # a zombie (killed, not yet reaped) holds no lock
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def current_writers(db: Path) -> list[Writer]:
    """The live processes other than this one announced as writing ``db``, oldest first;
    the announcements of processes that are gone are removed."""
    found: list[Writer] = []
    prefix = Path(_prefix(db))
    try:
        names = [p for p in prefix.parent.iterdir() if p.name.startswith(prefix.name)]
    except OSError:
        return found
    for path in names:
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
            writer = Writer(int(data["pid"]), str(data["command"]), float(data["started"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # half-written or foreign: not worth a name
        if writer.pid == os.getpid():
            continue
        if _alive(writer.pid):
            found.append(writer)
        else:  # left by a killed run: swept, so that a later process with its pid is not named
            with suppress(OSError):
                path.unlink()
    return sorted(found, key=lambda w: w.started)


def _holder(writers: list[Writer]) -> str:
    if not writers:
        return "another process"
    return " and ".join(w.describe() for w in writers)


def _is_busy(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig) or "database is busy" in str(exc.orig)


def _set_timeout(conn: Connection, ms: int) -> None:
    # Straight to the driver: no SQLAlchemy statement machinery on the fast path.
    conn.connection.dbapi_connection.execute(f"PRAGMA busy_timeout={int(ms)}")  # type: ignore[union-attr]


def _give_up(db: Path | None, busy_ms: int) -> DatabaseBusy:
    holder = _holder(current_writers(db)) if db is not None else "another process"
    seconds = busy_ms / 1000
    return DatabaseBusy(
        f"the database stayed locked by {holder} for {seconds:g} s; nothing was changed: "
        "run the command again when it ends (or raise LMS_SQLITE_BUSY_TIMEOUT_MS)",
        field="database_url",
        value=str(db) if db is not None else None,
    )


def begin_immediate(conn: Connection, db: Path | None, busy_ms: int, notify: Notify) -> None:
    """``BEGIN IMMEDIATE`` on ``conn``: quietly for :data:`FIRST_TRY_MS`, then saying whom it
    waits for, then :class:`DatabaseBusy` once ``busy_ms`` (the connection's timeout) is out."""
    first = min(FIRST_TRY_MS, busy_ms)
    if db is None or first >= busy_ms:  # nothing to name, or no time left to name it in
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except OperationalError as exc:
            if _is_busy(exc):
                raise _give_up(db, busy_ms) from None
            raise
        return
    _set_timeout(conn, first)
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    except OperationalError as exc:
        if not _is_busy(exc):
            raise
    finally:
        _set_timeout(conn, busy_ms)
    writers = current_writers(db)
    who = (
        "; ".join(f"{w.command} has been writing since {w.since()} (pid {w.pid})" for w in writers)
        if writers
        else "another process is writing"
    )
    notify(f"waiting for the database: {who}; waiting up to {busy_ms / 1000:g} s")
    _set_timeout(conn, busy_ms - first)
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except OperationalError as exc:
        if _is_busy(exc):
            raise _give_up(db, busy_ms) from None
        raise
    finally:
        _set_timeout(conn, busy_ms)
