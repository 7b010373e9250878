"""``backup restore FILE --to URL``: put an archive's database and files back, then prove it.

A restore replaces data, so it refuses a target that holds any table (or a files folder that
holds any file) unless ``force`` says the operator means it. The archive's members are
checked before anything is touched; a SQLite file is written beside the target and renamed
onto it (the old one stays until the new one is whole); PostgreSQL gets ``pg_restore --clean
--if-exists`` in one transaction. Afterwards the target's row counts and checksums are
compared with the manifest, exactly as ``verify`` does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from lms_core.backups import manifest as mf
from lms_core.backups.create import PG_MEMBER, SQLITE_MEMBERS
from lms_core.backups.pgtools import database_url
from lms_core.backups.verify import (
    check_members,
    compare,
    extract_database,
    pg_restore_into,
    stats_of,
)
from lms_core.db import sqlite_file
from lms_core.errors import Conflict
from lms_core.private_paths import make_private_dirs


class TargetNotEmpty(Conflict):
    """The target database (``field`` "to") or files folder ("files_dir") holds data: each
    front door words how to confirm the restore (lmsctl: ``--force``, ``--files-dir``)."""


@dataclass
class Restored:
    path: Path
    target: str
    files_dir: Path
    files: int = 0
    tables_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "target": self.target,
            "files_dir": str(self.files_dir),
            "files": self.files,
            "tables_checked": self.tables_checked,
            "ok": self.ok,
            "problems": self.problems,
        }


def _target_tables(url: str) -> list[str] | None:
    """The tables the target holds; None when the database does not exist yet."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return None
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = create_engine(parsed.set(database="postgres"))
        try:
            with admin.connect() as conn:
                found = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
                ).first()
        finally:
            admin.dispose()
        if found is None:
            return None
    engine = create_engine(parsed)
    try:
        with engine.connect() as conn:
            return sorted(inspect(conn).get_table_names())
    except DBAPIError as exc:
        # A file that is not a SQLite database (or a folder): say so, touch nothing.
        reason = str(exc.orig or exc).strip().splitlines()[0]
        what = f"{path} is not a SQLite database" if path is not None else "cannot be read"
        shown = parsed.render_as_string(hide_password=True)
        raise Conflict(
            f"{shown}: {what} ({reason}); restore into a new file or an existing lms database",
            field="to",
            value=shown,
        ) from exc
    finally:
        engine.dispose()


def _create_pg_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def _restore_sqlite(archive: Path, manifest: dict[str, Any], path: Path) -> None:
    make_private_dirs(path.parent)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        extract_database(archive, manifest, tmp)
        for stale in (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
            stale.unlink(missing_ok=True)  # an old WAL would be replayed onto the new file
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _refuse_links(files_dir: Path, names: list[str]) -> None:
    """Refuse, before anything is written, a folder on a member's way that is a link (the
    files would land wherever it points)."""
    checked: set[Path] = set()
    for name in names:
        folder = files_dir
        for part in PurePosixPath(name).parts[1:-1]:
            folder = folder / part
            if folder in checked:
                continue
            checked.add(folder)
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                raise Conflict(
                    f"{folder} is a link or not a folder: the restore would write through it; "
                    "remove it, or restore the files into an empty folder",
                    field="files_dir",
                )


def _open_folder(root: int, parts: tuple[str, ...]) -> int:
    """A descriptor of ``root/parts...``, made 0700 where missing, never through a link."""
    fd = os.dup(root)
    for part in parts:
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o700, dir_fd=fd)
        try:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except OSError as exc:
            raise Conflict(
                f"{part}: a link or not a folder ({exc.strerror})", field="files_dir"
            ) from exc
        finally:
            os.close(fd)
        fd = inner
    return fd


def _restore_files(archive: Path, files_dir: Path) -> int:
    """Extract ``files/...`` members under ``files_dir`` (their names were checked with the
    rest of the archive), each written as a new file: an existing file or link of that name
    is removed first, and neither a link in the folder nor one on the way is followed."""
    make_private_dirs(files_dir)
    count = 0
    root = os.open(files_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with tarfile.open(archive, "r:") as tar:
            for info in tar:
                if not info.name.startswith("files/") or not info.isfile():
                    continue
                *folders, leaf = PurePosixPath(info.name).parts[1:]
                stream = tar.extractfile(info)
                if stream is None:
                    continue
                folder = _open_folder(root, tuple(folders))
                try:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(leaf, dir_fd=folder)
                    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                    fd = os.open(leaf, flags, 0o600, dir_fd=folder)
                finally:
                    os.close(folder)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(stream, out, 1 << 20)
                count += 1
    finally:
        os.close(root)
    return count


def restore_backup(archive: Path, *, to_url: str, files_dir: Path, force: bool = False) -> Restored:
    """Restore ``archive`` into ``to_url`` and ``files_dir``, then compare with its manifest."""
    manifest = mf.read_manifest(archive)
    to_url = database_url(to_url, "to")
    kind = "postgresql" if make_url(to_url).get_backend_name() == "postgresql" else "sqlite"
    member = manifest.get("database_member")
    source_kind = "sqlite" if member in SQLITE_MEMBERS else "postgresql"
    if member not in (*SQLITE_MEMBERS, PG_MEMBER):
        raise Conflict(f"{archive}: unknown database member {member!r}", field="file")
    if kind != source_kind:
        raise Conflict(
            f"{archive} is a {source_kind} backup and cannot be restored into {kind}: restore "
            f"it into a {source_kind} database (moving between kinds is not supported)",
            field="to",
        )
    if kind == "sqlite" and sqlite_file(to_url) is None:
        raise Conflict("restore needs a SQLite file, not an in-memory database", field="to")
    _, bad = check_members(archive, manifest)  # every member's name and type, too
    if bad:
        raise Conflict(f"{archive} is damaged, nothing restored: " + "; ".join(bad), field="file")
    _refuse_links(files_dir, [m for m in manifest.get("members", {}) if m.startswith("files/")])
    tables = _target_tables(to_url)
    if tables and not force:
        shown = make_url(to_url).render_as_string(hide_password=True)
        raise TargetNotEmpty(
            f"{shown} is not empty ({len(tables)} tables): restoring replaces its data; "
            "confirm it (force the restore) if that is what you want",
            field="to",
        )
    if files_dir.is_dir() and any(files_dir.iterdir()) and not force:
        raise TargetNotEmpty(
            f"{files_dir} is not empty: restoring writes the archive's files there; "
            "confirm it (force the restore), or restore the files into an empty folder",
            field="files_dir",
        )
    result = Restored(archive, make_url(to_url).render_as_string(hide_password=True), files_dir)
    if kind == "sqlite":
        path = sqlite_file(to_url)
        assert path is not None  # checked above
        _restore_sqlite(archive, manifest, path)
    else:
        if tables is None:
            _create_pg_database(to_url)
        work = Path(tempfile.mkdtemp(prefix="lms-restore-"))
        try:
            dump = work / PG_MEMBER
            extract_database(archive, manifest, dump)
            pg_restore_into(dump, to_url, clean=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    result.files = _restore_files(archive, files_dir)
    result.tables_checked, result.problems = compare(manifest, stats_of(to_url, manifest), "target")
    return result
