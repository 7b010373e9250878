"""The SQLite copy compressed while it is being made: ``backup create``'s copy and
compression overlapped on two cores.

Why: the copy (the online backup API into a scratch file, 0.14 s for 1,000,000 enrollments,
a 213 MB file) runs on one core while the other waits; the compression that followed could
only start once the copy was whole. Here the backup API copies in steps of :data:`STEP`
(Python's ``sqlite3`` lets go of the GIL in each ``sqlite3_backup_step``) and, between
steps, each :data:`~lms_core.backups.sqlite_snapshot.FRAME` of the scratch file already
written is handed to a thread that compresses it while the next steps copy.

What makes that safe:

* **One snapshot.** The source is read in one read transaction, opened before the first
  step and held to the last (a WAL reader's snapshot): writers go on committing, none of it
  reaches the copy, and SQLite never restarts the backup (it restarts when the source
  changes between steps read in transactions of their own). The source connection is
  read-only, so no page is copied twice either. It is closed as soon as the last step
  returns: the compression that follows reads only the copy, and holds no lock on the
  source (a rollback-journal source's writers and a WAL's TRUNCATE checkpoints go on).
* **Pages in order, written once.** SQLite's ``backup.c`` copies pages 1, 2, 3... in order
  into the destination's page cache; its pager writes a dirty page to the file when the
  cache is full (oldest first) and the rest at the commit, after the last step. So once a
  step has copied page ``n``, the pages up to ``n`` less a cache's worth (:data:`CACHE_KIB`,
  twice over: :func:`lag_pages`) are in the file. The first frame is never compressed early
  (the last step rewrites page 1's header, and :func:`legacy_header` too).
* **Checked, not assumed.** Each early frame is made from one reading of its range into a
  buffer of its own (:func:`_early_frame`), and keeps the xxh3 of those very bytes;
  once the copy is whole, :func:`sqlite_snapshot._compress` hashes the same range of the
  finished file (a few ms at memory speed) and takes the frame only if they agree, else
  compresses that range again. A wrong assumption costs time, never a wrong archive
  (``Packed.redone_frames`` counts them; tests break the assumption on purpose).
* **Memory bounded.** Frames are written to the archive in order, so early frames wait in
  memory for the first one (until :func:`~lms_core.backups.sqlite_snapshot.pack` reaches
  them): no frame is started once those made and under way could hold more than
  :data:`MAX_HELD` compressed bytes (an unmade frame counted at zstd's bound for it). At
  zstd -1's usual 10:1 that is about 640 MB of the copy compressed ahead; of incompressible
  data, 64 MiB. Beyond it the copy goes on and the rest is compressed after, as before.
  Besides, each compressing thread has one frame's buffer (:func:`_early_frame`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO

import xxhash
import zstandard

from lms_core.backups.sqlite_pages import legacy_header, readonly_uri
from lms_core.backups.sqlite_snapshot import (
    FRAME,
    ZSTD_LEVEL,
    Early,
    Packed,
    Progress,
    cores,
    pack,
)

#: Bytes of the source copied per ``sqlite3_backup_step``: small enough that the file
#: written so far is seen every few milliseconds.
STEP = 4 << 20
#: The destination's page cache (SQLite's default size): the most pages copied and not yet
#: in the file is about this many.
CACHE_KIB = 2048
#: The most bytes of early frames held in memory (compressed bytes: they wait there until
#: :func:`~lms_core.backups.sqlite_snapshot.pack` writes them); the rest of the copy is
#: compressed once it is whole.
MAX_HELD = 64 << 20
#: ``hook(pages_copied, early_frames)`` after each step (tests: a writer, or the file
#: changed on purpose under a frame compressed).
StepHook = Callable[[int, Early], None]


def lag_pages(page_size: int, cache_kib: int = CACHE_KIB) -> int:
    """Pages behind the last one copied that may not be in the file yet: twice the cache."""
    return 2 * (cache_kib * 1024 // page_size) + 1


def frame_bound(frame: int) -> int:
    """The most a zstd frame of ``frame`` bytes can take (zstd's ``ZSTD_COMPRESSBOUND``
    for inputs of 128 KiB or more, plus room for the headers and the checksum)."""
    return frame + (frame >> 8) + 1024


def held_by(early: Early, frame: int) -> int:
    """The bytes ``early`` holds or may come to hold: each frame made, its size; each not
    made yet (or failed), :func:`frame_bound`."""
    held = 0
    for made in early.values():
        if made.done() and not made.cancelled() and made.exception() is None:
            held += len(made.result()[1])
        else:
            held += frame_bound(frame)
    return held


def _early_frame(
    fd: int, start: int, length: int, level: int, into: bytearray
) -> tuple[int, bytes]:
    """The xxh3 of the file's bytes at ``start`` and their zstd frame (as ``_frame`` makes
    it). The range is read once, into ``into`` (this thread's own buffer), and both are
    made of those bytes: zstd reads its input more than once (its checksum, then the
    matches), so a frame made from the file itself while a page of it changed could hold
    bytes of neither version, and a hash taken in a reading of its own would not say so.
    (The copy 2.5 ms of a 16 MiB frame's 15 ms.)"""
    done = 0
    with memoryview(into) as whole:
        while done < length:
            got = os.preadv(fd, [whole[done:length]], start + done)
            if not got:
                break  # the end of the file: a shorter frame (the check will say so)
            done += got
        with whole[:done] as data:
            compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
            return xxhash.xxh3_64_intdigest(data), compressor.compress(data)


def copy_and_pack(
    source: Path,
    copy: Path,
    sink: IO[bytes],
    tick: Progress,
    *,
    busy_timeout: float,
    level: int = ZSTD_LEVEL,
    frame: int = FRAME,
    cache_kib: int = CACHE_KIB,
    lag: int | None = None,
    max_held: int = MAX_HELD,
    hook: StepHook | None = None,
) -> Packed:
    """Copy ``source`` to ``copy`` (as :func:`sqlite_pages.copy_database` does: one commit's
    database, a lone rollback-journal file) and compress it into ``sink`` while it is
    copied (see the module); ``lag`` overrides :func:`lag_pages`, ``max_held``
    :data:`MAX_HELD` (tests)."""
    src = sqlite3.connect(readonly_uri(source), uri=True, timeout=busy_timeout)
    early: Early = {}
    try:
        src.execute("PRAGMA mmap_size=1099511627776")  # as copy_database: read through a map
        page_size = int(src.execute("PRAGMA page_size").fetchone()[0])
        src.execute("BEGIN")
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot, held
        behind = lag_pages(page_size, cache_kib) if lag is None else lag
        dst = sqlite3.connect(copy)
        try:
            fd = os.open(copy, os.O_RDONLY)
        except BaseException:
            dst.close()
            raise
        try:
            dst.execute("PRAGMA synchronous=OFF")
            dst.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
            # The copy has a core of its own; frames not started when it ends are taken
            # over by ``pack``'s threads.
            with ThreadPoolExecutor(max_workers=max(1, cores() - 1)) as pool:
                ahead = _Ahead(fd, pool, early, frame, level, page_size, behind, max_held, hook)
                tick("copying database", 0, None)
                try:
                    src.backup(dst, pages=max(1, STEP // page_size), progress=ahead.step)
                finally:
                    dst.close()
                    # The copy is whole: end the read transaction now, not after ``pack``
                    # (a rollback-journal source's writers would wait for the compression,
                    # and a WAL's RESTART/TRUNCATE checkpoints would be busy).
                    src.close()
                legacy_header(copy)
                return pack(copy, sink, tick, level=level, frame=frame, early=early)
        finally:
            for made in early.values():
                made.cancel()
            os.close(fd)
    finally:
        src.close()


class _Ahead:
    """The backup's progress callback: after each step, the frames now wholly in the file
    (and not the first) go to ``pool``, within :data:`MAX_HELD`."""

    def __init__(
        self,
        fd: int,
        pool: ThreadPoolExecutor,
        early: Early,
        frame: int,
        level: int,
        page_size: int,
        behind: int,
        max_held: int,
        hook: StepHook | None,
    ) -> None:
        self.fd, self.pool, self.early, self.frame, self.level = fd, pool, early, frame, level
        self.page_size, self.behind, self.hook = page_size, behind, hook
        self.next = frame  # the first frame waits for the copy to be whole
        self.copied = 0
        self.stopped = False
        self.buffers = threading.local()  # one frame's buffer per compressing thread
        self.max_held = max_held

    def step(self, _status: int, remaining: int, total: int) -> None:
        copied = total - remaining
        if self.hook is not None:
            self.hook(copied, self.early)
        if copied < self.copied:
            self.stopped = True  # SQLite started again (not expected: see the module)
        self.copied = copied
        if self.stopped:
            return
        ready = min((copied - self.behind) * self.page_size, os.fstat(self.fd).st_size)
        if self.next + self.frame > ready:
            return
        held = held_by(self.early, self.frame)
        while self.next + self.frame <= ready and held + frame_bound(self.frame) <= self.max_held:
            made: Future[tuple[int, bytes]] = self.pool.submit(self._frame, self.next)
            self.early[self.next] = made
            self.next += self.frame
            held += frame_bound(self.frame)

    def _frame(self, start: int) -> tuple[int, bytes]:
        into: bytearray | None = getattr(self.buffers, "into", None)
        if into is None:
            into = self.buffers.into = bytearray(self.frame)
        return _early_frame(self.fd, start, self.frame, self.level, into)
