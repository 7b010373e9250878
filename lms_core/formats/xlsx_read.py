"""Read XLSX sheets as rows of text, the way Excel shows the cells.

The reader is python-calamine (Rust), chosen by measurement on a generated 50k-row sheet:
openpyxl read-only read 10.3k rows/s, calamine 199k rows/s (19x; the issue measured 14x on
200k rows). calamine parses XML with quick-xml, which expands no custom or external
entities, so billion-laughs and XXE files are inert; openpyxl (used to *write* templates and
exports) picks up defusedxml, a dependency, by itself. Every workbook is checked against zip
bombs (:mod:`lms_core.formats.archive`) before calamine opens it.

Cells become text so validation sees the same thing for CSV and XLSX: 123.0 -> "123", dates
-> ISO 8601, booleans -> "TRUE"/"FALSE". Which columns held a *number* is kept
(``SourceRow.numeric``), because an identifier stored as a number has lost its leading zeros.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from lms_core.errors import FileProblem, FileRefused
from lms_core.formats.archive import (
    DEFAULT_LIMITS,
    READ_ERRORS,
    ArchiveLimits,
    check_archive,
    open_member,
)
from lms_core.formats.table import NO_ROWS, SourceRow, Table, plain_cell, read_header

#: Sheets whose XML is bigger than this are streamed with openpyxl rather than loaded whole
#: by calamine. Measured on 400k rows x 5 columns (129 MB of sheet XML): calamine 218 MB peak
#: RSS and 35k rows/s, openpyxl read-only 64 MB and 3k rows/s (on a busy 2-core machine).
STREAM_FROM = 128 * 1024 * 1024
#: Excel keeps 15 significant digits; integers below this print exactly.
_EXACT = 10**15
#: What both readers give for a cell Excel stores as a date, a time or a duration.
_DATE_TYPES = frozenset({dt.datetime, dt.date, dt.time, dt.timedelta})
_NO_DATES: frozenset[str] = frozenset()


def cell_text(value: Any) -> tuple[str, bool]:
    """(text as Excel shows it in General format, whether the cell held a number)."""
    if value is None or value == "":
        return "", False
    if isinstance(value, str):
        return value, False
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE"), False
    if isinstance(value, int):
        return (str(value) if abs(value) < _EXACT else _general(float(value))), True
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "", True
        if value.is_integer() and abs(value) < _EXACT:
            return str(int(value)), True
        return _general(value), True
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat(), False
        return value.isoformat(timespec="seconds"), False
    if isinstance(value, dt.date | dt.time):
        return value.isoformat(), False
    if isinstance(value, dt.timedelta):
        return str(value), False
    return str(value), False


def _general(value: float) -> str:
    """15 significant digits, exponent as Excel writes it: 1.23456789012346E+19."""
    return format(value, ".15g").replace("e", "E")


def workbook_sheets(
    path: Path, *, display: str, limits: ArchiveLimits = DEFAULT_LIMITS
) -> list[str]:
    check_archive(path, display=display, limits=limits, unreadable=f"the file {NOT_A_WORKBOOK}")
    workbook = _Calamine(path, display)
    try:
        return workbook.sheet_names
    finally:
        workbook.close()


def open_xlsx(
    path: Path,
    *,
    sheet: str | None,
    display: str,
    required: Sequence[str] = (),
    known: Sequence[str] = (),
    limits: ArchiveLimits = DEFAULT_LIMITS,
    stream_from: int = STREAM_FROM,
    aliases: Mapping[str, str] | None = None,
) -> Table:
    """Open one sheet of a workbook; its display name is "file.xlsx" (or "file.xlsx:sheet"
    when a sheet other than the first was asked for).

    calamine holds a whole sheet in memory (~100 bytes a cell), so a workbook whose sheet
    XML exceeds ``stream_from`` bytes is read with openpyxl's read-only mode instead:
    constant memory, ~15x slower.
    """
    from lms_core.formats.encoding import sha256_file

    members = check_archive(
        path, display=display, limits=limits, unreadable=f"the file {NOT_A_WORKBOOK}"
    )
    check_extent(path, members, display)
    digest = sha256_file(path)
    biggest = max(
        (m.file_size for m in members if m.filename.startswith("xl/worksheets/")), default=0
    )
    workbook: _Workbook = (
        _Openpyxl(path, display) if biggest > stream_from else _Calamine(path, display)
    )
    try:
        names = workbook.sheet_names
        if not names:
            raise _refused(display, "the workbook has no sheets")
        name = names[0] if sheet is None else _pick(names, sheet, display)
        where = display if name == names[0] else f"{display}:{name}"
        rows = workbook.rows(name, where)
        line = 0
        header: list[str] | None = None
        try:
            for raw in rows:
                line += 1
                texts = [cell_text(v)[0] for v in raw]
                if any(t.strip() for t in texts):
                    header = texts
                    break
        except Exception as exc:  # a damaged sheet, found while reading it
            raise _refused(where, f"the sheet cannot be read ({exc})") from None
        if header is None:
            raise _refused(where, NO_ROWS)
        columns, keys, source = read_header(header, where, line, required, known, aliases)
    except BaseException:
        workbook.close()
        raise
    table = Table.opened(where, (columns, source), digest, workbook.close)
    table.header_line = line
    table.rows = _xlsx_rows(rows, table, keys, line)
    return table


class _Workbook(Protocol):
    sheet_names: list[str]

    def rows(self, name: str, where: str) -> Iterator[Sequence[Any]]: ...

    def close(self) -> None: ...


class _Calamine:
    """The fast reader. Its iter_rows() starts at row 1 even when the data starts lower (it
    pads the empty rows above), so counting rows gives Excel's row numbers (a test pins it).
    """

    def __init__(self, path: Path, display: str) -> None:
        from python_calamine import CalamineWorkbook

        try:
            self._book = CalamineWorkbook.from_path(str(path))
            self.sheet_names = list(self._book.sheet_names)
        except Exception as exc:  # calamine's errors: zip, XML, password, unsupported
            raise _unreadable(display, exc) from None

    def rows(self, name: str, where: str) -> Iterator[Sequence[Any]]:
        try:
            return iter(self._book.get_sheet_by_name(name).iter_rows())
        except Exception as exc:  # calamine raises its own types for damaged sheets
            raise _refused(where, f"the sheet cannot be read ({exc})") from None

    def close(self) -> None:
        self._book.close()


class _Openpyxl:
    """The streaming reader for big sheets; read-only rows also start at row 1."""

    def __init__(self, path: Path, display: str) -> None:
        from openpyxl import load_workbook

        try:
            self._book = load_workbook(path, read_only=True, data_only=True)
            self.sheet_names = list(self._book.sheetnames)
        except Exception as exc:  # openpyxl raises many types for damaged files
            raise _unreadable(display, exc) from None

    def rows(self, name: str, where: str) -> Iterator[Sequence[Any]]:
        return iter(self._book[name].iter_rows(values_only=True))

    def close(self) -> None:
        self._book.close()


def _xlsx_rows(
    rows: Iterator[Sequence[Any]], table: Table, keys: list[str | None], header_line: int
) -> Iterator[SourceRow]:
    line = header_line
    width = len(keys)
    while True:
        try:
            raw = next(rows)
        except StopIteration:
            return
        except Exception as exc:
            raise FileRefused(
                [FileProblem(f"the sheet cannot be read here ({exc})", file=table.file, line=line)]
            ) from None
        line += 1
        values: dict[str, str] = {}
        numeric: set[str] = set()
        dates: set[str] = set()
        filled = False
        for i, value in enumerate(raw[:width]):
            key = keys[i]
            if key is None:
                continue
            text, is_number = cell_text(value)
            values[key] = plain_cell(text)
            if text.strip():
                filled = True
            if is_number:
                numeric.add(key)
            elif value.__class__ in _DATE_TYPES:
                dates.add(key)
        if not filled:
            continue
        for key in keys:
            if key is not None and key not in values:
                values[key] = ""
        yield SourceRow(
            file=table.file,
            line=line,
            values=values,
            numeric=frozenset(numeric),
            dates=frozenset(dates) if dates else _NO_DATES,
        )


def _pick(names: list[str], wanted: str, display: str) -> str:
    if wanted in names:
        return wanted
    folded = {n.strip().casefold(): n for n in names}
    if wanted.strip().casefold() in folded:
        return folded[wanted.strip().casefold()]
    listed = ", ".join(f'"{n}"' for n in names)
    raise _refused(display, f'the workbook has no sheet "{wanted}" (it has {listed})')


#: What every reader of workbooks (imports, question banks, grading worksheets) says of a file
#: that no reader can open: the library's own exception (``KeyError``, ``BadZipFile``...)
#: names nothing a user can act on, so it is never shown.
NOT_A_WORKBOOK = (
    "is not a readable .xlsx workbook: it is damaged, or another kind of file named .xlsx; "
    "open it in Excel and save it again as .xlsx"
)


def _unreadable(display: str, exc: Exception) -> FileRefused:
    return _refused(display, f"the file {NOT_A_WORKBOOK}")


def _refused(display: str, message: str) -> FileRefused:
    return FileRefused([FileProblem(message, file=display)])


#: The widest sheet read (A to ZZ), the last row Excel itself has, and the most cells from A1
#: to the last cell. calamine holds that whole rectangle in memory (~32 bytes a cell, empty
#: or not) and openpyxl pads every row to the declared width, so one stray cell at XFD1048576
#: in a 5 KB file asked for 512 GB and killed the process; XFD5000 took 2.6 GB.
MAX_COLUMNS = 702
MAX_ROWS = 1_048_576
MAX_CELLS = 20_000_000
#: A row's or a cell's reference, however the XML quotes it (``r="A1"``, ``r = 'a1'``).
_REF = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]*)(\d+)["']""")
_DIMENSION = re.compile(rb"""<(?:\w+:)?dimension\s+ref\s*=\s*["']([^"']*)["']""")
_DIMENSION_REF = re.compile(rb"([A-Za-z]+)(\d+)")
_SHEET_XML = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.IGNORECASE)


def column_letters(number: int) -> str:
    """1 -> "A", 27 -> "AA", 16384 -> "XFD"."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_number(letters: bytes) -> int:
    """The column's number; past 5 letters (any of them beyond every limit) the first five
    count, so a hostile run of letters costs nothing."""
    number = 0
    for byte in letters[:5].upper():
        number = number * 26 + byte - 64
    return number


def _row_number(digits: bytes) -> int:
    """The row's number; past 11 digits (beyond every limit; leading zeros dropped) the first
    11 count, since ``int()`` refuses over 4,300 digits and a hostile reference may hold more."""
    return int(digits.lstrip(b"0")[:11] or b"0")


def check_extent(
    source: Path | IO[bytes], members: Sequence[zipfile.ZipInfo], display: str
) -> None:
    """Refuse a workbook whose sheets declare or hold a cell beyond :data:`MAX_COLUMNS`,
    :data:`MAX_ROWS` or :data:`MAX_CELLS`, before any reader allocates for it.

    One streaming pass over each sheet's XML looks at every row and cell reference (about
    0.3 s for a million cells); nothing is parsed or held.
    """
    sheets = [m for m in members if _SHEET_XML.match(m.filename)]
    if not sheets:
        return
    try:
        with zipfile.ZipFile(source) as archive:
            for info in sheets:
                with open_member(archive, info) as stream:
                    _check_sheet(stream, display)
    except READ_ERRORS:
        raise _refused(display, f"the file {NOT_A_WORKBOOK}") from None


def _check_sheet(stream: IO[bytes], display: str) -> None:
    tail = b""
    first = True
    max_row = max_col = 0
    while chunk := stream.read(1 << 20):
        buffer = tail + chunk
        if first:
            first = False
            declared = _DIMENSION.search(buffer, 0, 4096)
            if declared is not None:
                for letters, digits in _DIMENSION_REF.findall(declared.group(1)):
                    _within(display, _column_number(letters), _row_number(digits), "declares")
        found = _REF.findall(buffer)
        if found:
            rows = max(_row_number(digits) for _, digits in found)
            cols = max(_column_number(letters) for letters in {letters for letters, _ in found})
            max_row, max_col = max(max_row, rows), max(max_col, cols)
            _within(display, max_col, max_row, "has")
        tail = buffer[-256:]  # a reference cut in two by the chunk is read whole next time


def _within(display: str, col: int, row: int, verb: str) -> None:
    if col <= MAX_COLUMNS and row <= MAX_ROWS and max(col, 1) * row <= MAX_CELLS:
        return
    where = f"{column_letters(max(col, 1))}{row}"
    raise FileRefused(
        [
            FileProblem(
                f"refused: the sheet {verb} a cell at {where}, beyond what is read (at most "
                f"{MAX_COLUMNS} columns, A to {column_letters(MAX_COLUMNS)}; {MAX_ROWS:,} rows; "
                f"{MAX_CELLS:,} cells from A1 to the last cell): delete the cells beyond the "
                "data (Ctrl+End in Excel goes to the last one) and save again",
                file=display,
                line=row,
                column=column_letters(max(col, 1)),
            )
        ]
    )
