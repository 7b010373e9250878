"""SQLite tables checksummed by their pages: the b-tree walk lists exactly what ``dbstat``
lists (or steps aside for it), the checksums follow the rows, live or copied, and the copy
is compressed into one zstd stream whatever the spool does with it."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import xxhash
import zstandard

from lms_core.backups import sqlite_pages as sp
from lms_core.backups.sqlite_snapshot import pack


def _database(path: Path, *, wal: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany("INSERT INTO a (body) VALUES (?)", [("x" * 5000,)] * 40)  # overflow pages
    conn.executemany("INSERT INTO b (body) VALUES (?)", [(str(i),) for i in range(500)])
    return conn


def _plain(conn: sqlite3.Connection) -> None:
    """Tables deep enough for two levels of interior pages, an index, a WITHOUT ROWID table
    (an index-shaped b-tree), and free pages: no overflow pages."""
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)")
    conn.execute("CREATE INDEX big_name ON big (name)")
    conn.execute("CREATE TABLE pairs (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID")
    conn.execute("CREATE TABLE dropped (id INTEGER PRIMARY KEY, body TEXT)")
    rows = [(f"name {i:06d} " + "y" * 150, i) for i in range(60_000)]
    conn.executemany("INSERT INTO big (name, n) VALUES (?, ?)", rows)
    conn.executemany("INSERT INTO pairs VALUES (?, ?)", [(f"k{i}", "v" * 40) for i in range(5000)])
    conn.executemany("INSERT INTO dropped (body) VALUES (?)", [("z" * 500,)] * 200)
    conn.execute("COMMIT")
    conn.execute("DELETE FROM dropped WHERE id > 20")  # pages go to the freelist


def _by_dbstat(path: Path) -> dict[str, list[int]]:
    conn = sqlite3.connect(path)
    try:
        return {name: sorted(pages) for name, pages in sp._dbstat(conn).items()}
    finally:
        conn.close()


def _walked(path: Path) -> dict[str, list[int]] | None:
    conn = sqlite3.connect(path)
    try:
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        roots = conn.execute("SELECT name, rootpage FROM sqlite_master WHERE rootpage > 0")
        with sp.mapped(path) as image:
            found = sp._walk(image, size, [("sqlite_schema", 1), *roots])
    finally:
        conn.close()
    return None if found is None else {name: sorted(pages) for name, pages in found.items()}


def _setup_plain(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    _plain(conn)
    conn.close()


def _setup_overflow(path: Path) -> None:
    _database(path, wal=False).close()


def _setup_auto_vacuum(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA auto_vacuum=FULL")
    _plain(conn)
    conn.close()


def test_the_walk_lists_the_pages_dbstat_lists(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    _setup_plain(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] > 0
    depth = conn.execute(
        "SELECT max(length(path) - length(replace(path, '/', ''))) FROM dbstat WHERE name = 'big'"
    ).fetchone()[0]
    assert depth >= 3  # '/000/000/': leaves under interior pages under the root
    conn.close()
    walked = _walked(path)
    assert walked is not None  # every page accounted for: the walk is used
    assert walked == _by_dbstat(path)


@pytest.mark.parametrize(
    "setup", [_setup_overflow, _setup_auto_vacuum], ids=["overflow", "auto_vacuum"]
)
def test_dbstat_decides_where_the_walk_cannot(
    tmp_path: Path, setup: Callable[[Path], None]
) -> None:
    path = tmp_path / "site.db"
    setup(path)
    assert _walked(path) is None
    conn = sqlite3.connect(path)
    with sp.mapped(path) as image:
        names = sp.table_names(conn)
        pages = sp.table_pages(conn, image, names)
    conn.close()
    expected = _by_dbstat(path)
    assert {name: sorted(found) for name, found in pages.items()} == {
        name: expected.get(name, []) for name in names
    }


def test_page_checksums_follow_the_rows_of_each_table(tmp_path: Path) -> None:
    path = tmp_path / "site.db"
    conn = _database(path, wal=False)
    before = sp.page_stats(path)
    assert {name: stat.rows for name, stat in before.items()} == {"a": 40, "b": 500}
    conn.execute("UPDATE a SET body = 'y' || substr(body, 2) WHERE id = 40")  # an overflow page
    after = sp.page_stats(path)
    assert after["a"] != before["a"] and after["a"].rows == 40 and after["b"] == before["b"]
    conn.execute("DELETE FROM b WHERE id = 500")
    assert sp.page_stats(path)["b"].rows == 499
    conn.close()


def test_walked_and_dbstat_checksums_agree(tmp_path: Path) -> None:
    """The same pages hashed whichever lists them: an archive verifies either way."""
    path = tmp_path / "plain.db"
    _setup_plain(path)
    conn = sqlite3.connect(path)
    with sp.mapped(path) as image:
        names = sp.table_names(conn)
        listed = sp._dbstat(conn)
        by_dbstat = sp.hash_pages(image, 4096, {name: listed.get(name, []) for name in names})
        assert sp.hash_pages(image, 4096, sp.table_pages(conn, image, names)) == by_dbstat
    conn.close()
    assert {name: stat.sha256 for name, stat in sp.page_stats(path).items()} == by_dbstat


def test_a_live_database_in_wal_mode_is_checksummed_as_sqlite_reads_it(tmp_path: Path) -> None:
    """Frames still in the -wal file are part of the database: the stats see them."""
    live, plain = tmp_path / "live.db", tmp_path / "plain.db"
    conn = _database(live, wal=True)
    assert Path(f"{live}-wal").stat().st_size > 0
    conn.execute(f"VACUUM INTO '{plain}'")
    stats = sp.file_stats(live)
    assert {name: stat.rows for name, stat in stats.items()} == {"a": 40, "b": 500}
    conn.execute("DELETE FROM b WHERE id > 10")
    assert sp.file_stats(live)["b"].rows == 10
    assert sp.file_stats(plain)["b"].rows == 500  # no -wal: the file itself
    conn.close()


def test_the_copy_of_a_wal_database_is_a_lone_file(tmp_path: Path) -> None:
    live, copy = tmp_path / "live.db", tmp_path / "copy.db"
    conn = _database(live, wal=True)
    sp.copy_database(live, copy, busy_timeout=5)
    conn.close()
    assert copy.read_bytes()[18:20] == b"\x01\x01"  # rollback journal, as DELETE mode writes
    assert sp.page_stats(copy) == sp.file_stats(live)  # opened read-only, every row there
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == ["copy.db"]


@pytest.mark.parametrize("frame", [64 << 20, 1 << 20], ids=["one_frame", "many_frames"])
def test_pack_is_one_zstd_stream_of_the_copy(tmp_path: Path, frame: int) -> None:
    """In one frame or in many compressed at once, written in order: bytes that decompress
    to the copy, with the size and sha256 said, and the copy's tables checksummed."""
    path = tmp_path / "plain.db"
    _setup_plain(path)
    ticks: list[str] = []
    sink = io.BytesIO()
    packed = pack(path, sink, lambda stage, *_: ticks.append(stage), frame=frame)
    data = sink.getvalue()
    assert len(data) == packed.size and hashlib.sha256(data).hexdigest() == packed.sha256
    frames = data.count(b"\x28\xb5\x2f\xfd")  # zstd's frame magic number
    assert frames == 1 if frame > path.stat().st_size else frames >= 8
    assert packed.size < path.stat().st_size // 3  # compressed
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    assert reader.read() == path.read_bytes() and packed.database_size == path.stat().st_size
    assert packed.tables == sp.page_stats(path)
    assert packed.tables["big"].rows == 60_000 and ticks
    assert packed.revision is None and packed.identity is None  # not an lms database


def test_a_child_pointer_to_a_free_page_is_not_taken_for_the_tables(tmp_path: Path) -> None:
    """A corrupt file whose page count still adds up: a child of ``big`` points at a free
    page dressed as a leaf (type byte 13), its old leaf belongs to nothing. The walk must
    step aside (dbstat lists the pages), never give ``big`` the free page."""
    path = tmp_path / "stolen.db"
    _setup_plain(path)
    conn = sqlite3.connect(path)
    size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    interior = conn.execute(
        "SELECT pageno FROM dbstat WHERE name = 'big' AND pagetype = 'internal' "
        "AND path LIKE '/___/' ORDER BY pageno LIMIT 1"
    ).fetchone()[0]
    conn.close()
    image = bytearray(path.read_bytes())
    trunk = struct.unpack_from(">I", image, 32)[0]
    free = struct.unpack_from(">I", image, (trunk - 1) * size + 8)[0]  # the first free leaf
    image[(free - 1) * size] = 13
    header = (interior - 1) * size
    cell = struct.unpack_from(">H", image, header + 12 + 2)[0]  # the second cell: not level[0]
    struct.pack_into(">I", image, header + cell, free)
    path.write_bytes(bytes(image))

    assert _walked(path) is None
    conn = sqlite3.connect(path)
    with sp.mapped(path) as mapped:
        pages = sp.table_pages(conn, mapped, ["big"])
    conn.close()
    assert sorted(pages["big"]) == _by_dbstat(path)["big"]


def test_v4_and_v3_hash_the_same_pages(tmp_path: Path) -> None:
    """New backups (v4) hash each table's pages with xxh3-128; archives written before say
    v3 (sha256 of the same pages) and are still checked by it."""
    path = tmp_path / "plain.db"
    _setup_plain(path)
    pages = _walked(path) or {}
    image = path.read_bytes()
    big = b"".join(image[(n - 1) * 4096 : n * 4096] for n in pages["big"])
    v4, v3 = sp.page_stats(path), sp.page_stats(path, sp.PAGES_V3)
    assert v4["big"].rows == v3["big"].rows == 60_000
    assert v4["big"].sha256 == xxhash.xxh3_128_hexdigest(big)
    assert v3["big"].sha256 == hashlib.sha256(big).hexdigest()
    assert sp.file_stats(path, sp.PAGES_V3) == v3
