"""List exports as downloads, written by the formula-safe writers of ``lms_core.formats``.

Flask-Admin's own export writes cells as they are (a learner named ``=HYPERLINK(..)`` would
run in Excel); ours go through :func:`lms_core.formats.tabular.write_csv` / ``write_xlsx``,
which neutralise formula triggers the way every ``lmsctl export`` does. CSV streams row by
row; XLSX is built in a temporary file (a zip cannot be streamed before it is finished).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context

from lms_core.formats.tabular import Sheet, write_csv, write_xlsx

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _values(columns: list[str], rows: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    for row in rows:
        yield [row.get(c) for c in columns]


def _csv_chunks(columns: list[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    sheet = Sheet("export", columns, _values(columns, rows))
    # write_csv writes to one stream; hand out what it wrote every few hundred rows.
    header = io.StringIO()
    write_csv(header, Sheet("export", columns, []), header=True)
    yield header.getvalue()
    for values in sheet.rows:
        write_csv(buffer, Sheet("export", columns, [values]), header=False)
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_response(
    fmt: str, name: str, columns: list[str], rows: Iterable[dict[str, Any]]
) -> Response:
    """A download of ``rows`` as ``name.csv`` or ``name.xlsx`` (an attachment, never shown)."""
    if fmt == "csv":
        response = Response(stream_with_context(_csv_chunks(columns, rows)), mimetype="text/csv")
    else:
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115  # closed by the response
        sheet = Sheet(name[:31], columns, _values(columns, rows))
        write_xlsx(spool, [sheet])  # type: ignore[arg-type]  # a binary file, as BinaryIO
        spool.seek(0)
        response = Response(spool, mimetype=XLSX_TYPE, direct_passthrough=True)
        response.call_on_close(spool.close)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
