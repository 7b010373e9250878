"""backup create / list / verify against real databases: consistent under a concurrent writer,
tampering found, permissions on what is written."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import zstandard

from lms_core.backups.manifest import file_sha256, read_manifest
from tests.backups.conftest import Site
from tests.cli.helpers import ok_json

#: Inserts one row a transaction into ``backup_writes`` until the stop file appears.
WRITER = """
import sys, time, pathlib
from sqlalchemy import create_engine, text
url, ready, stop = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
n = 0
while not stop.exists():
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO backup_writes (note) VALUES (:n)"), {"n": f"row {n}"})
    n += 1
    if n == 50:
        ready.touch()
print(n)
"""


def _start_writer(site: Site) -> tuple[subprocess.Popen[str], Path, Path]:
    key = "SERIAL" if site.kind == "postgresql" else "INTEGER"
    with site.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE backup_writes (id {key} PRIMARY KEY, note TEXT)")
    ready, stop = site.tmp / "ready", site.tmp / "stop"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, site.url, str(ready), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert child.poll() is None, "the writer died"
        assert time.monotonic() < deadline, "the writer never got going"
        time.sleep(0.02)
    return child, ready, stop


def test_create_while_another_process_writes_is_consistent(site: Site) -> None:
    child, _ready, stop = _start_writer(site)
    try:
        made = ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))
    finally:
        stop.touch()
        out, _ = child.communicate(timeout=30)
    written = int(out.strip())
    archive = Path(made["path"])
    manifest = read_manifest(archive)
    in_backup = manifest["tables"]["backup_writes"]["rows"]
    assert 50 <= in_backup < written, (in_backup, written)  # a snapshot taken mid-stream
    assert manifest["tables"]["enrollments"]["rows"] == 60
    assert made["database"]["kind"] == site.kind and made["files"] == 2
    report = ok_json(site.run("backup", "verify", str(archive), "--json"))
    assert report["ok"] is True and report["problems"] == []
    assert report["tables_checked"] == len(manifest["tables"]) and report["members_checked"] == 3


def test_archive_is_private_and_complete(site: Site) -> None:
    made = ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))
    archive = Path(made["path"])
    kind = site.kind
    assert archive.name.startswith("lms-backup-") and archive.name.endswith(f"-{kind}.tar")
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(site.backups).st_mode) == 0o700
    assert [p.name for p in site.backups.iterdir()] == [archive.name]  # no temp left behind
    manifest = read_manifest(archive)
    assert manifest["format_version"] == 3 and manifest["alembic_revision"]
    if kind == "sqlite":
        assert manifest["database_member"] == "database.sqlite3.zst"
        assert manifest["compression"] == "zstd-fast-1"
    assert manifest["tool_version"] and manifest["created_at"].endswith("Z")
    assert set(manifest["members"]) == {
        manifest["database_member"],
        "files/certificates/cert-1.pdf",
        "files/uploads/c1/notes.txt",
    }
    assert "alembic_version" in manifest["tables"] and "users" in manifest["tables"]
    listed = ok_json(site.run("backup", "list", str(site.backups), "--json"))
    assert [r["file"] for r in listed] == [archive.name]
    assert listed[0]["tables"] == len(manifest["tables"]) and listed[0]["files"] == 2
    text = site.run("backup", "list", str(site.backups))
    assert archive.name in text.stdout and "1 backup(s)" in text.stdout


def _rewrite(archive: Path, replace: dict[str, bytes], *, fix_manifest: bool) -> None:
    """Rewrite ``archive`` with some members' bytes replaced (and the manifest told, or not)."""
    with tarfile.open(archive, "r:") as tar:
        members = {
            info.name: (tar.extractfile(info) or io.BytesIO()).read() for info in tar.getmembers()
        }
    members.update(replace)
    manifest = json.loads(members["manifest.json"])
    if fix_manifest:
        import hashlib

        for name, data in replace.items():
            manifest["members"][name]["sha256"] = hashlib.sha256(data).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(archive, "w:") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_verify_names_a_tampered_member(site: Site) -> None:
    archive = Path(ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"])
    before = file_sha256(archive)
    _rewrite(archive, {"files/uploads/c1/notes.txt": b"changed\n"}, fix_manifest=False)
    assert file_sha256(archive) != before
    result = site.run("backup", "verify", str(archive))
    assert result.exit_code == 1, result.output
    assert (
        "error: file: member files/uploads/c1/notes.txt: checksum differs from the manifest"
        in result.stderr
    )
    data = json.loads(site.run("backup", "verify", str(archive), "--json").stdout)
    assert data["ok"] is False and len(data["problems"]) == 1


def test_verify_finds_a_tampered_table_in_the_sqlite_copy(sqlite_site: Site) -> None:
    site = sqlite_site
    archive = Path(ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"])
    with tarfile.open(archive, "r:") as tar:
        packed = (tar.extractfile("database.sqlite3.zst") or io.BytesIO()).read()
    copy = site.tmp / "copy.sqlite3"
    copy.write_bytes(zstandard.ZstdDecompressor().stream_reader(io.BytesIO(packed)).read())
    with sqlite3.connect(copy) as conn:
        conn.execute(
            # (Not the e-mail: a trigger would change the catalog's stamp with it.)
            "UPDATE users SET full_name = 'Mallory' WHERE id = (SELECT min(id) FROM users)"
        )
        conn.execute("DELETE FROM enrollments WHERE id = (SELECT max(id) FROM enrollments)")
    conn.close()
    changed = zstandard.ZstdCompressor().compress(copy.read_bytes())
    # The member's checksum made to match: only the restore-and-compare step can tell.
    _rewrite(archive, {"database.sqlite3.zst": changed}, fix_manifest=True)
    result = site.run("backup", "verify", str(archive))
    assert result.exit_code == 1, result.output
    errors = result.stderr.splitlines()
    assert "error: file: table users: rows differ from the manifest's checksum" in errors
    assert "error: file: table enrollments: 59 rows in the restored copy, 60 in the manifest" in (
        errors
    )
    assert len(errors) == 2, errors
    # Without the manifest fixed, the member is named as well.
    junk = zstandard.ZstdCompressor().compress(b"junk")
    _rewrite(archive, {"database.sqlite3.zst": junk}, fix_manifest=False)
    data = json.loads(site.run("backup", "verify", str(archive), "--json").stdout)
    assert any("member database.sqlite3.zst" in p for p in data["problems"]), data


def test_verify_finds_a_sqlite_copy_cut_short(sqlite_site: Site) -> None:
    """A compressed copy that ends early (its checksum made to match) is named, not taken
    for a smaller database."""
    site = sqlite_site
    archive = Path(ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"])
    with tarfile.open(archive, "r:") as tar:
        packed = (tar.extractfile("database.sqlite3.zst") or io.BytesIO()).read()
    _rewrite(archive, {"database.sqlite3.zst": packed[: len(packed) // 2]}, fix_manifest=True)
    data = json.loads(site.run("backup", "verify", str(archive), "--json").stdout)
    assert data["ok"] is False and data["members_checked"] == 3, data
    assert any(
        p.startswith("database member database.sqlite3.zst: cannot be restored")
        for p in data["problems"]
    ), data


def test_verify_refuses_a_file_that_is_not_a_backup(site: Site) -> None:
    bogus = site.tmp / "not-a-backup.tar"
    bogus.write_bytes(b"hello")
    result = site.run("backup", "verify", str(bogus), "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["errors"][0]
    assert error["field"] == "file" and "not a readable backup archive" in error["message"]
    missing = site.run("backup", "verify", str(site.tmp / "nothing.tar"))
    assert missing.exit_code == 1 and "nothing.tar" in missing.stderr
    assert "Traceback" not in missing.output
