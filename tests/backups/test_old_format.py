"""Archives of formats 1 and 2 still verify and restore.

Both are a migrated SQLite site of 12 demo users and 20 enrollments, with two files, read
here, never rewritten:

* ``fixtures/lms-backup-gzip-format1.tar``: written by ``backup create`` as it was before
  zstd (commit 2d55f2f): the copy gzip-compressed, ``sqlite-pages-v3`` (sha256) checksums.
* ``fixtures/lms-backup-zstd-format2.tar``: written by main at 7a62606, before format 3:
  the copy in zstd, still ``sqlite-pages-v3``.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import tarfile
from pathlib import Path
from typing import Any

import pytest

from lms_core.backups.manifest import read_manifest
from tests.backups.conftest import Site
from tests.cli.helpers import ok_json

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = FIXTURES / "lms-backup-gzip-format1.tar"
FORMAT_2 = FIXTURES / "lms-backup-zstd-format2.tar"
OLD = [pytest.param(FIXTURE, id="format1-gzip"), pytest.param(FORMAT_2, id="format2-zstd")]


def test_the_fixture_is_a_format_1_gzip_archive() -> None:
    manifest = read_manifest(FIXTURE)
    assert manifest["format_version"] == 1 and manifest["compression"] == "gzip-1"
    assert manifest["database_member"] == "database.sqlite3.gz"
    assert manifest["table_checksum"] == "sqlite-pages-v3"
    with tarfile.open(FIXTURE, "r:") as tar:
        head = (tar.extractfile("database.sqlite3.gz") or io.BytesIO()).read(3)
    assert head == b"\x1f\x8b\x08"


def test_the_fixture_is_a_format_2_zstd_archive() -> None:
    manifest: dict[str, Any] = read_manifest(FORMAT_2)
    assert manifest["format_version"] == 2 and manifest["compression"] == "zstd-fast-1"
    assert manifest["database_member"] == "database.sqlite3.zst"
    assert manifest["table_checksum"] == "sqlite-pages-v3"
    with tarfile.open(FORMAT_2, "r:") as tar:
        head = (tar.extractfile("database.sqlite3.zst") or io.BytesIO()).read(4)
    assert head == b"\x28\xb5\x2f\xfd"  # zstd's frame magic


@pytest.mark.parametrize("fixture", OLD)
def test_an_old_archive_verifies(sqlite_site: Site, tmp_path: Path, fixture: Path) -> None:
    archive = tmp_path / fixture.name
    shutil.copyfile(fixture, archive)
    report = ok_json(sqlite_site.run("backup", "verify", str(archive), "--json"))
    assert report["ok"] is True and report["problems"] == []
    assert report["members_checked"] == 3 and report["tables_checked"] > 20


@pytest.mark.parametrize("fixture", OLD)
def test_an_old_archive_restores(sqlite_site: Site, tmp_path: Path, fixture: Path) -> None:
    target = tmp_path / "restored" / "site.db"
    files = tmp_path / "restored-files"
    done = ok_json(
        sqlite_site.run(
            "backup",
            "restore",
            str(fixture),
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
