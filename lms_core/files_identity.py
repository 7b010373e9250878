"""Whose files folder is this? The stamp that keeps two databases out of one folder.

Certificate PDFs and uploads live under ``settings.files_dir``; the database says which of
them exist. Two databases pointed at one folder (the default ``var/files`` of two checkouts,
a test database beside the real one) each see the other's PDFs as orphans and delete them.
So the folder is stamped, in ``.lms-database``, with the identity of the database that uses
it (a random UUID kept in that database, ``models.DatabaseIdentity``), and every code path
that writes or deletes under the folder calls :func:`claim_files_dir` first: a folder
stamped by another database is refused before anything is touched; an unstamped one is
stamped. The stamp also names the database URL (without its password) for a person looking
at the folder; only the identity is compared, since one database has many URLs.

The stamp is read on every claim (a few bytes): a changed stamp is seen at once. It is
created with a hard link from a whole temporary file, so a reader never sees half of one
and of two databases stamping a new folder at the same moment exactly one wins. Only a
regular file is read as a stamp (never through a symbolic link, never waiting on a FIFO):
anything else at its name is refused like a stamp of someone else's.

The identity is only ever read here, never made: the migration gives every database its
row, in the same transaction as the table. Making it on first use would need a write in the
middle of the caller's transaction (every caller already holds SQLite's write lock, so a
second session would wait for its own process) and a stamp written before that transaction
commits; a database without the row is refused instead (:func:`database_identity`).
"""

from __future__ import annotations

import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from lms_core.errors import Conflict, Hint, HintCode
from lms_core.formats.atomic import AtomicFile, fsync_folder
from lms_core.models.identity import IDENTITY_ROW, DatabaseIdentity
from lms_core.private_paths import make_private_dirs
from lms_core.settings import Settings

#: The stamp's file name, in the files folder itself (hidden: not one of the files).
STAMP_NAME = ".lms-database"
#: The stamp is a few lines; anything bigger is not one of ours.
_MAX_STAMP_BYTES = 4096


@dataclass(frozen=True)
class Stamp:
    """What a files folder's stamp says: the owning database's identity and, for people, URL."""

    identity: str
    database: str


def stamp_path(files_dir: Path) -> Path:
    return files_dir / STAMP_NAME


def safe_database_url(bind: Engine | Connection) -> str:
    """The URL of the database behind ``bind``, password hidden."""
    engine = bind if isinstance(bind, Engine) else bind.engine
    return make_url(engine.url).render_as_string(hide_password=True)


class _NotRegular(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def _read_regular(path: Path) -> bytes:
    """At most ``_MAX_STAMP_BYTES + 1`` bytes of ``path`` if it is a regular file.

    Opened without following a symbolic link and without blocking (a FIFO planted at the
    stamp's name would hang every claim: opened for reading it waits for a writer), then
    checked on the open descriptor; anything but a regular file raises :class:`_NotRegular`.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        # ELOOP: the name is a symbolic link (O_NOFOLLOW); lstat says so (a dangling one too).
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            raise exc from None
        if stat.S_ISLNK(mode):
            raise _NotRegular(_kind(mode)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _NotRegular(_kind(mode))
        chunks: list[bytes] = []
        size = 0
        while size <= _MAX_STAMP_BYTES:
            chunk = os.read(fd, _MAX_STAMP_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_stamp(files_dir: Path) -> Stamp | None:
    """The folder's stamp, or None when it has none; a stamp that is not ours is a Conflict."""
    path = stamp_path(files_dir)
    try:
        raw = _read_regular(path)
    except (FileNotFoundError, NotADirectoryError):
        return None  # no stamp, or no folder (whoever makes it says why it cannot)
    except _NotRegular as exc:
        raise Conflict(
            f"{path} is not a stamp this toolkit wrote ({exc.kind}, not a regular file); the "
            f"files folder {files_dir} may belong to something else: set LMS_FILES_DIR to a "
            "folder of its own for this database (or remove it, if it is nothing)",
            field="files_dir",
            value=str(files_dir),
        ) from None
    except OSError as exc:
        raise Conflict(
            f"cannot read the files folder's stamp {path}: {exc.strerror or exc}",
            field="files_dir",
            value=str(files_dir),
        ) from exc
    values: dict[str, str] = {}
    if len(raw) <= _MAX_STAMP_BYTES:
        for line in raw.decode("utf-8", errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    identity = values.get("identity", "")
    try:
        uuid.UUID(identity)
    except ValueError:
        raise Conflict(
            f"{path} is not a stamp this toolkit wrote (no identity line); the files folder "
            f"{files_dir} may belong to something else: set LMS_FILES_DIR to a folder of its "
            "own for this database",
            field="files_dir",
            value=str(files_dir),
        ) from None
    return Stamp(identity=identity, database=values.get("database", "unknown"))


def stored_identity(session: Session) -> str | None:
    """This database's identity, or None when it has none yet (read only)."""
    return session.scalar(
        select(DatabaseIdentity.identity).where(DatabaseIdentity.id == IDENTITY_ROW)
    )


def database_identity(session: Session) -> str:
    """This database's identity; a Conflict when it has none (read only).

    The migration that made the table inserted the row in the same transaction, so only a
    schema not made by the migrations (``create_all``) or a row deleted by hand lacks it.
    Such a database owns no stamp, and is refused rather than given a new identity here
    (see the module doc): nothing under the files folder is touched.
    """
    found = stored_identity(session)
    if found is None:
        raise Conflict(
            f"database {safe_database_url(session.get_bind())} has no identity (the "
            "database_identity table is empty), so it cannot claim a files folder: it was not "
            "made by the migrations, or the row was deleted; upgrade it with the migrations "
            "(a deleted row: restore it from a backup, or insert the identity its files "
            f"folder's {STAMP_NAME} names)",
            field="database_url",
            value=None,
            hint=Hint(HintCode.run_migrations),
        )
    return found


def _foreign(files_dir: Path, stamp: Stamp, database: str | None) -> Conflict:
    remove = stamp_path(files_dir)
    if database is not None and stamp.database == database:
        # Same URL, other identity: this database was most likely made again, or downgraded
        # past the identity and upgraded (a new identity each time): the folder is its own.
        return Conflict(
            f"files folder {files_dir} is stamped for another identity ({stamp.identity}) of "
            f"this same database URL ({database}): it looks like this database was re-created, "
            "or downgraded and upgraded again, which gives it a new identity; if the folder "
            f"really holds this database's files, remove {remove} (the next command stamps it "
            "again), else set LMS_FILES_DIR to a folder of its own for this database",
            field="files_dir",
            value=str(files_dir),
        )
    return Conflict(
        f"files folder {files_dir} belongs to another database (identity {stamp.identity}, "
        f"{stamp.database}); set LMS_FILES_DIR to a folder of its own for this database "
        f"(if the folder really is this database's, e.g. the database was made again, "
        f"remove {remove})",
        field="files_dir",
        value=str(files_dir),
    )


def check_stamp(files_dir: Path, identity: str | None, database: str | None = None) -> Stamp | None:
    """The folder's stamp if it names ``identity`` (None: no stamp yet); a Conflict if it names
    another database (``identity`` None: a database without one, so any stamp is another's).
    ``database``, this database's URL (no password), words the refusal of a stamp naming it."""
    stamp = read_stamp(files_dir)
    if stamp is not None and stamp.identity != identity:
        raise _foreign(files_dir, stamp, database)
    return stamp


def write_stamp(files_dir: Path, identity: str, database: str) -> None:
    """Stamp the folder for ``identity`` unless it is stamped already (then check that stamp).

    The content goes to a whole, fsynced private temporary file which is then hard-linked
    to the stamp's name: a link never replaces an existing file, so of two databases
    stamping at once the second finds the first's stamp and is refused.
    """
    make_private_dirs(files_dir)
    path = stamp_path(files_dir)
    text = (
        "# The files folder of one LMS database; only that database may write or delete here.\n"
        "# Another database needs a folder of its own (LMS_FILES_DIR).\n"
        f"identity: {identity}\n"
        f"database: {database}\n"
    )
    tmp = AtomicFile(path, "w", private=True)
    try:
        tmp.stream.write(text)
        tmp.stream.flush()
        os.fsync(tmp.stream.fileno())
        tmp.stream.close()
        try:
            os.link(tmp.tmp, path)
        except FileExistsError:
            pass  # stamped meanwhile: checked below
        else:
            fsync_folder(files_dir)
    finally:
        tmp.discard()
    check_stamp(files_dir, identity, database)


def claim_files_dir(session: Session, settings: Settings, *, stamp: bool = True) -> None:
    """Refuse (Conflict, field ``files_dir``) a files folder stamped by another database;
    stamp an unstamped one (not when ``stamp`` is False: a dry run checks, never writes).

    Call it before writing or deleting anything under ``settings.files_dir``. It only reads
    the database (a unit of work with ``write=False`` will do); a database without an
    identity is refused (:func:`database_identity`).
    """
    files_dir = settings.files_dir
    identity = database_identity(session)
    database = safe_database_url(session.get_bind())
    if check_stamp(files_dir, identity, database) is None and stamp:
        write_stamp(files_dir, identity, database)
