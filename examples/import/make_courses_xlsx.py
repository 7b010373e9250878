"""Build courses.xlsx (sheets ``courses`` and ``lessons``) from courses.csv and lessons.csv.

A workbook the way a secretary would keep it: numbers as numbers, true/false as Excel
booleans, IDs as text (so ``0042`` keeps its zeros). Usage: python3 make_courses_xlsx.py OUT
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
NUMBERS = {"order_index", "duration_minutes", "estimated_duration_minutes"}
IDS = {"external_id"}


def cell(column: str, text: str) -> object:
    if text == "":
        return None
    if column in NUMBERS:
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def main(out: Path) -> None:
    book = Workbook()
    book.remove(book.active)
    for name in ("courses", "lessons"):
        sheet = book.create_sheet(name)
        with (HERE / f"{name}.csv").open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            sheet.append(header)
            for row in reader:
                sheet.append([cell(c, v) for c, v in zip(header, row, strict=True)])
        for i, column in enumerate(header, start=1):
            if column in IDS:
                for (c,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                    c.number_format = "@"
    book.save(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "courses.xlsx")
