"""``backup verify``: prove an archive restorable by restoring it somewhere harmless.

Two steps, every mismatch of both reported: (1) each member's sha256 against the manifest,
no member missing or added; (2) the database restored into a scratch database (a temporary
SQLite file, or ``lms_verify_<random>`` on the same PostgreSQL server, dropped after), then
each table's row count and checksum compared with the manifest. Step 2 is what a checksum of
bytes cannot prove: that the restore tool reads the dump back into the same rows.
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from lms_core.backups import manifest as mf
from lms_core.backups.create import PG_MEMBER, SQLITE_GZIP_MEMBER, SQLITE_MEMBER, SQLITE_MEMBERS
from lms_core.backups.pgtools import database_url, option, pg_env, require_tool, run_tool
from lms_core.errors import Conflict


class NeedsServer(Conflict):
    """A PostgreSQL backup verified with no PostgreSQL server to restore it on; each front
    door words how to name one (lmsctl: ``--server URL``)."""


@dataclass
class Report:
    path: Path
    manifest: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    members_checked: int = 0
    tables_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ok": self.ok,
            "members_checked": self.members_checked,
            "tables_checked": self.tables_checked,
            "problems": self.problems,
        } | mf.summary(self.manifest)


def layout_problem(info: tarfile.TarInfo, database_member: Any) -> str | None:
    """Why a member cannot be in a backup, or None: only regular files, named
    ``manifest.json``, the database member or ``files/<relative path>`` (no ``..``, not
    absolute, no empty part). A restore checks every member so before it touches anything."""
    name = info.name
    if not info.isfile():
        return f"member {name}: not a regular file (links and devices are refused)"
    if name in (mf.MANIFEST_NAME, database_member):
        return None
    parts = name.split("/")
    if name.startswith("/"):
        return f"member {name}: an absolute path"
    if parts[0] != "files" or len(parts) < 2:
        return f"member {name}: not under files/"
    if any(part in ("", ".", "..") for part in parts[1:]):
        return f"member {name}: points outside files/"
    return None


def check_members(archive: Path, manifest: dict[str, Any]) -> tuple[int, list[str]]:
    """Hash every member, and check its name and type; (members checked, problems)."""
    expected: dict[str, Any] = dict(manifest.get("members", {}))
    problems: list[str] = []
    checked = 0
    seen: set[str] = set()
    with tarfile.open(archive, "r:") as tar:
        for info in tar:
            wrong = layout_problem(info, manifest.get("database_member"))
            if info.name in seen:
                wrong = f"member {info.name}: twice in the archive"
            seen.add(info.name)
            if wrong is not None:
                problems.append(wrong)
                continue
            if info.name == mf.MANIFEST_NAME:
                continue
            want = expected.pop(info.name, None)
            if want is None:
                problems.append(f"member {info.name}: not in the manifest")
                continue
            stream = tar.extractfile(info)
            digest = hashlib.sha256()
            if stream is not None:
                while block := stream.read(1 << 20):
                    digest.update(block)
            checked += 1
            if digest.hexdigest() != want.get("sha256"):
                problems.append(f"member {info.name}: checksum differs from the manifest")
    problems.extend(f"member {name}: missing from the archive" for name in sorted(expected))
    return checked, problems


def extract_database(archive: Path, manifest: dict[str, Any], target: Path) -> None:
    """Write the database member to ``target`` (a SQLite file, decompressed -- zstd, or gzip
    in a format 1 archive -- or the dump). A SQLite copy that decompresses to another size
    than the manifest's is an error (a stream cut short); a zstd copy must have its size said,
    since python-zstandard's reader ends a truncated stream early without an error."""
    name = manifest.get("database_member")
    with tarfile.open(archive, "r:") as tar:
        try:
            stream = tar.extractfile(str(name))
        except KeyError as exc:
            raise Conflict(f"{archive}: no database member {name!r}", field="file") from exc
        if stream is None:
            raise Conflict(f"{archive}: {name} is not a file", field="file")
        with target.open("wb") as out:
            if name == SQLITE_MEMBER:
                reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
                try:
                    with reader:
                        shutil.copyfileobj(reader, out, 4 << 20)
                except zstandard.ZstdError as exc:
                    raise OSError(f"not a readable zstd stream ({exc})") from exc
            elif name == SQLITE_GZIP_MEMBER:
                with gzip.GzipFile(fileobj=stream) as raw:
                    shutil.copyfileobj(raw, out, 4 << 20)
            else:
                shutil.copyfileobj(stream, out, 4 << 20)
            written = out.tell()
    size = (manifest.get("database") or {}).get("size")
    if name == SQLITE_MEMBER and not isinstance(size, int):
        raise OSError("the manifest does not say the copy's size: a cut stream would not show")
    if name in SQLITE_MEMBERS and size is not None and written != size:
        raise OSError(f"the copy decompresses to {written} bytes, the manifest says {size}")


def compare(
    manifest: dict[str, Any], actual: dict[str, mf.TableStat], where: str
) -> tuple[int, list[str]]:
    """Row counts and checksums of ``actual`` against the manifest; (tables, problems)."""
    expected: dict[str, Any] = manifest.get("tables", {})
    problems: list[str] = []
    for name, want in sorted(expected.items()):
        got = actual.get(name)
        if got is None:
            problems.append(f"table {name}: missing from the {where}")
        elif got.rows != want["rows"]:
            problems.append(
                f"table {name}: {got.rows} rows in the {where}, {want['rows']} in the manifest"
            )
        elif got.sha256 != want["sha256"]:
            problems.append(f"table {name}: rows differ from the manifest's checksum")
    problems.extend(
        f"table {name}: in the {where} but not in the manifest"
        for name in sorted(set(actual) - set(expected))
    )
    return len(expected), problems


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """A new empty database ``lms_verify_<random>`` on ``server_url``'s server, dropped after."""
    url = make_url(server_url)
    name = f"lms_verify_{secrets.token_hex(6)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def pg_restore_into(dump: Path, url: str, *, clean: bool) -> None:
    """``pg_restore`` ``dump`` into the database of ``url``, in one transaction."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tool = require_tool("pg_restore", conn)
    finally:
        engine.dispose()
    args = [tool, *map(option, ("no-owner", "single-transaction", "exit-on-error"))]
    if clean:
        args += [option("clean"), option("if-exists")]
    env = pg_env(url)
    run_tool([*args, "-d", env["PGDATABASE"], str(dump)], env, "pg_restore")


def stats_of(url: str, manifest: dict[str, Any]) -> dict[str, mf.TableStat]:
    """The tables of ``url``, checksummed the way ``manifest``'s were."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn, conn.begin():
            return mf.table_stats_by(conn, str(manifest.get("table_checksum", mf.NORMALISED)))
    finally:
        engine.dispose()


def verify_backup(archive: Path, *, server_url: str | None = None) -> Report:
    """Check ``archive`` (members, then a scratch restore); the report names every mismatch.

    ``server_url``: a PostgreSQL server to restore a PostgreSQL backup on (the settings'
    database server); SQLite backups need none.
    """
    manifest = mf.read_manifest(archive)
    report = Report(archive, manifest)
    report.members_checked, report.problems = check_members(archive, manifest)
    member = manifest.get("database_member")
    if member not in (*SQLITE_MEMBERS, PG_MEMBER):
        report.problems.append(f"database member {member!r}: unknown kind")
        return report
    work = Path(tempfile.mkdtemp(prefix="lms-verify-"))
    try:
        if member in SQLITE_MEMBERS:
            db = work / "verify.sqlite3"
            extract_database(archive, manifest, db)
            actual = stats_of(f"sqlite:///{db}", manifest)
        else:
            if server_url is not None:
                server_url = database_url(server_url, "server")
            if server_url is None or make_url(server_url).get_backend_name() != "postgresql":
                raise NeedsServer(
                    "a PostgreSQL backup is verified on a PostgreSQL server: name one, or "
                    "run it from a PostgreSQL site's settings",
                    field="server",
                )
            dump = work / "database.pgdump"
            extract_database(archive, manifest, dump)
            with scratch_postgres(server_url) as scratch:
                pg_restore_into(dump, scratch, clean=False)
                actual = stats_of(scratch, manifest)
        tables, problems = compare(manifest, actual, "restored copy")
        report.tables_checked = tables
        report.problems.extend(problems)
    except (OSError, EOFError, tarfile.TarError, DBAPIError, sqlite3.Error) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        report.problems.append(f"database member {member}: cannot be restored ({reason})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report
