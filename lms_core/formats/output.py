"""The one policy for the files we write: which format a file name asks for, and how a CSV
file is encoded.

**Format.** A command that writes a file takes its format from the file name's suffix
(``grades.xlsx`` is XLSX, ``grades.csv`` CSV, ``grades.json`` JSON): :func:`output_format`.
A suffix the command cannot write (``-o grades.pdf``), or one that contradicts ``--format``
(``--format csv -o grades.xlsx``), is refused with :class:`~lms_core.errors.UsageError`
before any work is done or any file is opened. A name without a suffix takes ``--format``, or
the command's default.

**CSV encoding.** Every CSV *file* we write (exports, templates, the gradebook,
``--errors-out``, ``--invites-out`` and ``users invite -o``, the manifest of a certificates zip,
question tables) is UTF-8 with a byte-order mark, so that Excel opens "José" as "José" and not as
"JosÃ©"; every importer of ours reads the BOM. A *stream* (standard output, a pipe) gets no
BOM: a script reading it wants plain UTF-8. Rows end in CRLF (RFC 4180). Cells are made
formula-safe by the writers (:func:`lms_core.formats.safe_cells.safe_cell`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO, Final, TextIO

from lms_core.errors import UsageError
from lms_core.formats.atomic import AtomicFile, atomic_text

#: How every CSV file is encoded: UTF-8 with a BOM (Excel needs the BOM to read UTF-8). The
#: BOM is written as a character, then the text as plain UTF-8: Python's "utf-8-sig" codec
#: encodes in Python, one call per row, where "utf-8" encodes in C.
CSV_ENCODING: Final = "utf-8-sig"
BOM: Final = "\ufeff"
#: How a CSV stream (standard output) is encoded: plain UTF-8, no BOM.
CSV_STREAM_ENCODING: Final = "utf-8"
#: Line end of every CSV row we write.
CSV_LINE_END: Final = "\r\n"

#: The formats a file suffix stands for (the first is the one taken when --format is not given).
SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    ".csv": ("csv",),
    ".xlsx": ("xlsx",),
    ".json": ("json",),
    ".gift": ("gift",),
    ".txt": ("gift", "aiken"),
    ".zip": ("zip",),
    ".pdf": ("pdf",),
}


def _suffix_names(supported: Sequence[str]) -> str:
    found = [s for s, formats in SUFFIXES.items() if any(f in supported for f in formats)]
    return ", ".join(found[:-1]) + (" or " if len(found) > 1 else "") + found[-1]


def output_format(
    path: Path | None,
    supported: Sequence[str],
    fmt: str | None = None,
    *,
    default: str | None = None,
    field: str = "output",
) -> str:
    """The format to write ``path`` in: its suffix's, checked against ``fmt`` and ``supported``.

    ``path`` None (standard output): ``fmt``, else ``default``, else the first supported.
    Raises :class:`UsageError` (field ``field``) for a suffix the command cannot write, and
    for a ``fmt`` the suffix contradicts; ``field`` is ``format`` for an unsupported ``fmt``.
    """
    given = fmt.strip().lower() if fmt is not None else None
    if given is not None and given not in supported:
        raise UsageError(
            f"must be {' or '.join(supported)}"
            if len(supported) < 3
            else f"must be one of {', '.join(supported)}",
            field="format",
            value=fmt,
        )
    if path is None or not path.suffix:
        return given or default or supported[0]
    suffix = path.suffix.lower()
    formats = [f for f in SUFFIXES.get(suffix, ()) if f in supported]
    if not formats:
        raise UsageError(
            f"cannot write a {suffix} file: name it {_suffix_names(supported)}",
            field=field,
            value=str(path),
        )
    if given is None:
        return default if default in formats else formats[0]
    if given not in formats:
        raise UsageError(
            f"the format {given} does not match the file name's {suffix}: "
            f"name the file *{_suffix_names([given])} or leave the format out",
            field=field,
            value=str(path),
        )
    return given


def csv_writer(stream: IO[str]) -> Any:
    """A ``csv.writer`` with our dialect (excel, CRLF line ends)."""
    return csv.writer(stream, lineterminator=CSV_LINE_END)


@contextmanager
def csv_file(path: Path, *, private: bool = False) -> Iterator[TextIO]:
    """A CSV file being written, in our encoding, that replaces ``path`` whole when the block
    completes (and never if it fails). ``private``: readable by its owner only."""
    with atomic_text(path, encoding=CSV_STREAM_ENCODING, private=private) as stream:
        stream.write(BOM)
        yield stream


def pending_csv_file(path: Path, *, private: bool = False) -> AtomicFile:
    """:func:`csv_file` for a writer that decides later whether to keep it (commit/discard)."""
    file = AtomicFile(path, "w", encoding=CSV_STREAM_ENCODING, private=private)
    file.stream.write(BOM)
    return file


@contextmanager
def csv_text(out: BinaryIO, *, file: bool) -> Iterator[TextIO]:
    """A text stream over a binary one for CSV: with the BOM if ``out`` is a ``file`` (a path
    we opened), without it for a stream such as standard output. ``out`` stays open."""
    text = io.TextIOWrapper(out, encoding=CSV_STREAM_ENCODING, newline="")
    try:
        if file:
            text.write(BOM)
        yield text
        text.flush()
    finally:
        text.detach()


def csv_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    """A whole small CSV file (a manifest) as bytes, in our encoding."""
    text = io.StringIO()
    csv_writer(text).writerows(rows)
    return text.getvalue().encode(CSV_ENCODING)
