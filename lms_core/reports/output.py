"""Reports written as JSON, CSV or XLSX, a section at a time, rows as they come.

JSON is one document: ``{"report", "subject", "since", "until", "sections": {name: [row
objects]}}``. CSV holds one table per section: the section's name on a line of its own, its
header, its rows, a blank line (a report of one section, e.g. ``--section at_risk``, is a
plain table: header and rows only). XLSX has one sheet per section. Rows stream from the
database's cursor to the file, so memory stays flat however many learners a section lists;
text cells are made formula-safe (:mod:`lms_core.formats.safe_cells`), timestamps are ISO
8601 in UTC (naive UTC in XLSX, which keeps no offset).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any, BinaryIO, TextIO, cast

from sqlalchemy.orm import Session

from lms_core.errors import ValidationError
from lms_core.formats import tabular
from lms_core.formats.safe_cells import safe_cell
from lms_core.reports.base import Report, Section

FORMATS = ("json", "csv", "xlsx")


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def write_json(session: Session, report: Report, out: TextIO) -> int:
    """The report as one JSON document; returns the rows written."""
    head = {"report": report.kind, "subject": report.subject, **report.period.as_dict()}
    out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "sections": {')
    count = 0
    for n, section in enumerate(report.sections):
        out.write(("," if n else "") + f"\n{json.dumps(section.name)}: [")
        for k, row in enumerate(section.rows(session)):
            item = {c: _json_value(v) for c, v in zip(section.columns, row, strict=True)}
            out.write(("," if k else "") + "\n  " + json.dumps(item, ensure_ascii=False))
            count += 1
        out.write("]")
    out.write("\n}}\n")
    return count


def _csv_rows(session: Session, section: Section) -> Iterator[list[str]]:
    for row in section.rows(session):
        yield [_json_value(v) if isinstance(v, datetime) else v for v in row]


def write_csv(session: Session, report: Report, out: TextIO) -> int:
    """The report as CSV (see the module's docstring); returns the rows written."""
    writer = csv.writer(out, lineterminator="\r\n")
    single = len(report.sections) == 1
    count = 0
    for n, section in enumerate(report.sections):
        if not single:
            if n:
                writer.writerow([])
            writer.writerow([safe_cell(section.name)])
        writer.writerow(section.columns)
        for row in _csv_rows(session, section):
            writer.writerow([tabular.csv_value(v) for v in row])
            count += 1
    return count


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value


def write_xlsx(session: Session, report: Report, out: BinaryIO) -> int:
    """The report as a workbook, one sheet per section; returns the rows written."""

    def rows(section: Section) -> Iterator[list[Any]]:
        for row in section.rows(session):
            yield [_xlsx_value(v) for v in row]

    sheets = (tabular.Sheet(s.name[:31], s.columns, rows(s)) for s in report.sections)
    return sum(tabular.write_xlsx(out, sheets))


def write_report(session: Session, report: Report, fmt: str, out: IO[Any]) -> int:
    """``fmt`` JSON or CSV to a text stream, XLSX to a binary one; the rows written."""
    if fmt == "json":
        return write_json(session, report, cast(TextIO, out))
    if fmt == "csv":
        return write_csv(session, report, cast(TextIO, out))
    if fmt == "xlsx":
        return write_xlsx(session, report, cast(BinaryIO, out))
    raise ValidationError(f"must be one of {', '.join(FORMATS)}", field="format", value=fmt)
