"""Our spreadsheet question format, CSV or XLSX: one question per row.

Columns (header row, any order, case-insensitive): ``title, question_type, question_text,
text_format, points, options, correct_answer, explanation, category``; only
``question_type`` and ``question_text`` are required. How ``options``/``correct_answer`` read
per type is in ``cells``. Problems name the spreadsheet row (header = 1) and the
header. Exports pass every text cell through ``safe_cell`` (a leading apostrophe before
``= + - @``), and the reader takes that apostrophe off again, so export -> import is exact.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO, cast

from lms_core.errors import FileProblem, FileRefused
from lms_core.formats.atomic import atomic_binary
from lms_core.formats.cells import check_control
from lms_core.formats.output import csv_text, csv_writer
from lms_core.formats.safe_cells import safe_cell
from lms_core.quizzes.bank.cells import CellError, decode_cells, encode_cells
from lms_core.quizzes.bank.detect import detect_format
from lms_core.quizzes.bank.problems import Problems, utf8_text
from lms_core.quizzes.bank.shapes import (
    QUESTION_TYPES,
    TEXT_FORMATS,
    QuestionData,
    validate_question,
)

HEADERS = (
    "title",
    "question_type",
    "question_text",
    "text_format",
    "points",
    "options",
    "correct_answer",
    "explanation",
    "category",
)
REQUIRED = ("question_type", "question_text")
__all__ = ["HEADERS", "detect_format", "read_question_table", "write_question_table"]
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_XLSX_MAGIC = b"PK\x03\x04"
#: Which column a ``validate_question`` message is about, by its first words.
_MESSAGE_COLUMNS = (
    ("question text", "question_text"),
    ("title", "title"),
    ("category", "category"),
    ("explanation", "explanation"),
    ("text format", "text_format"),
    ("points", "points"),
    ("question type", "question_type"),
    ("correct answer", "correct_answer"),
)


def unsafe_cell(value: str) -> str:
    """Undo ``safe_cell``: ``'=x`` -> ``=x`` (and ``''=x`` -> ``'=x``, which the writer made)."""
    if value.startswith("'") and value.lstrip("'").startswith(_TRIGGERS):
        return value[1:]
    return value


def _safe(value: Any) -> Any:
    """``safe_cell``, and one more apostrophe where the reader would otherwise take one off."""
    if isinstance(value, str) and value.startswith("'") and value.lstrip("'").startswith(_TRIGGERS):
        return "'" + value
    return safe_cell(value)


def read_question_table(
    source: Path | bytes, *, file: str, fmt: str | None = None
) -> list[QuestionData]:
    """Questions from a CSV or XLSX file (a path, or the bytes of one: stdin).

    ``fmt`` is ``"csv"`` or ``"xlsx"``; by default from the path's extension or the content.
    Raises ``FileRefused`` with every problem (line = spreadsheet row, column = header name).
    """
    data = source.read_bytes() if isinstance(source, Path) else source
    if fmt is None:
        fmt = "xlsx" if data.startswith(_XLSX_MAGIC) else "csv"
    rows = _xlsx_rows(data, file) if fmt == "xlsx" else _csv_rows(data, file)
    return _read_rows(rows, file)


def _csv_rows(data: bytes, file: str) -> Iterator[list[str]]:
    text = utf8_text(data, file)
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as exc:
        raise FileRefused([FileProblem(f"is not valid CSV: {exc}", file=file)]) from None


def _xlsx_rows(data: bytes, file: str) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    from lms_core.formats.archive import check_archive
    from lms_core.formats.xlsx_read import NOT_A_WORKBOOK, check_extent

    # Zip bombs, two parts of one name, a stray cell at XFD1048576: refused before reading.
    members = check_archive(io.BytesIO(data), display=file, unreadable=NOT_A_WORKBOOK)
    check_extent(io.BytesIO(data), members, file)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds (KeyError, BadZipFile...): none is news
        raise FileRefused([FileProblem(NOT_A_WORKBOOK, file=file)]) from None
    try:
        try:
            rows = list(workbook.worksheets[0].iter_rows(values_only=True))
        except Exception:  # a damaged sheet, found while reading it
            raise FileRefused([FileProblem(NOT_A_WORKBOOK, file=file)]) from None
        for row in rows:
            yield [_cell_text(v) for v in row]
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _read_rows(rows: Iterable[list[str]], file: str) -> list[QuestionData]:
    problems = Problems(file)
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None or not any(h.strip() for h in header):
        raise FileRefused(
            [FileProblem("is empty: the first row must name the columns", file=file, line=1)]
        )
    names = [h.strip().lower().replace(" ", "_") for h in header]
    for i, name in enumerate(names):
        if name and name not in HEADERS:
            problems.add(
                f"unknown column (the columns are {', '.join(HEADERS)})", line=1, column=name
            )
        elif name and name in names[:i]:
            problems.add("column given twice", line=1, column=name)
    for name in REQUIRED:
        if name not in names:
            problems.add("missing column", line=1, column=name)
    problems.raise_if_any()
    questions = []
    for number, row in enumerate(iterator, 2):
        cells = {
            name: unsafe_cell(value.strip()) if isinstance(value, str) else ""
            for name, value in zip(names, row, strict=False)
            if name
        }
        if not any(cells.values()):
            continue
        controls = [
            (name, check_control(value, multiline=True))
            for name, value in cells.items()
            if not value.isprintable()
        ]
        if any(message for _, message in controls):
            for name, message in controls:
                if message is not None:
                    problems.add(message, line=number, column=name)
            continue
        q = _read_row(cells, number, problems)
        if q is not None:
            questions.append(q)
    problems.raise_if_any()
    return questions


def _read_row(cells: dict[str, str], number: int, problems: Problems) -> QuestionData | None:
    before = problems.count

    def fail(column: str, message: str) -> None:
        problems.add(message, line=number, column=column, value=cells.get(column) or None)

    if not cells.get("question_text"):
        fail("question_text", "the question text is empty")
    qtype = cells.get("question_type", "").lower().replace("-", "_").replace(" ", "_")
    if qtype not in QUESTION_TYPES:
        fail("question_type", f"must be one of {', '.join(QUESTION_TYPES)}")
    text_format = cells.get("text_format", "").lower() or "plain"
    if text_format not in TEXT_FORMATS:
        fail("text_format", f"must be one of {', '.join(TEXT_FORMATS)}")
    points = Decimal(1)
    if cells.get("points"):
        try:
            points = Decimal(cells["points"].replace(",", "."))
        except InvalidOperation:
            fail("points", "must be a number")
    options: list[Any] = []
    key: Any = None
    if qtype in QUESTION_TYPES:
        try:
            options, key = decode_cells(
                qtype, cells.get("options", ""), cells.get("correct_answer", "")
            )
        except CellError as exc:
            fail(exc.column, str(exc))
    if problems.count > before:
        return None
    q = QuestionData(
        question_text=cells.get("question_text", ""),
        question_type=qtype,
        options=options,
        correct_answer=key,
        title=cells.get("title") or None,
        text_format=text_format,
        points=points,
        explanation=cells.get("explanation") or None,
        category=cells.get("category") or None,
        line=number,
    )
    for message in validate_question(q):
        column = next((c for words, c in _MESSAGE_COLUMNS if message.startswith(words)), "options")
        fail(column, message)
    return q if problems.count == before else None


def question_row(q: QuestionData) -> list[Any]:
    """One row of cells in ``HEADERS`` order (not yet made formula-safe)."""
    options, key = encode_cells(q.question_type, q.options, q.correct_answer)
    return [
        q.title or "",
        q.question_type,
        q.question_text,
        q.text_format,
        q.points,
        options,
        key,
        q.explanation or "",
        q.category or "",
    ]


def write_question_table(questions: Iterable[QuestionData], out: Path | IO[Any], fmt: str) -> None:
    """Write ``questions`` as ``fmt`` (``csv`` or ``xlsx``) to a path or a stream.

    CSV goes to a text stream or, UTF-8 encoded, to a binary one; XLSX needs a binary stream.
    Rows are written one by one (openpyxl write-only for XLSX): constant memory.
    """
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"not a question table format: {fmt!r}")
    if isinstance(out, Path):
        with atomic_binary(out) as stream:
            if fmt == "xlsx":
                _write_xlsx(questions, stream)
            else:  # a file: UTF-8 with a BOM, as every CSV file we write
                with csv_text(stream, file=True) as text:
                    _write_csv(questions, text)
        return
    if fmt == "xlsx":
        _write_xlsx(questions, out)
        return
    if isinstance(out, io.TextIOBase):
        _write_csv(questions, out)
        return
    with csv_text(cast(BinaryIO, out), file=False) as text:  # a stream (standard output): no BOM
        _write_csv(questions, text)


def _write_csv(questions: Iterable[QuestionData], out: TextIO) -> None:
    writer = csv_writer(out)
    writer.writerow(HEADERS)
    for q in questions:
        writer.writerow([_safe(str(cell)) for cell in question_row(q)])


def _write_xlsx(questions: Iterable[QuestionData], out: IO[bytes]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("questions")
    sheet.append(list(HEADERS))
    for q in questions:
        row = question_row(q)
        row[4] = (
            float(q.points) if q.points == q.points.quantize(Decimal("0.01")) else str(q.points)
        )
        sheet.append([_safe(cell) for cell in row])
    workbook.save(out)
