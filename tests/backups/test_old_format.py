"""Archives of format 1 (the SQLite copy gzip-compressed) still verify and restore.

``fixtures/lms-backup-gzip-format1.tar`` was written by ``backup create`` as it was before
zstd (commit 2d55f2f): a migrated SQLite site of 12 demo users and 20 enrollments, with two
files. It is read here, never rewritten.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import tarfile
from pathlib import Path

from lms_core.backups.manifest import read_manifest
from tests.backups.conftest import Site
from tests.cli.helpers import ok_json

FIXTURE = Path(__file__).parent / "fixtures" / "lms-backup-gzip-format1.tar"


def test_the_fixture_is_a_format_1_gzip_archive() -> None:
    manifest = read_manifest(FIXTURE)
    assert manifest["format_version"] == 1 and manifest["compression"] == "gzip-1"
    assert manifest["database_member"] == "database.sqlite3.gz"
    assert manifest["table_checksum"] == "sqlite-pages-v3"
    with tarfile.open(FIXTURE, "r:") as tar:
        head = (tar.extractfile("database.sqlite3.gz") or io.BytesIO()).read(3)
    assert head == b"\x1f\x8b\x08"


def test_a_format_1_archive_verifies(sqlite_site: Site, tmp_path: Path) -> None:
    archive = tmp_path / FIXTURE.name
    shutil.copyfile(FIXTURE, archive)
    report = ok_json(sqlite_site.run("backup", "verify", str(archive), "--json"))
    assert report["ok"] is True and report["problems"] == []
    assert report["members_checked"] == 3 and report["tables_checked"] > 20


def test_a_format_1_archive_restores(sqlite_site: Site, tmp_path: Path) -> None:
    target = tmp_path / "restored" / "site.db"
    files = tmp_path / "restored-files"
    done = ok_json(
        sqlite_site.run(
            "backup",
            "restore",
            str(FIXTURE),
            "--to",
            f"sqlite:///{target}",
            "--files-dir",
            str(files),
            "--json",
        )
    )
    assert done["ok"] is True and done["problems"] == [] and done["files"] == 2
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("SELECT count(*) FROM enrollments").fetchone()[0] == 20
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 13
    finally:
        conn.close()
    assert (files / "uploads" / "c1" / "notes.txt").read_text() == "lesson notes\n"
