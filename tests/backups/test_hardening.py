"""Archives and targets that must not get far: crafted members refused before anything is
written, links in the files folder not followed, a target that is not a database, a file
deleted while the archive is written, and the nightly job made once per slot."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lms_core.backups import create as creating
from lms_core.backups.jobs import create as backup_job
from lms_core.backups.manifest import MANIFEST_NAME, read_manifest
from lms_core.backups.restore import restore_backup
from lms_core.backups.retention import backups_in
from lms_core.backups.verify import check_members
from lms_core.db import make_session_factory
from lms_core.errors import Conflict
from lms_core.formats.atomic import AtomicFile
from lms_core.jobs.registry import JobContext
from tests.backups.conftest import Site, only_archive
from tests.cli.helpers import ok_json


def _target_exists(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return Path(str(parsed.database)).exists()
    admin = create_engine(parsed.set(database="postgres"))
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
            ).first()
            return found is not None
    finally:
        admin.dispose()


def _craft(archive: Path, target: Path, extra: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    """A copy of ``archive`` with ``extra`` members, listed in its manifest with their right
    checksums: only their names and types can give them away."""
    manifest = read_manifest(archive)
    with tarfile.open(archive, "r:") as src, tarfile.open(target, "w:") as out:
        for info in src:
            if info.name != MANIFEST_NAME:
                stream = src.extractfile(info)
                assert stream is not None
                out.addfile(info, stream)
        for info, data in extra:
            if info.isfile():
                info.size = len(data)
                manifest["members"][info.name] = {
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            out.addfile(info, io.BytesIO(data) if info.isfile() else None)
        body = json.dumps(manifest).encode("utf-8")
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(body)
        out.addfile(info, io.BytesIO(body))


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o600
    return info


#: Each member added to a real archive, listed in its manifest with the right checksum, and
#: why it is refused.
CRAFTED: list[tuple[tarfile.TarInfo, bytes, str]] = [
    (_member("files/../evil.txt"), b"x", "points outside files/"),
    (_member("files/uploads/../../evil.txt"), b"x", "points outside files/"),
    (_member("/tmp/lms-abs-evil.txt"), b"x", "an absolute path"),
    (_member("evil.txt"), b"x", "not under files/"),
    (_member("files/link", tarfile.SYMTYPE, "/etc/passwd"), b"", "not a regular file"),
    (_member("files/hard", tarfile.LNKTYPE, "manifest.json"), b"", "not a regular file"),
    (
        _member("files/uploads/c1/notes.txt"),
        b"lesson notes\n",
        "files/uploads/c1/notes.txt: twice in the archive",
    ),
]


def test_crafted_members_are_refused_before_anything_is_written(
    site: Site, restore_url: str
) -> None:
    archive = Path(ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"])
    files = site.tmp / "drill" / "files"
    for n, (info, data, reason) in enumerate(CRAFTED):
        crafted = site.tmp / f"crafted-{n}.tar"
        _craft(archive, crafted, [(info, data)])

        result = site.run(
            "backup", "restore", str(crafted), "--to", restore_url, "--files-dir", str(files),
            "--json",
        )  # fmt: skip
        assert result.exit_code == 1, (info.name, result.output)
        message = json.loads(result.stdout)["errors"][0]["message"]
        assert "nothing restored" in message and reason in message, message
        assert not _target_exists(restore_url)  # the database untouched: not even created
        assert not files.exists()
        assert not (site.tmp / "drill" / "evil.txt").exists()
        assert not Path("/tmp/lms-abs-evil.txt").exists()
        assert any(reason in p for p in check_members(crafted, read_manifest(crafted))[1])
    report = site.run("backup", "verify", str(site.tmp / "crafted-0.tar"), "--json")
    assert report.exit_code == 1 and "points outside files/" in report.stdout


def test_a_link_in_the_files_folder_is_replaced_not_followed(site: Site, restore_url: str) -> None:
    archive = ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"]
    outside = site.tmp / "outside.txt"
    outside.write_text("not yours\n")
    files = site.tmp / "drill-files"
    (files / "uploads" / "c1").mkdir(parents=True)
    (files / "uploads" / "c1" / "notes.txt").symlink_to(outside)
    args = ["backup", "restore", archive, "--to", restore_url, "--files-dir", str(files)]

    done = ok_json(site.run(*args, "--force", "--json"))
    assert done["ok"] is True
    restored = files / "uploads" / "c1" / "notes.txt"
    assert not restored.is_symlink() and restored.read_text() == "lesson notes\n"
    assert outside.read_text() == "not yours\n"


def test_a_linked_folder_on_the_way_is_refused_before_the_database(
    site: Site, restore_url: str
) -> None:
    archive = ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"]
    elsewhere = site.tmp / "elsewhere"
    (elsewhere / "c1").mkdir(parents=True)
    (elsewhere / "c1" / "notes.txt").write_text("not yours\n")
    files = site.tmp / "drill-files"
    files.mkdir()
    (files / "uploads").symlink_to(elsewhere, target_is_directory=True)
    args = ["backup", "restore", archive, "--to", restore_url, "--files-dir", str(files)]

    result = site.run(*args, "--force", "--json")
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)["errors"][0]
    assert error["field"] == "files_dir" and "is a link" in error["message"]
    assert (elsewhere / "c1" / "notes.txt").read_text() == "not yours\n"
    assert not _target_exists(restore_url)


def test_a_target_that_is_not_a_sqlite_database_is_a_clean_refusal(sqlite_site: Site) -> None:
    archive = Path(
        ok_json(sqlite_site.run("backup", "create", "-o", str(sqlite_site.backups), "--json"))[
            "path"
        ]
    )
    notes = sqlite_site.tmp / "notes.db"
    notes.write_text("my notes, not a database\n" * 100)
    url = f"sqlite:///{notes}"
    files = sqlite_site.tmp / "drill-files"

    with pytest.raises(Conflict) as caught:
        restore_backup(archive, to_url=url, files_dir=files, force=True)
    assert caught.value.field == "to" and "is not a SQLite database" in caught.value.message

    result = sqlite_site.run("backup", "restore", str(archive), "--to", url, "--json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    error = json.loads(result.stdout)["errors"][0]
    assert error["field"] == "to" and "is not a SQLite database" in error["message"]
    assert notes.read_text() == "my notes, not a database\n" * 100
    assert not files.exists()


def test_a_file_deleted_before_its_turn_is_left_out_and_named(tmp_path: Path) -> None:
    database = tmp_path / creating.SQLITE_MEMBER
    database.write_bytes(b"compressed database")
    kept = tmp_path / "kept.txt"
    kept.write_text("here")
    manifest = {
        "format": "lms-backup",
        "format_version": 1,
        "database_member": creating.SQLITE_MEMBER,
        "members": {},
    }
    entries = [
        (database, creating.SQLITE_MEMBER),
        (tmp_path / "gone.txt", "files/gone.txt"),  # listed, then deleted by a user
        (kept, "files/kept.txt"),
    ]
    archive = tmp_path / "a.tar"

    creating._write_archive(AtomicFile(archive, "wb"), manifest, entries, lambda *_: None)
    written = read_manifest(archive)
    assert written["vanished"] == ["files/gone.txt"]
    assert sorted(written["members"]) == [creating.SQLITE_MEMBER, "files/kept.txt"]
    assert check_members(archive, written) == (2, [])

    database.unlink()  # the database member is not optional
    with pytest.raises(FileNotFoundError):
        creating._write_archive(
            AtomicFile(tmp_path / "b.tar", "wb"), dict(manifest, members={}), entries, print
        )
    assert not (tmp_path / "b.tar").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_the_nightly_archive_is_named_by_its_slot_and_made_once(site: Site) -> None:
    settings = site.settings.model_copy(update={"backup_dir": site.backups})
    key = "schedule:backup:2026-12-06T02:30"
    ctx = JobContext(make_session_factory(site.engine), settings, 7, 1, key)

    first = backup_job(ctx, {})
    assert first["created"] is True
    archive = only_archive(site.backups)
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    assert archive.name == f"lms-backup-20261206T023000Z-{site.kind}-{digest}.tar"
    assert [b.path for b in backups_in(site.backups)] == [archive]  # retention sees it
    # Killed after the rename, before anything else was recorded: nothing but the archive
    # tells the next attempt, and it is enough.
    for leftover in site.backups.glob(".jobs"):
        for marker in leftover.iterdir():
            marker.unlink()
    again = backup_job(JobContext(ctx.session_factory, settings, 7, 2, key), {})
    assert again == {"path": str(archive), "created": False}
    assert only_archive(site.backups) == archive
    # Another slot is another archive.
    backup_job(JobContext(ctx.session_factory, settings, 8, 1, key[:-5] + "03:30"), {})
    assert len(backups_in(site.backups)) == 2


def test_table_checksums_see_one_changed_value(site: Site) -> None:
    """The kind's own checksum (SQL on PostgreSQL, raw rows on SQLite) is stable, and changes
    with one value of one row, the row count staying the same."""
    from lms_core.backups import manifest as mf

    method = mf.fast_method(site.engine.dialect.name)
    with site.engine.connect() as conn, conn.begin():
        before = mf.table_stats_by(conn, method)
    with site.engine.connect() as conn, conn.begin():
        assert mf.table_stats_by(conn, method) == before
    with site.engine.begin() as conn:
        conn.execute(text("UPDATE users SET full_name = full_name || '.' WHERE id = 1"))
    with site.engine.connect() as conn, conn.begin():
        after = mf.table_stats_by(conn, method)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"users"} and after["users"].rows == before["users"].rows


def test_an_archive_of_the_older_checksum_form_still_verifies(site: Site) -> None:
    """Archives written before ``table_checksum`` existed carry the normalised form."""
    from lms_core.backups import manifest as mf

    archive = Path(ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"])
    with site.engine.connect() as conn, conn.begin():
        old_tables = {name: stat.as_dict() for name, stat in mf.table_stats(conn).items()}
    manifest = read_manifest(archive)
    assert manifest["table_checksum"] == mf.fast_method(site.engine.dialect.name)
    del manifest["table_checksum"]
    manifest["tables"] = old_tables
    older = site.tmp / "older.tar"
    with tarfile.open(archive, "r:") as src, tarfile.open(older, "w:") as out:
        for info in src:
            if info.name != MANIFEST_NAME:
                out.addfile(info, src.extractfile(info))
        body = json.dumps(manifest).encode("utf-8")
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(body)
        out.addfile(info, io.BytesIO(body))
    assert ok_json(site.run("backup", "verify", str(older), "--json"))["ok"] is True


def test_the_back_office_import_staging_folder_is_not_backed_up(site: Site) -> None:
    """Uploaded import files and their plans wait a day at most under the files folder; they
    are of the database as it was, and a users file may carry addresses nobody imported."""
    from lms_core.private_paths import WEB_IMPORTS_FOLDER

    staged = Path(site.settings.files_dir) / WEB_IMPORTS_FOLDER / "0123abcd"
    staged.mkdir(parents=True)
    (staged / "plan.json").write_text("{}\n")
    archive = ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"]
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(MANIFEST_NAME).read())  # type: ignore[union-attr]
    assert any(n.startswith("files/") for n in names)
    assert not [n for n in names if WEB_IMPORTS_FOLDER in n]
    assert not [n for n in manifest["members"] if WEB_IMPORTS_FOLDER in n]


def test_the_streamed_member_header_holds_any_size() -> None:
    """The SQLite copy's header is written after its data: one block whatever the size
    (8 GiB and more in GNU base-256), read back by tar readers."""
    for size in (0, 1, 512, 9 << 30):
        stream = io.BytesIO()
        start = creating._begin_member(stream)
        if size < 1 << 20:
            stream.write(b"x" * size)
        else:  # data not written: only where it would end matters
            stream.seek(start + tarfile.BLOCKSIZE + size)
        creating._end_member(stream, start, creating.SQLITE_MEMBER, size)
        assert stream.tell() == tarfile.BLOCKSIZE + -(-size // tarfile.BLOCKSIZE) * 512
        header = stream.getvalue()[: tarfile.BLOCKSIZE]
        info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
        assert (info.name, info.size, info.mode) == (creating.SQLITE_MEMBER, size, 0o600)
