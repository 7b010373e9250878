"""SQLite tables checksummed by their pages (``sqlite-pages-v4``), at the speed of hashing.

Why: the raw tool (``sqlite3 DB ".backup FILE"``) copies pages and stops; our backup also
compresses the copy and checksums every table. Read row by row through Python (the
``sqlite-rows-v2`` checksums) a million enrollments took five seconds against a copy of a
tenth of that.

Per table: the row count (``count(*)``) and an xxh3-128 (``sqlite-pages-v3``: a sha256,
still read; :data:`HASHES` says why it changed) of the pages of its b-tree (interior,
leaf and overflow pages, in page-number order). A restore of a SQLite backup is the same file
decompressed, so the same rows give the same pages, and a lost or changed row changes a page
of its table: the check ``backup verify`` makes.

Which pages a table owns: :func:`table_pages` walks each b-tree's interior pages itself (a
few hundred pages of a million-row database, a few milliseconds). Overflow pages hang off
leaf cells, which only parsing every cell finds; so unless the walk meets every page of the
file exactly once (in a b-tree, on the freelist's chain, or as the lock-byte page), with the
type byte its level expects, or when the file is not the plain kind the walk knows, the
listing comes from SQLite's ``dbstat`` table instead, as it always did (it parses every cell:
about 80 ms a million enrollments). Both give the same pages: a test holds them to it, on
databases with and without overflow pages, and a corrupt one whose page count adds up.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import sqlite3
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import xxhash

from lms_core.backups.stats import TableStat

_INTERIOR = {2: 10, 5: 13}  # interior page type -> the leaf type of the same b-tree kind
_LEAVES = frozenset(_INTERIOR.values())
#: ``mmap_size`` of the copy's source connection (SQLite maps at most the file).
_MMAP_LIMIT = 1 << 40
#: The page holding the bytes SQLite locks (at 1 GiB) belongs to no b-tree.
_LOCK_BYTE = 0x40000000
_unpack = struct.unpack_from

#: The page checksums of new backups: xxh3-128 of each table's pages.
PAGES = "sqlite-pages-v4"
#: The same pages by sha256 (backups written before v4; they still verify and restore by it).
PAGES_V3 = "sqlite-pages-v3"
#: What each method hashes the pages with. sha256 ran at about 1 GB/s on one core and was
#: the longest thing left after the copy (0.1 s of 213 MB); xxh3 reads at memory speed. The
#: checksum finds a page lost or changed by accident (a bad restore, a damaged copy); a
#: deliberate forgery is the members' sha256's and the archive's permissions' business, and
#: a forger rewriting the manifest could rewrite any checksum.
HASHES: dict[str, Callable[[], Any]] = {PAGES: xxhash.xxh3_128, PAGES_V3: hashlib.sha256}


def readonly_uri(path: Path) -> str:
    """The ``file:`` URI that opens ``path`` read-only. Built by :meth:`Path.as_uri`, which
    percent-encodes: pasted into ``f"file:{path}"`` a ``#`` or ``?`` in a folder's name ends
    the path (``site#2/site.db`` opened ``site`` read-only: an empty database, backed up
    without error) and a ``%20`` is decoded to a space."""
    return Path(path).absolute().as_uri() + "?mode=ro"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def mapped(path: Path) -> Iterator[Any]:
    """The file read-only in memory (the page cache itself, no copy); ``b""`` when empty."""
    with path.open("rb") as raw:
        if os.fstat(raw.fileno()).st_size == 0:
            yield b""
            return
        with mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ) as image:
            yield image


def table_names(conn: sqlite3.Connection) -> list[str]:
    """The tables checksummed: every table but SQLite's own, by name."""
    return [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]


def _walk(image: Any, page_size: int, roots: list[tuple[str, int]]) -> dict[str, list[int]] | None:
    """Interior and leaf pages of each b-tree from its root; None unless every page of the
    file is met exactly once, in a b-tree, on the freelist or as the lock-byte page (so no
    overflow pages exist, and no page is claimed twice), or anything is not as a well-formed
    database has it (then dbstat decides). Counting pages is not enough: a corrupt child
    pointer to a free page would then be taken for one of the table's pages."""
    count = len(image) // page_size
    if count == 0 or len(image) % page_size or _unpack(">I", image, 52)[0] != 0:
        return None  # not whole pages, or auto-vacuum (pointer-map pages): not walked here
    lock_page = _LOCK_BYTE // page_size + 1 if count * page_size > _LOCK_BYTE else 0
    seen: set[int] = set()
    owned: dict[str, list[int]] = {}
    try:
        _freelist(image, page_size, seen)
        for name, root in roots:
            owned[name] = _tree(image, page_size, root, seen)
    except (_Malformed, struct.error, IndexError):
        return None
    if lock_page in seen or len(seen) + (1 if lock_page else 0) != count:
        return None
    return owned


def _claim(seen: set[int], pages: list[int], count: int) -> None:
    """Add ``pages`` to ``seen``; a page out of the file, or met before, ends the walk."""
    known = len(seen)
    seen.update(pages)
    if len(seen) != known + len(pages) or (pages and (min(pages) < 1 or max(pages) > count)):
        raise _Malformed(pages)


def _freelist(image: Any, page_size: int, seen: set[int]) -> None:
    """The freelist's trunk and leaf pages into ``seen``: as many as the header says."""
    count = len(image) // page_size
    trunk, total, met = _unpack(">II", image, 32)[0], _unpack(">I", image, 36)[0], 0
    while trunk:
        _claim(seen, [trunk], count)
        start = (trunk - 1) * page_size
        trunk, leaves = _unpack(">II", image, start)
        if leaves > page_size // 4 - 2:
            raise _Malformed(leaves)
        _claim(seen, list(_unpack(f">{leaves}I", image, start + 8)), count)
        met += 1 + leaves
        if met > total:
            raise _Malformed(met)
    if met != total:
        raise _Malformed(met)


class _Malformed(Exception):
    """A b-tree the walk does not follow (dbstat lists the pages instead)."""


def _tree(image: Any, page_size: int, root: int, seen: set[int]) -> list[int]:
    """The interior and leaf pages of the b-tree at ``root``, level by level (SQLite's
    b-trees are balanced: every child of an interior page is at the same depth). A page met
    twice, or out of the file, ends the walk."""
    count = len(image) // page_size
    child_at = struct.Struct(">I").unpack_from
    pages: list[int] = []
    level, family = [root], 0
    while level:
        _claim(seen, level, count)
        pages += level
        kind = image[(level[0] - 1) * page_size + (100 if level[0] == 1 else 0)]
        if kind not in _LEAVES and (kind not in _INTERIOR or (family and family != kind)):
            raise _Malformed(kind)
        if kind in _LEAVES and family and _INTERIOR[family] != kind:
            raise _Malformed(kind)
        children: list[int] = []
        for page in level:
            start = (page - 1) * page_size
            header = start + (100 if page == 1 else 0)
            if image[header] != kind:
                raise _Malformed(page)  # every page of a level is of the level's kind
            if kind in _LEAVES:
                continue
            cells = _unpack(">H", image, header + 3)[0]
            offsets = _unpack(f">{cells}H", image, header + 12)
            if cells and max(offsets) > page_size - 4:
                raise _Malformed(page)
            children += [child_at(image, start + offset)[0] for offset in offsets]
            children.append(child_at(image, header + 8)[0])  # the right-most child
        if kind in _LEAVES:
            return pages
        family, level = kind, children
    return pages


def _dbstat(conn: sqlite3.Connection) -> dict[str, list[int]]:
    """Every b-tree's pages as SQLite's ``dbstat`` lists them (overflow pages included)."""
    owned: dict[str, list[int]] = {}
    for name, page in conn.execute("SELECT name, pageno FROM dbstat"):
        owned.setdefault(str(name), []).append(int(page))
    return owned


def table_pages(conn: sqlite3.Connection, image: Any, names: list[str]) -> dict[str, list[int]]:
    """The pages of each table in ``names`` (of the database ``conn`` reads and ``image``
    holds, not written meanwhile): the walk when it accounts for every page, else dbstat."""
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    roots = [
        (str(name), int(root))
        for name, root in conn.execute(
            "SELECT name, rootpage FROM sqlite_master WHERE rootpage > 0 ORDER BY rootpage"
        )
    ]
    walked = _walk(image, page_size, [("sqlite_schema", 1), *roots])
    owned = walked if walked is not None else _dbstat(conn)
    return {name: owned.get(name, []) for name in names}


def hash_pages(
    image: Any, page_size: int, pages: dict[str, list[int]], method: str = PAGES
) -> dict[str, str]:
    """The hash ``method`` names (:data:`HASHES`) of each table's pages in page-number
    order, in one pass over ``image``: consecutive pages of a table hashed in one call."""
    digests = {name: HASHES[method]() for name in pages}
    owner: list[Any] = [None] * (len(image) // page_size + 2)
    for name, numbers in pages.items():
        digest = digests[name]
        for number in numbers:
            owner[number] = digest
    view = memoryview(image)
    try:
        current, start = None, 0
        for number in range(1, len(owner)):
            digest = owner[number]
            if digest is not current:
                if current is not None:
                    current.update(view[(start - 1) * page_size : (number - 1) * page_size])
                current, start = digest, number
    finally:
        view.release()
    return {name: digest.hexdigest() for name, digest in digests.items()}


def stats_of(conn: sqlite3.Connection, image: Any, method: str = PAGES) -> dict[str, TableStat]:
    """Row count and page checksum (by ``method``) of every table of the database ``conn``
    reads, whose file ``image`` holds (a backup's copy or a restored one: not written
    meanwhile)."""
    names = table_names(conn)
    pages = table_pages(conn, image, names)
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    sums = hash_pages(image, page_size, pages, method)
    rows = {
        name: int(conn.execute(f"SELECT count(*) FROM {_quoted(name)}").fetchone()[0])  # noqa: S608 - quoted identifier
        for name in names
    }
    return {name: TableStat(rows[name], sums[name]) for name in names}


def page_stats(path: Path, method: str = PAGES) -> dict[str, TableStat]:
    """:func:`stats_of` the SQLite file ``path`` (not written meanwhile)."""
    conn = sqlite3.connect(readonly_uri(path), uri=True)
    try:
        with mapped(path) as image:
            return stats_of(conn, image, method)
    finally:
        conn.close()


def file_stats(path: Path, method: str = PAGES) -> dict[str, TableStat]:
    """:func:`page_stats` of the database in ``path`` as SQLite reads it: a database in WAL
    mode with frames not yet in its file (a live site) is first copied with the backup API
    (page for page, the same numbers), since the file alone is not the database then."""
    wal = Path(f"{path}-wal")
    if not wal.exists() or wal.stat().st_size == 0:
        return page_stats(path, method)
    with tempfile.TemporaryDirectory(prefix="lms-pages-") as folder:
        copy = Path(folder) / "copy.sqlite3"
        copy_database(path, copy, busy_timeout=5.0)
        return page_stats(copy, method)


def copy_database(source: Path, target: Path, *, busy_timeout: float) -> None:
    """Copy ``source`` to ``target`` with the online backup API in one step: one read
    transaction, so the copy is the database as of one commit while other processes write
    (WAL). The copy is then marked a rollback-journal file, a lone file (no ``-wal`` beside
    it) that opens read-only."""
    src = sqlite3.connect(readonly_uri(source), uri=True, timeout=busy_timeout)
    dst = sqlite3.connect(target)
    try:
        # The source read through a map of the file, not a read() a page (a tenth of the
        # copy's time; SQLite remaps as the file changes, and the map is read-only); the
        # copy is a scratch file, nothing to make durable until the archive is (no fsync).
        src.execute(f"PRAGMA mmap_size={_MMAP_LIMIT}")
        dst.execute("PRAGMA synchronous=OFF")
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    legacy_header(target)


def legacy_header(path: Path) -> None:
    """Set the header's file format bytes (offsets 18 and 19) to 1, rollback journal, as
    ``PRAGMA journal_mode=DELETE`` would: the copy of a WAL database says WAL, and SQLite
    would then make a ``-wal`` and ``-shm`` beside it to read it (and could not, read-only).
    Written in place: that pragma on the fresh copy opened, checkpointed and deleted an
    empty WAL, 15 ms of the copy's 100. The copy was never in WAL mode: nothing else to do."""
    with path.open("r+b") as copy:
        if len(copy.read(100)) == 100:
            copy.seek(18)
            copy.write(b"\x01\x01")
