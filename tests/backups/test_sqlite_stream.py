"""The SQLite copy compressed while it is being made (lms_core/backups/sqlite_stream.py):
the archive's stream is the finished copy, byte for byte, whether frames were compressed
early, a writer committed meanwhile, or the file changed under a frame already compressed."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import BinaryIO

import pytest
import xxhash
import zstandard

from lms_core.backups import sqlite_pages as sp
from lms_core.backups.sqlite_snapshot import Early
from lms_core.backups.sqlite_stream import _early_frame, copy_and_pack, lag_pages

#: Small frames and a small page cache: a 20 MB database makes many early frames.
FRAME = 1 << 20
CACHE_KIB = 256


def _live(path: Path) -> sqlite3.Connection:
    """A WAL database as a site has it, its last commits in the WAL (not checkpointed)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)")
    conn.execute("CREATE INDEX big_name ON big (name)")
    conn.execute("BEGIN")
    rows = [(f"name {i:06d} " + "y" * 150, i) for i in range(60_000)]
    conn.executemany("INSERT INTO big (name, n) VALUES (?, ?)", rows)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("UPDATE big SET n = -n WHERE id % 7 = 0")  # in the WAL only
    return conn


def _unpacked(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    return reader.read()


def test_frames_compressed_during_the_copy_make_the_copy(tmp_path: Path) -> None:
    live, copy = tmp_path / "live.db", tmp_path / "copy.db"
    conn = _live(live)
    sink = io.BytesIO()
    packed = copy_and_pack(
        live, copy, sink, lambda *_: None, busy_timeout=5, frame=FRAME, cache_kib=CACHE_KIB
    )
    conn.close()
    assert packed.early_frames >= 5 and packed.redone_frames == 0  # the overlap happened
    assert _unpacked(sink) == copy.read_bytes() and packed.database_size == copy.stat().st_size
    data = sink.getvalue()
    assert len(data) == packed.size and hashlib.sha256(data).hexdigest() == packed.sha256
    assert copy.read_bytes()[18:20] == b"\x01\x01"  # a lone rollback-journal file
    assert packed.tables == sp.page_stats(copy) == sp.file_stats(live)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == ["copy.db"]


def test_a_writer_during_the_copy_is_not_in_it(tmp_path: Path) -> None:
    """Another connection commits between the steps (growing the file by thousands of
    rows, rewriting pages already copied): the copy is the database as of its start, in
    one piece, every early frame taken."""
    live, copy = tmp_path / "live.db", tmp_path / "copy.db"
    conn = _live(live)
    before = sp.file_stats(live)
    writes: list[int] = []

    def writer(copied: int, _early: Early) -> None:
        if copied and len(writes) < 3:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE big SET name = 'changed' WHERE id <= 2000")
            conn.executemany("INSERT INTO big (name, n) VALUES ('new', ?)", [(0,)] * 5000)
            conn.execute("COMMIT")
            writes.append(copied)

    sink = io.BytesIO()
    packed = copy_and_pack(
        live,
        copy,
        sink,
        lambda *_: None,
        busy_timeout=5,
        frame=FRAME,
        cache_kib=CACHE_KIB,
        hook=writer,
    )
    after = sp.file_stats(live)
    conn.close()
    assert len(writes) == 3 and after["big"].rows == before["big"].rows + 15_000
    assert packed.tables == before  # the snapshot taken before the writes
    assert packed.early_frames >= 5 and packed.redone_frames == 0
    assert _unpacked(sink) == copy.read_bytes()
    check = sqlite3.connect(sp.readonly_uri(copy), uri=True)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert check.execute("SELECT count(*) FROM big WHERE name = 'changed'").fetchone() == (0,)
    check.close()


def test_bytes_changed_under_an_early_frame_are_compressed_again(tmp_path: Path) -> None:
    """The assumption broken on purpose: bytes of the file change after their frame was
    compressed (as if SQLite wrote a page again). The check finds it, that frame is made
    again from the finished file, and the stream is still the copy as it ended."""
    live, copy = tmp_path / "live.db", tmp_path / "copy.db"
    conn = _live(live)
    changed: list[int] = []

    def scribble(_copied: int, early: Early) -> None:
        if changed or FRAME not in early:
            return
        early[FRAME].result()  # the second frame compressed: now its bytes change
        with copy.open("r+b") as raw:
            at = _free_space(raw, FRAME)
            raw.seek(at)
            raw.write(b"scribbled")
        changed.append(at)

    sink = io.BytesIO()
    packed = copy_and_pack(
        live,
        copy,
        sink,
        lambda *_: None,
        busy_timeout=5,
        frame=FRAME,
        cache_kib=CACHE_KIB,
        hook=scribble,
    )
    conn.close()
    assert changed and packed.redone_frames == 1
    final = copy.read_bytes()
    assert b"scribbled" in final[FRAME : 2 * FRAME] and _unpacked(sink) == final


def _free_space(raw: BinaryIO, start: int) -> int:
    """An offset past ``start`` in a b-tree page's unused middle (between its cell pointers
    and its cells): changed there, the copy still reads as the same rows."""
    for page in range(start, start + FRAME, 4096):
        raw.seek(page)
        head = raw.read(12)
        cells, content = struct.unpack(">HH", head[3:7])
        end = page + (12 if head[0] in (2, 5) else 8) + 2 * cells
        if head[0] in (2, 5, 10, 13) and page + content - end > 16:
            return end + 4
    raise AssertionError("no page with room in the frame")


def test_the_lag_is_twice_the_cache() -> None:
    assert lag_pages(4096, 2048) == 1025 and lag_pages(1024, 64) == 129


#: Run in a process of its own with no busy timeout: a write, then a TRUNCATE checkpoint;
#: prints "ok (busy, log, checkpointed)" or the error.
_TRY_WRITE = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
try:
    conn.execute("UPDATE big SET n = n WHERE id = 1")
    print("ok", conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
except sqlite3.Error as error:
    print("FAILED", error)
"""


@pytest.mark.parametrize("mode", ["wal", "delete"])
def test_the_source_is_let_go_once_the_copy_is_whole(tmp_path: Path, mode: str) -> None:
    """While the copy is compressed and checksummed the source is no longer read: another
    process writes at once (rollback journal: no shared lock left) and checkpoints the
    whole WAL (no reader's snapshot left)."""
    live, copy = tmp_path / "live.db", tmp_path / "copy.db"
    conn = _live(live)
    if mode == "delete":
        conn.execute("PRAGMA journal_mode=DELETE")
    seen: list[str] = []

    def tick(stage: str, *_: object) -> None:
        if stage == "compressing and checksumming":
            probe = [sys.executable, "-c", _TRY_WRITE, str(live)]
            seen.append(subprocess.run(probe, capture_output=True, text=True).stdout.strip())

    copy_and_pack(live, copy, io.BytesIO(), tick, busy_timeout=5, frame=FRAME, cache_kib=CACHE_KIB)
    conn.close()
    assert len(seen) == 1 and seen[0].startswith("ok (0, "), seen


#: Run in a process of its own from the step hook: a commit rewriting pages already copied
#: and growing the file, then a checkpoint of the kind given (it copies the WAL into the
#: database file being read).
_WRITE_AND_CHECKPOINT = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE big SET name = 'changed' WHERE id <= 5000")
conn.executemany("INSERT INTO big (name, n) VALUES ('new', 0)", [()] * 20000)
conn.execute("COMMIT")
print(conn.execute("PRAGMA wal_checkpoint(%s)" % sys.argv[2]).fetchone())
"""


@pytest.mark.parametrize("checkpoint", ["PASSIVE", "RESTART", "TRUNCATE"])
def test_another_process_writing_and_checkpointing_mid_copy(
    tmp_path: Path, checkpoint: str
) -> None:
    """Another process (its own locks, not this one's connection) commits and checkpoints
    between two steps: the copy is the database as it was when the copy began."""
    live, copy = tmp_path / "live.db", tmp_path / "copy.db"
    _live(live).close()
    before = sp.file_stats(live)
    dump = sqlite3.connect(live)
    dump_before = "\n".join(dump.iterdump())
    dump.close()
    done: list[subprocess.CompletedProcess[str]] = []

    def writer(copied: int, _early: Early) -> None:
        if copied and not done:
            command = [sys.executable, "-c", _WRITE_AND_CHECKPOINT, str(live), checkpoint]
            done.append(subprocess.run(command, capture_output=True, text=True))

    sink = io.BytesIO()
    packed = copy_and_pack(
        live,
        copy,
        sink,
        lambda *_: None,
        busy_timeout=5,
        frame=FRAME,
        cache_kib=CACHE_KIB,
        hook=writer,
    )
    assert done and done[0].returncode == 0, done
    assert sp.file_stats(live)["big"].rows == before["big"].rows + 20_000  # it did commit
    assert _unpacked(sink) == copy.read_bytes() and packed.tables == before
    check = sqlite3.connect(sp.readonly_uri(copy), uri=True)
    assert "\n".join(check.iterdump()) == dump_before
    check.close()


def test_an_early_frame_hash_is_of_the_bytes_it_compressed(tmp_path: Path) -> None:
    """The file changing while an early frame is made (a thread rewriting it all the while):
    the hash kept is that of the frame's content, so the check after the copy compares the
    finished file with what was compressed. (Made from the file itself, even zstd's own
    checksum could disagree with its frame: it reads its input more than once.)"""
    path = tmp_path / "moving"
    path.write_bytes(bytes(4 * FRAME))
    fd = os.open(path, os.O_RDWR)
    stop = threading.Event()

    def scribble() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            os.pwrite(fd, n.to_bytes(8, "little") * 4096, FRAME + (n * 32768) % FRAME)

    scribbler = threading.Thread(target=scribble)
    scribbler.start()
    into = bytearray(FRAME)
    try:
        made = [_early_frame(fd, FRAME, FRAME, 1, into) for _ in range(40)]
    finally:
        stop.set()
        scribbler.join()
        os.close(fd)
    unpack = zstandard.ZstdDecompressor()
    for kept, block in made:
        assert xxhash.xxh3_64_intdigest(unpack.decompress(block)) == kept


def test_early_frames_hold_at_most_max_held_bytes(tmp_path: Path) -> None:
    """Incompressible data (random blobs): the early frames waiting for ``pack`` are as
    big as the copy's ranges. No more of them are made than ``max_held`` compressed bytes
    allow; the rest is compressed after the copy, and the archive is still the copy."""
    live, copy = tmp_path / "live.db", tmp_path / "copy.db"
    conn = sqlite3.connect(live)
    conn.execute("CREATE TABLE blobs (b BLOB)")
    conn.executemany("INSERT INTO blobs VALUES (?)", [(os.urandom(100_000),) for _ in range(160)])
    conn.commit()
    conn.close()
    seen: list[Early] = []

    def keep(_copied: int, early: Early) -> None:
        seen[:] = [early]

    sink = io.BytesIO()
    packed = copy_and_pack(
        live,
        copy,
        sink,
        lambda *_: None,
        busy_timeout=5,
        frame=FRAME,
        cache_kib=CACHE_KIB,
        max_held=4 * FRAME,
        hook=keep,
    )
    held = sum(len(made.result()[1]) for made in seen[0].values())
    assert copy.stat().st_size > 12 * FRAME  # the copy would have made 10 early frames
    assert packed.early_frames >= 2 and held <= 4 * FRAME and held > 2 * FRAME
    assert _unpacked(sink) == copy.read_bytes()
