"""Open an import file (CSV or XLSX) as a :class:`Table` of rows keyed by header name.

This is the reading layer of the import pipeline (read → validate → resolve → plan → apply):
it knows about encodings, delimiters, spreadsheets and zip bombs, and nothing about users or
courses. Every row keeps the file name and the row number a spreadsheet shows (header = 1),
so a later stage can say "users.csv, line 12, column email".

Rows stream: a 1M-row CSV is read in constant memory. Problems that concern the whole file
(encoding, missing or duplicate columns, zip bombs) raise :class:`FileRefused` from
:func:`open_table`; problems of one row (more cells than headers) are collected in
:attr:`Table.problems` while iterating, that row is not yielded, and the iterator raises
them as FileRefused at the end unless the caller set ``collect_problems`` to report them
beside its own errors.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, BinaryIO

from lms_core.errors import FileProblem, FileRefused
from lms_core.formats.archive import DEFAULT_LIMITS, READ_ERRORS, ArchiveLimits, is_zip
from lms_core.formats.encoding import detect

_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One data row: where it is in the user's file, and its cells by (our) column name."""

    #: Display name: the base name, or "bundle.zip:users.csv".
    file: str
    #: The row number a spreadsheet shows: header = 1, first data row = 2. A CSV cell with a
    #: quoted line break still counts as one row; blank lines count (Excel shows them).
    line: int
    #: Column -> cell text, '' when empty. XLSX numbers as Excel shows them (123, not 123.0;
    #: dates ISO 8601). Keys are our column names where the header matched one (see
    #: ``Table.source_columns``), else the header as written.
    values: dict[str, str]
    #: XLSX: columns whose cell was stored as a number (leading zeros may be lost).
    numeric: frozenset[str] = frozenset()


@dataclass
class Table:
    """An opened file: its header, a lazy iterator of rows, and what is needed to report."""

    file: str
    #: Header names as in the file, stripped of BOM and surrounding spaces.
    columns: list[str]
    #: Lazy, streaming; iterate once.
    rows: Iterator[SourceRow]
    #: Of the file's bytes (None when not known before iteration).
    sha256: str | None
    #: Our column -> the header as the user wrote it, for error messages.
    source_columns: dict[str, str] = field(default_factory=dict)
    #: Problems of single rows found while iterating (the row is then not yielded).
    problems: list[FileProblem] = field(default_factory=list)
    #: False (the default): when the rows run out, raise FileRefused(problems) if there are
    #: any, so a skipped row can never go unnoticed. True: the caller reads ``problems``
    #: itself after iterating, to report them beside its own validation errors.
    collect_problems: bool = False
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def column_for(self, ours: str) -> str:
        """The user's header for one of our columns (for FileProblem.column)."""
        return self.source_columns.get(ours, ours)

    def finished(self) -> None:
        """Called by the row iterators when the rows run out (see ``collect_problems``)."""
        if self.problems and not self.collect_problems:
            raise FileRefused(list(self.problems))

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_table(
    path: Path,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    display_name: str | None = None,
    required: Sequence[str] = (),
    known: Sequence[str] = (),
    limits: ArchiveLimits = DEFAULT_LIMITS,
) -> Table:
    """Open a CSV or XLSX file (chosen by its content, not its extension).

    ``required`` columns must be present (one FileProblem each when not); ``known`` columns
    are optional ones. Headers matching either are keyed by our name even when written
    ``Email`` or ``Full Name``; other columns are kept under their own name and otherwise
    ignored. ``sheet`` picks an XLSX sheet by name (default: the first).
    """
    display = display_name or path.name
    try:
        if not path.is_file():
            raise _refused(display, "the file does not exist or is not a file")
        zipped = is_zip(path)
        head = _head(path)
    except OSError as exc:
        raise _refused(display, f"the file cannot be read ({exc.strerror or exc})") from None
    if zipped:
        from lms_core.formats.xlsx_read import open_xlsx

        return open_xlsx(
            path, sheet=sheet, display=display, required=required, known=known, limits=limits
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _refused(
            display,
            "this is an old Excel .xls workbook or a password-protected one: save it "
            "without a password as .xlsx or as CSV UTF-8 and try again",
        )
    return open_csv_stream(
        lambda: path.open("rb"),
        display=display,
        encoding=encoding,
        required=required,
        known=known,
    )


def sheet_names(path: Path, *, limits: ArchiveLimits = DEFAULT_LIMITS) -> list[str]:
    """The sheets of an XLSX workbook, in order; [] for a CSV file."""
    if not is_zip(path):
        return []
    from lms_core.formats.xlsx_read import workbook_sheets

    return workbook_sheets(path, display=path.name, limits=limits)


def open_csv_stream(
    opener: Callable[[], BinaryIO | IO[bytes]],
    *,
    display: str,
    encoding: str | None = None,
    required: Sequence[str] = (),
    known: Sequence[str] = (),
) -> Table:
    """Open CSV bytes from ``opener()`` (a file, or a member of a zip): used for OneRoster too.

    The bytes are read twice: once to check the encoding and compute the SHA-256, then to
    stream the rows.
    """
    detected = detect(opener, display=display, encoding=encoding)  # type: ignore[arg-type]
    with io.TextIOWrapper(opener(), encoding=detected.encoding, newline="") as head:
        delimiter = _delimiter(head.read(65536))
    text = io.TextIOWrapper(opener(), encoding=detected.encoding, newline="")
    try:
        reader = csv.reader(text, delimiter=delimiter, strict=False)
        line = 0
        header: list[str] | None = None
        for at, cells in _records(reader, display, 0):
            if any(c.strip() for c in cells):
                header, line = cells, at
                break
        if header is None:
            raise _refused(display, "the file is empty: it needs a header row")
        columns, keys, source = _header(header, display, line, required, known)
    except BaseException:
        text.close()
        raise
    table = Table(file=display, columns=columns, rows=iter(()), sha256=detected.sha256)
    table.source_columns = source
    table._closers.append(text.close)
    table.rows = _csv_rows(reader, table, keys, line)
    return table


def _records(
    reader: Iterator[list[str]], display: str, line: int
) -> Iterator[tuple[int, list[str]]]:
    """(record number, cells) from csv.reader, its errors (a runaway quote) turned into ours.

    ``line`` is the number of the record before the first one this yields.
    """
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" in str(exc):
                message = (
                    'a cell starting here is over 128 KB long: a quote (") was probably '
                    "opened and never closed, so the rest of the file became one cell"
                )
            else:
                message = f'this row cannot be read ({exc}): is a quote (") left open?'
            raise _refused(display, message, line + 1) from None
        except UnicodeDecodeError:
            raise _refused(display, "the file is not valid text here", line + 1) from None
        except READ_ERRORS as exc:
            raise _refused(
                display, f"the file cannot be read here: it may be damaged ({exc})", line + 1
            ) from None
        line += 1
        yield line, cells


def _csv_rows(
    reader: Iterator[list[str]], table: Table, keys: list[str | None], header_line: int
) -> Iterator[SourceRow]:
    width = len(keys)
    for line, cells in _records(reader, table.file, header_line):
        if not cells or not any(c.strip() for c in cells):
            continue
        if len(cells) > width:
            extra = cells[width:]
            if any(c.strip() for c in extra):
                table.problems.append(
                    FileProblem(
                        f"this row has {len(cells)} cells but the header has {width} "
                        "columns: is a value with a comma or semicolon missing its quotes?",
                        file=table.file,
                        line=line,
                        value=next(c for c in extra if c.strip()),
                    )
                )
                continue
        values = {
            key: (plain_cell(cells[i]) if i < len(cells) else "")
            for i, key in enumerate(keys)
            if key
        }
        yield SourceRow(file=table.file, line=line, values=values)
    table.finished()


def _delimiter(head: str) -> str:
    """Count , ; and tab in the header line outside quotes; the most frequent wins."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in head:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "\r\n":
            if any(counts.values()):
                break
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


#: What lms_core.formats.safe_cells.safe_cell writes: an apostrophe before = + - @ tab CR.
_GUARDED = ("'=", "'+", "'-", "'@", "'\t", "'\r")


def plain_cell(text: str) -> str:
    """Undo ``safe_cell``: an export's "'=HYPERLINK(...)" imports as "=HYPERLINK(...)",
    so a file exported, edited and imported again changes nothing."""
    return text[1:] if text.startswith(_GUARDED) else text


_NORMALISE = re.compile(r"[\s\-]+")


def normalise_header(name: str) -> str:
    """'Full Name', 'full-name', ' FULL_NAME ' -> 'full_name' (to match our columns)."""
    return _NORMALISE.sub("_", name.strip().lower())


def _header(
    raw: Sequence[str],
    display: str,
    line: int,
    required: Sequence[str],
    known: Sequence[str],
) -> tuple[list[str], list[str | None], dict[str, str]]:
    """Header names, the key each position is stored under, and our -> their names."""
    ours = {normalise_header(c): c for c in (*known, *required)}
    exact = set(ours.values())
    columns = [c.replace("\ufeff", "").strip() for c in raw]
    keys: list[str | None] = []
    source: dict[str, str] = {}
    first_at: dict[str, int] = {}
    problems: list[FileProblem] = []
    for position, name in enumerate(columns, start=1):
        if not name:
            keys.append(None)  # an unnamed column (a trailing delimiter): ignored
            continue
        key = name if name in exact else ours.get(normalise_header(name), name)
        if key in first_at:
            problems.append(
                FileProblem(
                    f'the column "{name}" appears twice (columns {first_at[key]} and '
                    f"{position}); keep one and delete the other",
                    file=display,
                    line=line,
                    column=name,
                )
            )
            keys.append(None)
            continue
        first_at[key] = position
        keys.append(key)
        source[key] = name
    for name in required:
        if name not in source:
            problems.append(
                FileProblem(
                    f'the required column "{name}" is missing from the header row',
                    file=display,
                    line=line,
                    column=name,
                )
            )
    if problems:
        raise FileRefused(problems)
    return columns, keys, source


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(8)


def _refused(display: str, message: str, line: int | None = None) -> FileRefused:
    return FileRefused([FileProblem(message, file=display, line=line)])


__all__ = [
    "FileRefused",
    "SourceRow",
    "Table",
    "open_csv_stream",
    "open_table",
    "sheet_names",
]
