"""Refuse zip archives (XLSX workbooks, OneRoster bundles) that would harm us when opened.

An XLSX file is a zip of XML files. A 600 KB upload can expand to gigabytes of zeros (a "zip
bomb") and take the server's memory or disk with it, and a member named ``../../etc/x`` can
escape a folder when extracted. We read the central directory (cheap, nothing is expanded)
and refuse before any reader touches the members. The sizes it declares can lie, so
:func:`open_member` also counts the bytes actually expanded and stops at the declared size.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from lms_core.errors import FileProblem, FileRefused

MB = 1024 * 1024

#: What reading a damaged file or zip member raises (a bad CRC, cut-off deflate data).
READ_ERRORS: tuple[type[Exception], ...] = (OSError, EOFError, zipfile.BadZipFile, zlib.error)


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """What a legitimate upload never exceeds; settable for tests and big districts."""

    #: Sum of the members' expanded sizes.
    max_total: int = 500 * MB
    #: Expanded / compressed size of one member; XML compresses ~10-20:1, zeros 1000:1.
    max_ratio: float = 100.0
    #: The ratio is only checked for members bigger than this (tiny files compress oddly).
    ratio_from: int = 1 * MB
    max_members: int = 10_000


DEFAULT_LIMITS = ArchiveLimits()


def is_zip(path: Path) -> bool:
    """True when the file starts with a zip signature (an XLSX, whatever its extension)."""
    with path.open("rb") as f:
        return f.read(4) in (b"PK\x03\x04", b"PK\x05\x06")


def check_archive(
    source: Path | BinaryIO,
    *,
    display: str,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    unreadable: str = (
        "the file is not a readable zip archive: it is damaged or cut short, or not a zip"
    ),
) -> list[zipfile.ZipInfo]:
    """Return the archive's members, or raise FileRefused saying why it is refused.

    ``unreadable`` is what to say when it is no zip at all (a workbook's reader says it is
    no workbook); zipfile's own words ("File is not a zip file") add nothing to it.
    """
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise _refused(display, unreadable) from None
    if len(members) > limits.max_members:
        raise _refused(
            display,
            f"refused: the archive holds {len(members):,} files (limit {limits.max_members:,})",
        )
    total = 0
    seen: set[str] = set()
    for info in members:
        name = info.filename
        pure = PurePosixPath(name.replace("\\", "/"))
        # Two members of one name (zip part names are compared ignoring case, as Excel does):
        # readers disagree on which one counts, so what a person previews would not be what
        # is imported.
        key = str(pure).casefold()
        if key in seen:
            raise _refused(
                display, f'refused: the archive holds two files named "{name}"; it is damaged'
            )
        seen.add(key)
        if pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":"):
            raise _refused(
                display, f'refused: the archive holds a file with an unsafe path "{name}"'
            )
        total += info.file_size
        if info.file_size > limits.ratio_from:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise _refused(
                    display,
                    f'refused: "{name}" would expand {ratio:,.0f} times '
                    f"({_size(info.compress_size)} to {_size(info.file_size)}, limit "
                    f"{limits.max_ratio:,.0f}:1); the file may be a zip bomb",
                )
    if total > limits.max_total:
        raise _refused(
            display,
            f"refused: the archive would expand to {_size(total)} (limit "
            f"{_size(limits.max_total)}); it may be a zip bomb",
        )
    return members


def open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    """Open a member for reading, never expanding more than the size it declared.

    zipfile itself raises ``BadZipFile`` when a member's data runs past its declared size
    (it reads at most ``file_size`` bytes and checks the CRC), so a lying header cannot make
    us expand more than :func:`check_archive` allowed.
    """
    return archive.open(info)


def _size(n: int) -> str:
    if n >= 1024 * MB:
        return f"{n / (1024 * MB):.1f} GB"
    if n >= MB:
        return f"{n / MB:.0f} MB"
    return f"{n / 1024:.0f} KB"


def _refused(display: str, message: str) -> FileRefused:
    return FileRefused([FileProblem(message, file=display)])
