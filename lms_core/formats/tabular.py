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

import contextlib
import csv
import os
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TextIO

from lms_core.formats.safe_cells import safe_cell

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


class _Rows:
    """Counts the rows written and reports every PROGRESS_EVERY of them, and at the end."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.count = 0

    def written(self) -> None:
        self.count += 1
        if self.progress is not None and self.count % PROGRESS_EVERY == 0:
            self.progress(self.count)

    def done(self) -> int:
        if self.progress is not None:
            self.progress(self.count)
        return self.count


def write_csv(
    out: TextIO, sheet: Sheet, *, progress: Progress | None = None, header: bool = True
) -> int:
    """Write ``sheet`` to a text stream opened with ``newline=""``; the number of data rows."""
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(sheet.columns)
    rows = _Rows(progress)
    for row in sheet.rows:
        writer.writerow([csv_value(v) for v in row])
        rows.written()
    return rows.done()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index))


def add_xlsx_sheet(
    book: Workbook,
    sheet: Sheet,
    *,
    progress: Progress | None = None,
    text_columns: Collection[str] = (),
) -> int:
    """Append ``sheet`` to a write-only workbook; the number of data rows written.

    ``text_columns`` (identifiers) are written as text and formatted ``@``, so Excel keeps
    their leading zeros, also in rows typed later. The caller names them: which columns are
    identifiers is the importer's knowledge, not this writer's.
    """
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    ws: WriteOnlyWorksheet = book.create_sheet(sheet.name)
    text_positions = [i for i, c in enumerate(sheet.columns) if c in text_columns]
    for i, name in enumerate(sheet.columns, start=1):
        letter = _column_letter(i)
        # Set by Worksheet._setup, which WriteOnlyWorksheet runs; types-openpyxl omits them.
        dim = ws.column_dimensions[letter]  # type: ignore[attr-defined]
        dim.width = max(_WIDTHS.get(name, 0), len(name) + 2, _MIN_WIDTH)
        if name in text_columns:
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
        ws.data_validations.append(validation)  # type: ignore[attr-defined]  # as above
    ws.freeze_panes = "A2"

    bold = Font(bold=True)
    head = []
    for name in sheet.columns:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = bold
        head.append(cell)
    ws.append(head)

    rows = _Rows(progress)
    for row in sheet.rows:
        values: list[Any] = [xlsx_value(v) for v in row]
        for i in text_positions:
            if values[i] is not None:
                cell = WriteOnlyCell(ws, value=str(values[i]))
                cell.number_format = "@"
                values[i] = cell
        ws.append(values)
        rows.written()
    return rows.done()


def write_xlsx(
    out: BinaryIO | Path,
    sheets: Iterable[Sheet],
    *,
    progress: Progress | None = None,
    text_columns: Collection[str] = (),
) -> list[int]:
    """Write the sheets, in order, to one workbook; the data row count of each.

    ``text_columns``: see :func:`add_xlsx_sheet`.
    """
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    try:
        counts = [
            add_xlsx_sheet(book, sheet, progress=progress, text_columns=text_columns)
            for sheet in sheets
        ]
        book.save(out)
    except BaseException:
        _discard(book)
        raise
    return counts


def _discard(book: Any) -> None:
    """Finish and delete the sheets of a workbook whose rows failed half-way.

    openpyxl streams each write-only sheet into a temporary file through a suspended
    generator: left as they are, garbage collection later writes into the closed file (an
    "I/O operation on closed file" error printed at a random moment) and the files stay until
    the process exits, which for a worker or the web app is days.
    """
    for sheet in book.worksheets:
        writer = getattr(sheet, "_writer", None)
        with contextlib.suppress(Exception):
            if not sheet.closed:
                sheet.close()
        if writer is not None:
            with contextlib.suppress(OSError):
                os.remove(writer.out)
