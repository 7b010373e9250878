"""The SQLite part of ``backup create``: one consistent copy, then compressed and checksummed
at once.

Where the time went (1,000,000 enrollments, a 137 MB file, 2 cores): the copy with the
online backup API 0.1 s; gzip level 1 0.7 s of CPU; the page checksums 0.1 s (plus 0.08 s
for ``dbstat`` to say which table owns which page). The raw tool (``sqlite3 .backup``) takes
about 0.2 s, so the compression had to change, and everything after the copy had to run on
both cores at once:

* **zstd** (python-zstandard) at level :data:`ZSTD_LEVEL` (``--fast=1``) compresses the copy
  at about 0.9 GB/s a core (CPU 0.15 s) to 21 MB (gzip -1: 25 MB in 0.7 s). Measured on
  that file, one thread each (``bench/backup_bench.py`` prints them): -5 34 MB in 0.12 s,
  -3 25 MB in 0.14 s, 1 18 MB in 0.15 s, 3 19 MB in 0.33 s.
* In frames of :data:`FRAME` compressed on every core (at most 8) at once by plain
  ``ZstdCompressor.compress`` (no GIL, reading the copy where it lies). zstd's own threads
  (``threads=2``) first copied the input into their buffers: more CPU for the same work.
* The copy is mapped into memory (the page cache itself), read by the compressor and by the
  page checksums at the same time, with no copy in Python. (Copying into ``:memory:`` and
  ``serialize()`` instead cost two more copies of the whole database: slower than writing
  the scratch file, and unbounded in memory.)
* While the frames compress, this thread walks the b-trees (:mod:`sqlite_pages`) and hashes
  each table's pages (hashlib lets go of the GIL too).
* The frames go straight into the archive as they come, in order, hashed on the way (a few
  in flight at most, whatever the database's size; plus the frames compressed during the
  copy, which wait here for their turn: at most ``sqlite_stream.MAX_HELD`` bytes).
* Most frames are compressed before :func:`pack` starts, while the copy is being made
  (:mod:`lms_core.backups.sqlite_stream`: the copy, 0.14 s of a 213 MB file, used to run
  alone on one core); :func:`_compress` takes each of those only if the finished copy still
  holds the bytes it was made of (xxh3), else compresses that range again.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import xxhash
import zstandard

from lms_core.backups.sqlite_pages import mapped, readonly_uri, stats_of
from lms_core.backups.stats import TableStat

#: zstd's level for the SQLite copy (see the module's docstring for the measurements).
ZSTD_LEVEL = -1
#: The copy is compressed in independent frames of this size, several at once: a zstd
#: stream may be a series of frames (RFC 8878), which ``zstd -d`` and python-zstandard's
#: readers (``read_across_frames``) take whole. Each restarts zstd's window (512 KiB at
#: this level), so the size barely changes.
FRAME = 16 << 20

#: Left in the page cache by :func:`_start_writeback` (the first member's header is there).
_HEADER_PAGE = 4096

#: At most this many compressing threads, however many cores the host has: past a few the
#: archive's disk is the limit, and each thread holds a frame in flight (memory).
MAX_WORKERS = 8
#: Where cgroup v2 and v1 say how much CPU time the process may use (a container's quota).
_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
_CFS = Path("/sys/fs/cgroup/cpu")

#: ``progress(stage, done, total)``, as in :mod:`lms_core.backups.create`.
Progress = Callable[[str, int, int | None], None]


def compression_name(level: int = ZSTD_LEVEL) -> str:
    """The manifest's ``compression``: ``zstd-1``; a negative level as zstd's command line
    names it, ``zstd-fast-3`` for -3."""
    return f"zstd-{level}" if level > 0 else f"zstd-fast-{-level}"


@dataclass
class Packed:
    """The compressed copy's size and sha256 (its bytes went to the sink), and what the
    manifest says of the database."""

    size: int
    sha256: str
    database_size: int
    tables: dict[str, TableStat]
    revision: str | None
    identity: str | None
    #: Frames compressed while the copy was written and taken as they were; those found
    #: changed once it was whole and compressed again (see :mod:`sqlite_stream`).
    early_frames: int = 0
    redone_frames: int = 0


def cores() -> int:
    """Threads to compress with: the cores this process may use (its affinity, and its
    cgroup's CPU quota when it has one), at most :data:`MAX_WORKERS`."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    return workers_for(available, cpu_quota())


def workers_for(available: int, quota: int | None) -> int:
    """Compressing threads for ``available`` cores under a quota of ``quota`` cores."""
    return max(1, min(available, quota or available, MAX_WORKERS))


def cpu_quota(cpu_max: Path = _CPU_MAX, cfs: Path = _CFS) -> int | None:
    """Whole cores the cgroup's quota allows (rounded up), None without a quota: cgroup v2's
    ``cpu.max`` ("QUOTA PERIOD", or "max PERIOD"), else v1's ``cpu.cfs_quota_us`` (-1: none)
    over ``cpu.cfs_period_us``."""
    try:
        quota, period = cpu_max.read_text(encoding="ascii").split()
    except (OSError, ValueError):
        try:
            quota = (cfs / "cpu.cfs_quota_us").read_text(encoding="ascii").strip()
            period = (cfs / "cpu.cfs_period_us").read_text(encoding="ascii").strip()
        except OSError:
            return None
    try:
        allowed, every = int(quota), int(period)
    except ValueError:
        return None  # "max": no quota
    if allowed <= 0 or every <= 0:
        return None
    return max(1, -(-allowed // every))


class Stopped(Exception):
    """The compression was told to stop (the backup failed or was interrupted)."""


#: Frames compressed while the copy was written, by offset: (xxh3 of the bytes, the frame).
Early = dict[int, Future[tuple[int, bytes]]]


def _frame(view: memoryview, level: int) -> bytes:
    with view:
        # The frame's content checksum (XXH64): ``zstd -t`` and any reader find a damaged
        # frame themselves, not only our sha256 of the whole member.
        compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        return compressor.compress(view)


def _compress(
    image: Any,
    out: IO[bytes],
    level: int,
    pool: Executor,
    workers: int,
    frame: int,
    stop: threading.Event | None = None,
    early: Early | None = None,
) -> tuple[int, str, int, int]:
    """zstd of ``image`` into ``out``, one frame per ``frame`` bytes compressed on
    ``workers`` threads of ``pool`` at once (one more frame in flight than threads, so each
    thread has the next one ready, and no more in memory), written in order; (size, sha256,
    frames of ``early`` compressed again as their bytes had changed, and as they had not
    started). Once ``stop`` is set no frame is started:
    :class:`Stopped` is raised.

    ``early`` holds frames compressed while the copy was still being written (by offset:
    the xxh3 of the bytes compressed, and the frame); each is taken only if the same bytes
    are in ``image`` now, else compressed again from ``image`` (see :mod:`sqlite_stream`)."""
    digest, size, redone = hashlib.sha256(), 0, list[bool]()  # notes of _checked
    ahead = dict(early or {})
    running: deque[Future[bytes]] = deque()
    with memoryview(image) as view:
        try:
            for start in range(0, len(view), frame):
                if len(running) > workers:
                    size += _put(running.popleft().result(), out, digest)
                if stop is not None and stop.is_set():
                    raise Stopped
                made = ahead.pop(start, None)
                if made is not None:
                    region = view[start : start + frame]
                    running.append(pool.submit(_checked, region, level, made, redone))
                    continue
                running.append(pool.submit(_frame, view[start : start + frame], level))
            while running:
                size += _put(running.popleft().result(), out, digest)
        finally:
            for future in running:
                future.cancel()
            wait(running)  # no frame still reading the map when it closes
    return size, digest.hexdigest(), redone.count(True), redone.count(False)


def _checked(
    region: memoryview, level: int, made: Future[tuple[int, bytes]], redone: list[bool]
) -> bytes:
    """The frame compressed early if ``region`` holds the bytes it was made of (same xxh3),
    else ``region`` compressed now; one note in ``redone`` each: True when the bytes had
    changed, False when the early frame had not started (it is compressed here instead)."""
    if made.cancel():
        redone.append(False)
        return _frame(region, level)
    with region:
        was, block = made.result()
        if xxhash.xxh3_64_intdigest(region) == was:
            return block
        redone.append(True)
        return _frame(region, level)


def _put(block: bytes, out: IO[bytes], digest: Any) -> int:
    digest.update(block)
    out.write(block)
    _start_writeback(out)
    return len(block)


def _start_writeback(out: IO[bytes]) -> None:
    """Have the kernel start writing the archive so far to disk now, while the rest is
    compressed, so that its final fsync has little left to wait for (with 21 MB written at
    the end, that fsync took 10 to 25 ms). ``POSIX_FADV_DONTNEED`` starts the writeback
    without waiting for it (PostgreSQL flushes its files the same way where it has no
    ``sync_file_range``). The first page is left alone: the member's header is written
    there last. Nothing to do for a sink that is not a file."""
    advise = getattr(os, "posix_fadvise", None)
    try:
        fd = out.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return
    if advise is not None:
        out.flush()
        advise(fd, _HEADER_PAGE, 0, os.POSIX_FADV_DONTNEED)


def pack(
    copy: Path,
    sink: IO[bytes],
    tick: Progress,
    *,
    level: int = ZSTD_LEVEL,
    frame: int = FRAME,
    early: Early | None = None,
) -> Packed:
    """Compress ``copy`` into ``sink`` (the archive, at the database member's data) and
    checksum its tables at the same time (see the module); ``early``: frames compressed
    while the copy was written (:func:`_compress`)."""
    conn = sqlite3.connect(readonly_uri(copy), uri=True)
    try:
        workers = cores()
        stop = threading.Event()
        # One thread writes the frames in order, ``workers`` compress them, and this one
        # checksums the tables meanwhile.
        with mapped(copy) as image, ThreadPoolExecutor(max_workers=workers + 1) as pool:
            tick("compressing and checksumming", 0, None)
            packing = pool.submit(_compress, image, sink, level, pool, workers, frame, stop, early)
            try:
                tables = stats_of(conn, image)
                revision, identity = _revision(conn), _identity(conn)
            except BaseException:
                stop.set()  # a failure or Ctrl-C: no more frames, only those under way
                wait([packing])  # the map stays open until zstd is done with it
                raise
            size, digest, redone, late = packing.result()
            database_size = len(image)
    finally:
        conn.close()
    taken = len(early or {}) - redone - late
    return Packed(size, digest, database_size, tables, revision, identity, taken, redone)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def _revision(conn: sqlite3.Connection) -> str | None:
    """The schema's migration revision (as :func:`manifest.alembic_revision` reads it)."""
    if not _has_table(conn, "alembic_version"):
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _identity(conn: sqlite3.Connection) -> str | None:
    """The identity row (as :func:`manifest.database_identity` reads it)."""
    if not _has_table(conn, "database_identity"):
        return None
    cursor = conn.execute("SELECT * FROM database_identity")
    row = cursor.fetchone()
    if row is None:
        return None
    values = dict(zip([column[0] for column in cursor.description], row, strict=True))
    for key in ("identity", "uuid", "id"):
        if key in values:
            return str(values[key])
    return None
