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
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, BinaryIO

from lms_core.errors import FileProblem, FileRefused
from lms_core.formats.archive import DEFAULT_LIMITS, READ_ERRORS, ArchiveLimits, is_zip
from lms_core.formats.encoding import detect
from lms_core.formats.table import (
    _GUARDED,
    CELL_LIMIT,
    NO_ROWS,
    SourceRow,
    Table,
    plain_cell,
    read_header,
)

_DELIMITERS = (",", ";", "\t")
#: csv.field_size_limit is one setting for the whole process (see :func:`_allow_cells`).
_LIMIT_LOCK = threading.Lock()


def open_table(
    path: Path,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    display_name: str | None = None,
    required: Sequence[str] = (),
    known: Sequence[str] = (),
    limits: ArchiveLimits = DEFAULT_LIMITS,
    long_cells: Mapping[str, int] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> Table:
    """Open a CSV or XLSX file (chosen by its content, not its extension).

    ``required`` columns must be present (one FileProblem each when not); ``known`` columns
    are optional ones. Headers matching either are keyed by our name even when written
    ``Email`` or ``Full Name``; other columns are kept under their own name and otherwise
    ignored. ``sheet`` picks an XLSX sheet by name (default: the first). ``long_cells``
    gives the CSV columns (by our name) allowed cells over :data:`CELL_LIMIT` their own cap
    (the caller knows its fields' limits; an XLSX cell has no quote to leave open).
    ``aliases`` maps other header names to our columns (see ``table.read_header``).
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
            path,
            sheet=sheet,
            display=display,
            required=required,
            known=known,
            limits=limits,
            aliases=aliases,
        )
    if path.suffix.lower() in (".xlsx", ".xlsm") and not head.startswith(b"\xd0\xcf\x11\xe0"):
        # Named a workbook but no zip: read as CSV if it is text (the content decides), else
        # say what its name promised, not that it is no CSV.
        try:
            detect(lambda: path.open("rb"), display=display, encoding=encoding)
        except FileRefused as exc:
            if any(e.message == NO_ROWS for e in exc.errors):
                raise  # empty: no rows, whatever its name
            from lms_core.formats.xlsx_read import NOT_A_WORKBOOK

            raise _refused(display, f"the file {NOT_A_WORKBOOK}") from None
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
        long_cells=long_cells,
        aliases=aliases,
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
    long_cells: Mapping[str, int] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> Table:
    """Open CSV bytes from ``opener()`` (a file, or a member of a zip): used for OneRoster too.

    The bytes are read twice: once to check the encoding and compute the SHA-256, then to
    stream the rows. ``long_cells`` and ``aliases``: see :func:`open_table`.
    """
    caps = dict(long_cells or {})
    _allow_cells(max((CELL_LIMIT, *caps.values())))
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
            raise _refused(display, NO_ROWS)
        columns, keys, source = read_header(header, display, line, required, known, aliases)
    except BaseException:
        text.close()
        raise
    table = Table.opened(display, (columns, source), detected.sha256, text.close)
    table.header_line = line
    table.rows = _csv_rows(reader, table, keys, line, caps)
    return table


def _allow_cells(longest: int) -> None:
    """Let ``csv.reader`` read cells of up to ``longest`` characters.

    The csv module has one limit for the whole process, so it is only ever raised (under a
    lock: a reader in another thread never sees it lowered under it) and each reader checks
    its own columns' caps itself (:func:`_check_long_cells`). Another csv user in the process
    (the question bank's reader) may then read cells up to the largest cap asked for here.
    """
    with _LIMIT_LOCK:
        if csv.field_size_limit() < longest:
            csv.field_size_limit(longest)


def _runaway(cap: int) -> str:
    size = f"{cap // 1024} KB" if cap == CELL_LIMIT else f"{cap:,} characters"
    return (
        f'a cell starting here is over {size} long: a quote (") was probably opened and '
        "never closed, so the rest of the file became one cell"
    )


def _check_long_cells(
    cells: list[str], keys: list[str | None], caps: Mapping[str, int], display: str, line: int
) -> None:
    """Refuse the file at a cell over its column's cap (a row with a cell over CELL_LIMIT)."""
    for i, cell in enumerate(cells):
        key = keys[i] if i < len(keys) else None
        cap = caps.get(key, CELL_LIMIT) if key else CELL_LIMIT
        if len(cell) > cap:
            raise _refused(display, _runaway(cap), line)


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
                message = _runaway(csv.field_size_limit())
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
    reader: Iterator[list[str]],
    table: Table,
    keys: list[str | None],
    header_line: int,
    caps: Mapping[str, int],
) -> Iterator[SourceRow]:
    width = len(keys)
    # The common row: every header named, as many cells, no apostrophe anywhere (so nothing
    # for plain_cell to undo): its values are one zip, tested on the cells joined once.
    names = [k for k in keys if k] if all(keys) else None
    file = table.file
    for line, cells in _records(reader, file, header_line):
        joined = "".join(cells)
        if not joined.strip():
            continue  # no cells, or only blank ones
        # Also when no column is long: another reader may have raised csv's limit.
        if len(joined) > CELL_LIMIT and max(map(len, cells)) > CELL_LIMIT:
            _check_long_cells(cells, keys, caps, file, line)
        if names is not None and len(cells) == width and "'" not in joined:
            yield SourceRow(file=file, line=line, values=dict(zip(names, cells, strict=True)))
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


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(8)


def _refused(display: str, message: str, line: int | None = None) -> FileRefused:
    return FileRefused([FileProblem(message, file=display, line=line)])


__all__ = [
    "CELL_LIMIT",
    "_GUARDED",
    "FileRefused",
    "SourceRow",
    "Table",
    "open_csv_stream",
    "open_table",
    "plain_cell",
    "sheet_names",
]
