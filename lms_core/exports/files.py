"""Our tables written to a path or a stream: the one way exports and import templates write.

A template is an export without rows, so both go through here and agree on every detail: a
path is written atomically (a write that fails half-way leaves the old file, or none, never a
truncated one that a script would then import), a CSV path in the encoding of every CSV file
we write (UTF-8 with a BOM, for Excel: ``lms_core.formats.output``), a stream as given; in XLSX the identifier columns are text, so Excel keeps ``000123`` as typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from lms_core.formats.atomic import atomic_binary
from lms_core.formats.output import csv_file
from lms_core.formats.tabular import Progress, Sheet, write_csv, write_xlsx
from lms_core.imports.columns import IDENTIFIER_COLUMNS


def write_workbook(
    out: Path | BinaryIO, sheets: Sequence[Sheet], *, progress: Progress | None = None
) -> list[int]:
    """The sheets, in order, as one XLSX workbook; the data row count of each."""
    if isinstance(out, Path):
        with atomic_binary(out) as stream:
            return write_xlsx(stream, sheets, progress=progress, text_columns=IDENTIFIER_COLUMNS)
    return write_xlsx(out, sheets, progress=progress, text_columns=IDENTIFIER_COLUMNS)


def write_table(out: Path | TextIO, sheet: Sheet, *, progress: Progress | None = None) -> int:
    """One sheet as a CSV file (or text stream opened with ``newline=""``); its data rows."""
    if isinstance(out, Path):
        with csv_file(out) as stream:  # UTF-8 with a BOM: Excel shows "José", not "JosÃ©"
            return write_csv(stream, sheet, progress=progress)
    return write_csv(out, sheet, progress=progress)
