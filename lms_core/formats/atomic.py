"""Writing a file whole or not at all: the one way every export, plan, PDF and upload is written.

A temporary file in the target's own folder (a rename across file systems is not atomic),
flushed and fsynced, renamed onto the target with ``os.replace``, then the folder fsynced (a
rename is durable only once its folder is). A writer that fails, or is interrupted, leaves the
old file untouched, or no file, and no temporary file behind. A script that reads the target
therefore never sees half of it, and a crash after a commit never loses a file a row names.

A rename replaces whatever has the target's name, so the target is first made what a plain
``open(path, "w")`` would write: a symbolic link is followed (the file it points to is
replaced, the link kept), an existing file keeps its permissions, and anything that is not a
regular file (a folder, a device such as ``/dev/stdout``, a pipe, a socket) is refused rather
than replaced. Every error names the path the caller gave, never the temporary file.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO, cast

#: Temporary files are named ``.<target name>.<random>.tmp``: hidden, beside the target, and
#: recognisable by a sweep (``*.tmp``) after a crash.
TMP_SUFFIX = ".tmp"
#: The errors of a write itself (a full disk or quota, a file too big, a failing disk): raised
#: by the writer's stream without a file name, they are given the target's.
_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def fsync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (a rename is only safe once its folder is synced)."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _named(exc: OSError, path: Path, doing: str = "") -> OSError:
    """``exc`` told about ``path`` (what the caller gave) instead of a temporary file: the
    user named the one and has never heard of the other."""
    reason = exc.strerror or str(exc)
    return OSError(exc.errno, f"{reason} ({doing})" if doing else reason, str(path))


def _existing(path: Path) -> os.stat_result | None:
    """What ``path`` is now (links followed), or None if nothing is there; refuses what a
    rename must not replace."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None  # nothing there, or a link to nothing: the write creates its target
    except NotADirectoryError as exc:
        raise _not_a_folder(path) from exc
    except OSError as exc:
        raise _named(exc, path) from exc
    if stat.S_ISDIR(found.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a folder, not a file", str(path))
    if not stat.S_ISREG(found.st_mode):
        raise OSError(
            errno.EINVAL, "Refusing to replace a device, pipe or socket (not a file)", str(path)
        )
    return found


def _not_a_folder(path: Path) -> OSError:
    """The error for a target whose folder is in fact a file (``report.csv/out.csv``)."""
    blocker = next((p for p in path.parents if os.path.exists(p)), path.parent)
    return NotADirectoryError(errno.ENOTDIR, f"{blocker} is a file, not a folder", str(path))


class AtomicFile:
    """A file being written beside ``path``: :meth:`commit` puts it in place, :meth:`discard`
    drops it.

    For writers whose decision comes later than their last write (an import's invitation
    links are kept only if the import commits); everyone else uses :func:`atomic_text` or
    :func:`atomic_binary`. ``private`` files (links with tokens, plans, rows of personal data)
    are created readable by their owner only; others get the usual mode (0666 less the umask),
    as ``open`` would, or the mode of the file they replace. ``sync_folder=False`` leaves the
    folder's fsync to a batch writer, which calls :func:`fsync_folder` once before committing
    the rows that name the files.
    """

    def __init__(
        self,
        path: Path,
        mode: str = "wb",
        *,
        encoding: str = "utf-8",
        newline: str | None = "",
        private: bool = False,
        sync_folder: bool = True,
    ) -> None:
        if mode not in ("w", "wb"):
            raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
        self.path = path
        self.sync_folder = sync_folder
        existing = _existing(path)
        #: Where the file goes: the file a symbolic link points to, so the link stays a link.
        self.target = Path(os.path.realpath(path))
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise _not_a_folder(path) from exc
        except OSError as exc:
            raise _named(exc, path, "creating its folder") from exc
        while True:
            name = f".{self.target.name}.{secrets.token_hex(4)}{TMP_SUFFIX}"
            self.tmp = self.target.with_name(name)
            try:
                fd = os.open(
                    self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666
                )
            except FileExistsError:  # pragma: no cover - 1 in 4 billion
                continue
            except OSError as exc:
                raise _named(exc, path, "creating a file in its folder") from exc
            break
        try:
            if existing is not None and not private:
                os.fchmod(fd, stat.S_IMODE(existing.st_mode) & 0o777)
            if mode == "w":
                self.stream: IO[Any] = open(fd, "w", encoding=encoding, newline=newline)  # noqa: SIM115 - closed by commit/discard
            else:
                self.stream = open(fd, "wb")  # noqa: SIM115 - closed by commit/discard
        except BaseException:
            os.close(fd)
            self.tmp.unlink(missing_ok=True)
            raise
        self.done = False

    def commit(self) -> None:
        """Flush, fsync and rename onto the target; then fsync its folder (unless told not to)."""
        if self.done:
            return
        try:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(self.tmp, self.target)
        except OSError as exc:
            self.discard()
            raise _named(exc, self.path) from exc
        except BaseException:
            self.discard()
            raise
        self.done = True
        if self.sync_folder:
            fsync_folder(self.target.parent)

    def discard(self) -> None:
        """Close and delete the temporary file; the target stays as it was."""
        if self.done:
            return
        self.done = True
        try:
            with suppress(OSError):  # a failed flush of a file that is being thrown away
                self.stream.close()
        finally:
            self.tmp.unlink(missing_ok=True)


@contextmanager
def _atomic(file: AtomicFile) -> Iterator[IO[Any]]:
    try:
        yield file.stream
    except OSError as exc:
        file.discard()
        if exc.filename is None and exc.errno in _WRITE_ERRORS:
            raise _named(exc, file.path) from exc  # our stream's write: name its file
        raise
    except BaseException:
        file.discard()
        raise
    file.commit()


@contextmanager
def atomic_text(
    path: Path,
    *,
    encoding: str = "utf-8",
    newline: str | None = "",
    private: bool = False,
    sync_folder: bool = True,
) -> Iterator[TextIO]:
    """A text stream whose content replaces ``path`` when the block completes, and only then.

    ``newline=""`` by default, as the csv module wants.
    """
    file = AtomicFile(
        path, "w", encoding=encoding, newline=newline, private=private, sync_folder=sync_folder
    )
    with _atomic(file) as stream:
        yield cast(TextIO, stream)


@contextmanager
def atomic_binary(
    path: Path, *, private: bool = False, sync_folder: bool = True
) -> Iterator[BinaryIO]:
    """A binary stream whose content replaces ``path`` when the block completes, and only then."""
    file = AtomicFile(path, "wb", private=private, sync_folder=sync_folder)
    with _atomic(file) as stream:
        yield cast(BinaryIO, stream)


def write_bytes(path: Path, data: bytes, *, sync_folder: bool = True) -> None:
    """``path.write_bytes(data)``, whole or not at all."""
    with atomic_binary(path, sync_folder=sync_folder) as stream:
        stream.write(data)
