"""A SQLite backup at about the speed of a page copy: tables checksummed by their pages,
the copy compressed on every core.

Why: the raw tool (``sqlite3 DB ".backup FILE"``) copies pages and stops; our backup also
compresses the copy and checksums every table. Read row by row through Python (the
``sqlite-rows-v2`` checksums) a million enrollments took five seconds, and one gzip thread
another second, against a copy of under one.

* :func:`page_stats`: per table, the row count (``count(*)``) and a sha256 of the pages of
  its b-tree (interior, leaf and overflow pages, by page number, as the ``dbstat`` virtual
  table lists them). A restore of a SQLite backup is the same file decompressed, so the same
  rows give the same pages, and a lost or changed row changes a page of its table: the check
  ``backup verify`` makes, at the speed of hashing the file (``sqlite-pages-v3``).
* :func:`compress_parallel`: the copy cut into one slice per core, each compressed by its own
  thread (zlib lets go of the GIL) into a gzip member; the members, one after the other, are
  one valid gzip stream (RFC 1952: a file is a series of members) that ``gzip``, ``zcat`` and
  Python's ``gzip`` read as the whole copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
import zlib
from concurrent.futures import Executor
from pathlib import Path

from lms_core.backups.stats import TableStat

#: Read and compressed at a time by each thread.
_BLOCK = 4 << 20
#: A slice starts on a multiple of this (whole pages whatever the page size).
_ALIGN = 1 << 20


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def page_stats(path: Path) -> dict[str, TableStat]:
    """Row count and page checksum of every table of the SQLite file ``path`` (not written
    meanwhile: a backup's copy, or a restored one)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        names = [
            str(row[0])
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        pages: dict[str, list[int]] = {name: [] for name in names}
        for name, pageno in conn.execute("SELECT name, pageno FROM dbstat"):
            found = pages.get(name)
            if found is not None:
                found.append(int(pageno))
        rows = {
            name: int(conn.execute(f"SELECT count(*) FROM {_quoted(name)}").fetchone()[0])  # noqa: S608 - quoted identifier
            for name in names
        }
    finally:
        conn.close()
    # One sequential read of the file, each page handed to its table's digest: pages in
    # increasing number within each table, whatever order dbstat walked them in.
    owner: dict[int, hashlib._Hash] = {}
    digests = {name: hashlib.sha256() for name in names}
    for name in names:
        for pageno in pages[name]:
            owner[pageno] = digests[name]
    with path.open("rb") as raw:
        first = 1
        while block := raw.read(_BLOCK - _BLOCK % page_size):
            view = memoryview(block)
            for index in range(len(block) // page_size):
                digest = owner.get(first + index)
                if digest is not None:
                    digest.update(view[index * page_size : (index + 1) * page_size])
            first += len(block) // page_size
    return {name: TableStat(rows[name], digests[name].hexdigest()) for name in names}


def file_stats(path: Path) -> dict[str, TableStat]:
    """:func:`page_stats` of the database in ``path`` as SQLite reads it: a database in WAL
    mode with frames not yet in its file (a live site) is first copied with the backup API
    (page for page, the same numbers), since the file alone is not the database then."""
    wal = Path(f"{path}-wal")
    if not wal.exists() or wal.stat().st_size == 0:
        return page_stats(path)
    with tempfile.TemporaryDirectory(prefix="lms-pages-") as folder:
        copy = Path(folder) / "copy.sqlite3"
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        dst = sqlite3.connect(copy)
        try:
            dst.execute("PRAGMA synchronous=OFF")
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
            src.close()
        return page_stats(copy)


def _compress_slice(source: Path, start: int, end: int, target: Path, level: int) -> None:
    """Bytes ``start``..``end`` of ``source`` as one gzip member in ``target``."""
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    with source.open("rb") as raw, target.open("wb") as out:
        raw.seek(start)
        left = end - start
        while left > 0:
            block = raw.read(min(_BLOCK, left))
            if not block:
                break
            left -= len(block)
            out.write(packer.compress(block))
        out.write(packer.flush())


def compress_parallel(
    source: Path, target: Path, pool: Executor, *, level: int, slices: int
) -> None:
    """gzip ``source`` into ``target`` as ``slices`` members compressed at once on ``pool``."""
    size = source.stat().st_size
    step = max(_ALIGN, -(-size // max(1, slices) // _ALIGN) * _ALIGN)
    bounds = [(start, min(start + step, size)) for start in range(0, max(size, 1), step)]
    parts = [target.with_name(f"{target.name}.{n}") for n in range(len(bounds))]
    try:
        running = [
            pool.submit(_compress_slice, source, start, end, part, level)
            for (start, end), part in zip(bounds, parts, strict=True)
        ]
        for future in running:
            future.result()
        with target.open("wb") as out:
            for part in parts:
                with part.open("rb") as packed:
                    shutil.copyfileobj(packed, out, _BLOCK)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)


def cores() -> int:
    """Threads to compress with: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
