"""The SQLite copy compressed on several threads and its tables checksummed by their pages:
one gzip stream any reader takes whole, checksums that follow the rows, live or copied."""

from __future__ import annotations

import gzip
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lms_core.backups.sqlite_pages import compress_parallel, file_stats, page_stats


def test_slices_compressed_at_once_are_one_gzip_stream(tmp_path: Path) -> None:
    source = tmp_path / "copy.bin"
    data = os.urandom(2 << 20) + bytes(4 << 20) + b"tail" * 1000  # three slices, uneven
    source.write_bytes(data)
    target = tmp_path / "copy.bin.gz"
    with ThreadPoolExecutor(max_workers=3) as pool:
        compress_parallel(source, target, pool, level=1, slices=3)
    packed = target.read_bytes()
    assert packed.count(b"\x1f\x8b\x08") >= 3  # a member per slice
    assert gzip.decompress(packed) == data
    with gzip.open(target, "rb") as stream:  # what verify and restore read it with
        assert stream.read() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.bin", "copy.bin.gz"]


def _database(path: Path, *, wal: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany("INSERT INTO a (body) VALUES (?)", [("x" * 5000,)] * 40)  # overflow pages
    conn.executemany("INSERT INTO b (body) VALUES (?)", [(str(i),) for i in range(500)])
    return conn


def test_page_checksums_follow_the_rows_of_each_table(tmp_path: Path) -> None:
    path = tmp_path / "site.db"
    conn = _database(path, wal=False)
    before = page_stats(path)
    assert {name: stat.rows for name, stat in before.items()} == {"a": 40, "b": 500}
    conn.execute("UPDATE a SET body = 'y' || substr(body, 2) WHERE id = 40")  # an overflow page
    after = page_stats(path)
    assert after["a"] != before["a"] and after["a"].rows == 40 and after["b"] == before["b"]
    conn.execute("DELETE FROM b WHERE id = 500")
    assert page_stats(path)["b"].rows == 499
    conn.close()


def test_a_live_database_in_wal_mode_is_checksummed_as_sqlite_reads_it(tmp_path: Path) -> None:
    """Frames still in the -wal file are part of the database: the stats see them."""
    live, plain = tmp_path / "live.db", tmp_path / "plain.db"
    conn = _database(live, wal=True)
    assert Path(f"{live}-wal").stat().st_size > 0
    conn.execute(f"VACUUM INTO '{plain}'")
    stats = file_stats(live)
    assert {name: stat.rows for name, stat in stats.items()} == {"a": 40, "b": 500}
    conn.execute("DELETE FROM b WHERE id > 10")
    assert file_stats(live)["b"].rows == 10
    assert file_stats(plain)["b"].rows == 500  # no -wal: the file itself
    conn.close()
