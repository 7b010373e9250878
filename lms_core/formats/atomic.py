"""Writing a file whole or not at all: the one way every export, plan, PDF and upload is written.

A temporary file in the target's own folder (a rename across file systems is not atomic),
flushed and fsynced, renamed onto the target with ``os.replace``, then the folder fsynced (a
rename is durable only once its folder is). A writer that fails, or is interrupted, leaves the
old file untouched, or no file, and no temporary file behind. A script that reads the target
therefore never sees half of it, and a crash after a commit never loses a file a row names.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO, cast

#: Temporary files are named ``.<target name>.<random>.tmp``: hidden, beside the target, and
#: recognisable by a sweep (``*.tmp``) after a crash.
TMP_SUFFIX = ".tmp"


def fsync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (a rename is only safe once its folder is synced)."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


class AtomicFile:
    """A file being written beside ``path``: :meth:`commit` puts it in place, :meth:`discard`
    drops it.

    For writers whose decision comes later than their last write (an import's invitation
    links are kept only if the import commits); everyone else uses :func:`atomic_text` or
    :func:`atomic_binary`. ``private`` files (links with tokens, plans, rows of personal data)
    are created readable by their owner only; others get the usual mode (0666 less the umask),
    as ``open`` would. ``sync_folder=False`` leaves the folder's fsync to a batch writer, which
    calls :func:`fsync_folder` once before committing the rows that name the files.
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
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            self.tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TMP_SUFFIX}")
            try:
                fd = os.open(
                    self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666
                )
            except FileExistsError:  # pragma: no cover - 1 in 4 billion
                continue
            break
        try:
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
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        self.done = True
        if self.sync_folder:
            fsync_folder(self.path.parent)

    def discard(self) -> None:
        """Close and delete the temporary file; the target stays as it was."""
        if self.done:
            return
        self.done = True
        try:
            self.stream.close()
        finally:
            self.tmp.unlink(missing_ok=True)


@contextmanager
def _atomic(file: AtomicFile) -> Iterator[IO[Any]]:
    try:
        yield file.stream
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
