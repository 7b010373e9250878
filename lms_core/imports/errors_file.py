"""``--errors-out errors.csv``: the input rows with an ``error`` column, ready to fix.

Every row of the input is written (the import was refused as a whole, so the good rows must
be imported again too), under the user's own headers, with the problems of that line in the
``error`` column; the importer ignores that column, so the fixed file imports as it is.
Encoded as every CSV file we write (UTF-8 with a BOM: ``lms_core.formats.output``), so Excel
shows the accents of the user's own rows.
A file with several tables (courses and lessons) gets one errors file per table
(``errors.csv`` and ``errors.lessons.csv``). Cells are formula-injection safe.
Passwords are never written: the ``password`` column keeps its header but its cells are left
empty (a placeholder such as ``********`` would become the password when the fixed file is
imported); fill them in again, or leave them empty to invite new users.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from lms_core.errors import FileProblem
from lms_core.formats.output import csv_file, csv_writer
from lms_core.formats.safe_cells import safe_cell


def _target(out: Path, index: int, entity: str) -> Path:
    return out if index == 0 else out.with_name(f"{out.stem}.{entity}{out.suffix or '.csv'}")


def write_errors(out: Path, opened: Any, problems: list[FileProblem]) -> list[Path]:
    by_line: dict[tuple[str, int | None], list[str]] = defaultdict(list)
    for p in problems:
        by_line[(p.file, p.line)].append(f"{p.column}: {p.message}" if p.column else p.message)
    written: list[Path] = []
    for index, (entity, reopen) in enumerate(opened.reopen):
        target = _target(out, index, entity)
        table = reopen()
        try:
            header = list(table.columns)
            keys = _keys(table)
            with csv_file(target, private=True) as tmp:
                writer = csv_writer(tmp)
                writer.writerow([*header, "error"])
                whole = by_line.get((table.file, None), [])
                for row in table.rows:
                    errors = by_line.get((row.file, row.line), [])
                    writer.writerow(
                        [_cell(k, row.values.get(k, "")) for k in keys]
                        + [safe_cell("; ".join(errors))]
                    )
                if whole:
                    writer.writerow(["" for _ in keys] + ["; ".join(whole)])
        finally:
            table.close()
        written.append(target)
    return written


#: The columns whose cells are never written back (their header is kept).
_SECRET = frozenset({"password"})


def _cell(key: str, value: Any) -> Any:
    return "" if key in _SECRET else safe_cell(value)


def _keys(table: Any) -> list[str]:
    """The ``values`` key of each header, in the file's order (ours where mapped)."""
    reverse = {user: ours for ours, user in table.source_columns.items()}
    return [reverse.get(h, h) for h in table.columns]
