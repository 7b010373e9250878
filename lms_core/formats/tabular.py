"""Streaming CSV and XLSX writers shared by the exports and the import templates.

Both take rows one at a time (an iterator over a database cursor) and hold none of them:
CSV goes straight to a text stream (a file or standard output), XLSX through openpyxl's
write-only workbook, which spools each sheet to a temporary file. Every value passes through
:func:`lms_core.formats.safe_cells.safe_cell`, so a learner named ``=HYPERLINK(...)`` stays
text in a spreadsheet.

The conventions are the importer's: booleans ``true``/``false`` in CSV (native booleans in
XLSX), empty for NULL, identifier columns as text (XLSX number format ``@``, so Excel keeps
their leading zeros when someone types a new row). The header row is bold and frozen.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TextIO

from lms_core.formats.safe_cells import safe_cell
from lms_core.imports.columns import IDENTIFIER_COLUMNS

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

Format = Literal["csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx")
#: Called with the number of rows written so far, every PROGRESS_EVERY rows and at the end.
Progress = Callable[[int], None]
PROGRESS_EVERY = 1000

#: Column widths (characters) for the columns that need more than the default.
_WIDTHS = {
    "email": 32,
    "user_email": 32,
    "instructor_email": 32,
    "full_name": 28,
    "title": 36,
    "description": 48,
    "content": 48,
    "thumbnail_url": 40,
    "video_url": 40,
}
_MIN_WIDTH = 12


@dataclass
class Sheet:
    """One table: a sheet of an XLSX workbook, or the whole of a CSV file."""

    name: str
    columns: Sequence[str]
    rows: Iterable[Sequence[Any]]
    #: Shown in the sheet only when set: a hint per column (data validation lists).
    choices: dict[str, Sequence[str]] = field(default_factory=dict)


def csv_value(value: Any) -> str:
    """The text of a value in our CSV files (the importer reads these back)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(safe_cell(value)) if isinstance(value, str) else str(value)


def xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        return safe_cell(value)
    return value


def write_csv(
    out: TextIO, sheet: Sheet, *, progress: Progress | None = None, header: bool = True
) -> int:
    """Write ``sheet`` to a text stream opened with ``newline=""``; the number of data rows."""
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(sheet.columns)
    count = 0
    for row in sheet.rows:
        writer.writerow([csv_value(v) for v in row])
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    if progress is not None:
        progress(count)
    return count


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index))


def add_xlsx_sheet(book: Workbook, sheet: Sheet, *, progress: Progress | None = None) -> int:
    """Append ``sheet`` to a write-only workbook; the number of data rows written."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    ws: WriteOnlyWorksheet = book.create_sheet(sheet.name)
    text_columns = [i for i, c in enumerate(sheet.columns) if c in IDENTIFIER_COLUMNS]
    for i, name in enumerate(sheet.columns, start=1):
        letter = _column_letter(i)
        dim = ws.column_dimensions[letter]
        dim.width = max(_WIDTHS.get(name, 0), len(name) + 2, _MIN_WIDTH)
        if name in IDENTIFIER_COLUMNS:
            dim.number_format = "@"  # rows typed later in Excel stay text too
    for name, options in sheet.choices.items():
        if name not in sheet.columns:
            continue
        letter = _column_letter(list(sheet.columns).index(name) + 1)
        validation = DataValidation(
            type="list", formula1='"' + ",".join(options) + '"', allow_blank=True
        )
        validation.error = f"{name}: one of {', '.join(options)}"
        validation.add(f"{letter}2:{letter}1048576")
        ws.data_validations.append(validation)
    ws.freeze_panes = "A2"

    bold = Font(bold=True)
    head = []
    for name in sheet.columns:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = bold
        head.append(cell)
    ws.append(head)

    count = 0
    for row in sheet.rows:
        values: list[Any] = [xlsx_value(v) for v in row]
        for i in text_columns:
            if values[i] is not None:
                cell = WriteOnlyCell(ws, value=str(values[i]))
                cell.number_format = "@"
                values[i] = cell
        ws.append(values)
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    if progress is not None:
        progress(count)
    return count


def write_xlsx(
    out: BinaryIO | Path, sheets: Iterable[Sheet], *, progress: Progress | None = None
) -> list[int]:
    """Write the sheets, in order, to one workbook; the data row count of each."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    counts = [add_xlsx_sheet(book, sheet, progress=progress) for sheet in sheets]
    book.save(out)
    return counts


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it only when the block completes.

    An export that fails half-way (a database error, Ctrl-C) leaves the old file, or none,
    never a truncated one that a script would then import.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """A CSV file written atomically, UTF-8 with a BOM: Excel then shows accents, not "JosÃ©"."""
    with _atomic(path) as tmp, open(tmp, "w", encoding="utf-8-sig", newline="") as stream:
        yield stream


@contextmanager
def atomic_binary(path: Path) -> Iterator[BinaryIO]:
    """An XLSX file written atomically."""
    with _atomic(path) as tmp, open(tmp, "wb") as stream:
        yield stream
