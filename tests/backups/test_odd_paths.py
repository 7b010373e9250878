"""Paths SQLite would read as URI syntax: a ``#``, ``?`` or ``%`` in a folder's name must not
change which file a backup reads, writes or checks (it once backed up an empty database);
and a copy whose size the manifest does not say is not trusted."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from lms_core.backups.manifest import read_manifest
from lms_core.backups.sqlite_pages import copy_database, page_stats
from lms_core.backups.verify import extract_database
from tests.backups.conftest import make_site, only_archive
from tests.cli.helpers import ok_json

#: Every character SQLite's URI syntax gives a meaning to, in one folder name.
ODD = "site#2 ?x%20"


def test_a_hash_question_mark_or_percent_in_the_path_backs_up_the_real_database(
    tmp_path: Path,
) -> None:
    # In a SQLAlchemy URL "?" starts the query and "%20" is a space (its rules, not ours):
    # the database's folder has a "#", the backups and files folders everything.
    home = tmp_path / "site#2 x"
    home.mkdir()
    site = make_site(f"sqlite:///{home / 'site.db'}", home)
    try:
        backups = tmp_path / f"backups {ODD}"
        made = ok_json(site.run("backup", "create", "-o", str(backups), "--json"))
        archive = only_archive(backups)
        assert Path(made["path"]) == archive
        tables = read_manifest(archive)["tables"]
        assert tables["enrollments"]["rows"] == 60 and tables["users"]["rows"] >= 30
        report = ok_json(site.run("backup", "verify", str(archive), "--json"))
        assert report["ok"] is True and report["tables_checked"] == len(tables)
        restored = tmp_path / "back#3 x" / "restored.db"
        files = tmp_path / f"files {ODD}"
        args = ["--to", f"sqlite:///{restored}", "--files-dir", str(files), "--json"]
        report = ok_json(site.run("backup", "restore", str(archive), *args))
        assert report["ok"] is True and report["tables_checked"] == len(tables)
        with sqlite3.connect(restored) as conn:
            assert conn.execute("SELECT count(*) FROM enrollments").fetchone()[0] == 60
    finally:
        site.engine.dispose()


def test_the_page_checksums_and_the_copy_read_the_file_named(tmp_path: Path) -> None:
    plain = tmp_path / "plain.db"
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(500)])
    conn.close()
    odd = tmp_path / ODD / "site.db"
    odd.parent.mkdir()
    shutil.copy(plain, odd)
    expected = page_stats(plain)
    assert expected["t"].rows == 500
    assert page_stats(odd) == expected
    copy = tmp_path / ODD / "copy.db"
    copy_database(odd, copy, busy_timeout=1.0)
    assert page_stats(copy) == expected


def test_a_zstd_copy_without_its_size_in_the_manifest_is_not_restored(tmp_path: Path) -> None:
    """python-zstandard's reader ends a cut stream early without an error: the size in the
    manifest is what shows it, so a zstd copy must have one."""
    home = tmp_path / "site"
    home.mkdir()
    site = make_site(f"sqlite:///{home / 'site.db'}", home)
    try:
        made = ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))
    finally:
        site.engine.dispose()
    manifest = read_manifest(Path(made["path"]))
    extract_database(Path(made["path"]), manifest, tmp_path / "whole.db")
    del manifest["database"]["size"]
    with pytest.raises(OSError, match="size"):
        extract_database(Path(made["path"]), manifest, tmp_path / "unsized.db")
