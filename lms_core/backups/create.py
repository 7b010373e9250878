"""``backup create``: one consistent snapshot of the database, plus the files, in one archive.

SQLite is copied with the online backup API in one read transaction (under WAL, writers go
on writing and the copy is the database as of one commit), zstd-compressed while it is
being copied (:mod:`lms_core.backups.sqlite_stream`), made a plain rollback-journal file,
and its tables checksummed while the last frames compress
(:mod:`lms_core.backups.sqlite_snapshot`; archives of format 1 held it gzip-compressed, and
still verify and restore). PostgreSQL is dumped with ``pg_dump -Fc`` (compressed
already) inside an exported snapshot, and the per-table checksums are taken in that same
snapshot, so the manifest describes exactly the rows the dump holds.

The archive is a plain tar (``lms-backup-<UTC>-<kind>.tar``; the nightly job's is named
after its slot and key, see :func:`job_archive_path`) written through
:class:`AtomicFile`, 0600, in a 0700 folder: a crash leaves no half archive, and the copy of
every password hash and upload is not readable by the machine's other accounts.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from lms_core.backups import manifest as mf
from lms_core.backups import scratch
from lms_core.backups.pgtools import option, pg_env, require_tool
from lms_core.backups.sqlite_snapshot import ZSTD_LEVEL, compression_name
from lms_core.backups.sqlite_stream import copy_and_pack
from lms_core.db import make_engine, sqlite_file
from lms_core.errors import Conflict
from lms_core.formats.atomic import AtomicFile
from lms_core.private_paths import WEB_IMPORTS_FOLDER, make_private_dirs
from lms_core.settings import Settings

#: Where backups go without ``-o``, unless LMS_BACKUP_DIR says otherwise.
DEFAULT_BACKUP_DIR = Path("var/backups")
SQLITE_MEMBER = "database.sqlite3.zst"
#: The SQLite member of format 1 archives: gzip (a series of members, one per core).
SQLITE_GZIP_MEMBER = "database.sqlite3.gz"
SQLITE_MEMBERS = (SQLITE_MEMBER, SQLITE_GZIP_MEMBER)
PG_MEMBER = "database.pgdump"
#: What tar copies a member in (its default, 16 KiB, was two thousand writes a backup).
_COPY_BUFFER = 1 << 20
#: ``pg_dump --compress`` (zlib level; pg_dump's default is 6).
PG_DUMP_LEVEL = 1

#: ``progress(stage, done, total)``: stage names for a bar; total None when unknown.
Progress = Callable[[str, int, int | None], None]


def _no_progress(_stage: str, _done: int, _total: int | None) -> None:
    return None


def configured_backup_dir(settings: Settings) -> Path | None:
    """The folder the settings name (``backup_dir`` or LMS_BACKUP_DIR), None if unset."""
    return settings.backup_dir


def backup_dir(settings: Settings, given: Path | None = None) -> Path:
    return given or configured_backup_dir(settings) or DEFAULT_BACKUP_DIR


def database_kind(url: str) -> str:
    return "postgresql" if make_url(url).get_backend_name() == "postgresql" else "sqlite"


@dataclass(frozen=True)
class Created:
    path: Path
    manifest: dict[str, Any]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "seconds": round(self.seconds, 3)} | mf.summary(
            self.manifest
        )


class _Hashing:
    """A reader that hashes what tarfile copies out of it (each file read once)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.digest.update(data)
        return data


def _archive_base(stamp: datetime, kind: str) -> str:
    return f"{mf.ARCHIVE_PREFIX}{stamp:%Y%m%dT%H%M%SZ}-{kind}"


def _job_stamp(key: str, now: datetime) -> datetime:
    """The slot a scheduled job's key names (``schedule:backup:2026-12-06T02:30``), else now."""
    found = re.search(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})$", key)
    if found is None:
        return now
    return datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)


def key_suffix(key: str) -> str:
    """What names a job's archive after its key: 8 hex digits of the key's sha256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def job_archive_path(folder: Path, key: str, kind: str, now: datetime) -> Path:
    """The one name a job's archive has: ``lms-backup-<slot UTC>-<kind>-<keyhash8>.tar``.

    Derived from the key, so a second run of the same job (a worker killed after the rename)
    finds the first archive instead of writing another; the atomic rename makes it once.
    """
    stamp = _job_stamp(key, now)
    return folder / f"{mf.ARCHIVE_PREFIX}{stamp:%Y%m%dT%H%M%SZ}-{kind}-{key_suffix(key)}.tar"


def _sqlite_source(settings: Settings) -> Path:
    source = sqlite_file(settings.database_url)
    if source is None or not source.exists():
        raise FileNotFoundError(f"SQLite database {source or settings.database_url} not found")
    return source


def _files(root: Path, skip: Path) -> Iterator[tuple[Path, str]]:
    """Regular files under ``root`` (not links, not the backup folder), sorted."""
    if not root.is_dir():
        return
    skip_real = os.path.realpath(skip)
    staging = os.path.realpath(root / WEB_IMPORTS_FOLDER)
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs if os.path.realpath(Path(folder, d)) not in (skip_real, staging)
        )
        for name in sorted(names):
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                yield path, "files/" + path.relative_to(root).as_posix()


def create_backup(
    settings: Settings,
    *,
    out_dir: Path | None = None,
    progress: Progress | None = None,
    job_key: str | None = None,
) -> Created:
    """Write one archive of the database and the files folder; the archive written."""
    from lms_core import __version__

    tick = progress or _no_progress
    started = time.perf_counter()
    now = datetime.now(UTC)
    kind = database_kind(settings.database_url)
    folder = backup_dir(settings, out_dir)
    make_private_dirs(folder)
    scratch.sweep(folder)
    mark: Path | None = None  # the name's reservation, deleted once the archive is in place
    if job_key is not None:
        path = job_archive_path(folder, job_key, kind, now)
    else:
        path, mark = scratch.reserve(folder, _archive_base(now, kind))
    work: Path | None = None
    out: AtomicFile | None = None
    # Deleting the copy drops its pages from the page cache (tens of ms for a 137 MB file):
    # done while the archive is finished and fsynced, waited for before returning.
    removing: threading.Thread | None = None
    try:
        work = Path(tempfile.mkdtemp(prefix=scratch.SCRATCH_PREFIX, dir=folder))
        out = AtomicFile(path, "wb", private=True)
        info: dict[str, Any] = {"kind": kind}
        written: dict[str, dict[str, Any]] = {}
        entries: list[tuple[Path, str]] = []
        if kind == "sqlite":
            source, copy = _sqlite_source(settings), work / "database.sqlite3"
            # The first member's data is the compressed copy, written as zstd makes it
            # (most of it while the copy is still being made); its header goes in once
            # its size is known.
            start = _begin_member(out.stream)
            packed = copy_and_pack(
                source,
                copy,
                out.stream,
                tick,
                busy_timeout=settings.sqlite_busy_timeout_ms / 1000,
            )
            _end_member(out.stream, start, SQLITE_MEMBER, packed.size)
            removing = threading.Thread(target=copy.unlink, kwargs={"missing_ok": True})
            removing.start()
            member = SQLITE_MEMBER
            written[member] = {"size": packed.size, "sha256": packed.sha256}
            tables, revision, identity = packed.tables, packed.revision, packed.identity
            info["size"] = packed.database_size  # what decompressing must give back
        else:
            member = PG_MEMBER
            entries.append((work / PG_MEMBER, member))
            tables, revision, identity, info = _dump_postgres(settings, work / member, tick)
        method = info.pop("table_checksum", mf.SQLITE_PAGES)
        manifest: dict[str, Any] = {
            "format": "lms-backup",
            "format_version": mf.FORMAT_VERSION,
            "created_at": now.isoformat().replace("+00:00", "Z"),
            "tool_version": __version__,
            "database": info,
            "database_member": member,
            "compression": (
                compression_name(ZSTD_LEVEL)
                if kind == "sqlite"
                else f"pg_dump-custom-{PG_DUMP_LEVEL}"
            ),
            "alembic_revision": revision,
            "database_identity": identity,
            "job_key": job_key,
            "table_checksum": method,
            "tables": {name: stat.as_dict() for name, stat in tables.items()},
            "members": written,
        }
        entries += _files(Path(settings.files_dir), folder)
        _write_archive(out, manifest, entries, tick)
    except BaseException:
        if out is not None:
            out.discard()
        raise
    finally:
        if removing is not None:
            removing.join()
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        if mark is not None:
            mark.unlink(missing_ok=True)
    return Created(path, manifest, time.perf_counter() - started)


def _begin_member(stream: IO[bytes]) -> int:
    """Room for a member's header (written by :func:`_end_member`); where it starts."""
    start = stream.tell()
    stream.write(bytes(tarfile.BLOCKSIZE))
    return start


def _end_member(stream: IO[bytes], start: int, name: str, size: int) -> None:
    """Pad the member's data to a whole block, then write its header at ``start``: one
    512-byte block (GNU form: a size of 8 GiB or more is written in base 256, not in a
    header of its own as the PAX form would)."""
    stream.write(bytes(-size % tarfile.BLOCKSIZE))
    end = stream.tell()
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o600
    header = info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
    if len(header) != tarfile.BLOCKSIZE:
        raise ValueError(f"member {name}: a header of {len(header)} bytes")
    stream.seek(start)
    stream.write(header)
    stream.seek(end)


def _dump_postgres(
    settings: Settings, target: Path, tick: Progress
) -> tuple[dict[str, mf.TableStat], str | None, str | None, dict[str, Any]]:
    """``pg_dump -Fc`` in an exported snapshot, checksums taken in the same snapshot meanwhile."""
    import subprocess

    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                tool = require_tool("pg_dump", conn)
                method = mf.fast_method("postgresql", mf.pg_server_version(conn))
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                env = pg_env(engine.url)
                tick("dumping database", 0, None)
                args = [
                    tool,
                    "-Fc",
                    option("no-owner"),
                    # Level 1 like the SQLite copy's: a dump a tenth larger for a third of
                    # pg_dump's CPU, which the checksums beside it need on a small machine.
                    option("compress", str(PG_DUMP_LEVEL)),
                    option("snapshot", snapshot),
                    "-f",
                    str(target),
                ]
                child = subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
                    args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
                )
                try:
                    tick("checksumming tables", 0, None)
                    stats = mf.table_stats_by(conn, method)
                    revision, identity = mf.alembic_revision(conn), mf.database_identity(conn)
                finally:
                    _out, err = child.communicate()
                if child.returncode != 0:
                    raise Conflict(
                        f"pg_dump failed (exit {child.returncode}): {err.strip()}",
                        field="database_url",
                    )
                server = conn.execute(text("SHOW server_version")).scalar_one()
        info = {
            "kind": "postgresql",
            "server_version": server,
            "name": engine.url.database,
            "table_checksum": method,  # the caller moves it to the manifest's top level
        }
        return stats, revision, identity, info
    finally:
        engine.dispose()


def _write_archive(
    out: AtomicFile,
    manifest: dict[str, Any],
    entries: list[tuple[Path, str]],
    tick: Progress,
) -> None:
    """Append ``entries`` (source, member name) and the manifest to ``out``, then put it in
    place (the SQLite copy is in it already).

    A file of the files folder deleted between the listing and its turn (a user removed an
    upload meanwhile) is left out and named in the manifest's ``vanished``: it was not there
    to back up, and one deletion must not cost the night's backup. The database member
    vanishing is a failure.
    """
    members: dict[str, dict[str, Any]] = manifest["members"]
    vanished: list[str] = []
    tick("archiving", 0, len(entries))
    try:
        # Not the stream mode ("w|"): that re-buffers every write in 10 KiB records. It
        # starts where the stream is (after the SQLite copy's member).
        with tarfile.TarFile(
            fileobj=out.stream, mode="w", format=tarfile.PAX_FORMAT, copybufsize=_COPY_BUFFER
        ) as tar:
            for n, (source, name) in enumerate(entries, 1):
                try:
                    raw = source.open("rb")
                except FileNotFoundError:
                    if not name.startswith("files/"):
                        raise
                    vanished.append(name)
                    continue
                with raw:
                    stat = os.fstat(raw.fileno())
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
                    reader = _Hashing(raw)
                    tar.addfile(info, reader)
                members[name] = {"size": info.size, "sha256": reader.digest.hexdigest()}
                tick("archiving", n, len(entries))
            manifest["vanished"] = vanished
            body = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
            info = tarfile.TarInfo(mf.MANIFEST_NAME)
            info.size, info.mtime, info.mode = len(body), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(body))
        out.commit()
    except BaseException:
        out.discard()
        raise
