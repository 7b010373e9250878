"""One door to every question-bank format: detect it, read it, write it.

``detect_format`` decides by the file name's extension, else by the content (a bank piped in
on stdin has no name). The readers import lazily, so detecting costs nothing.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from lms_core.errors import FileProblem
from lms_core.formats.atomic import atomic_text
from lms_core.quizzes.bank.detect import FORMATS, detect_by_content, detect_by_name, detect_format
from lms_core.quizzes.bank.problems import (
    MAX_OPTIONS,
    MAX_QUESTIONS,
    Problems,
    refuse_controls,
    too_many_questions,
    utf8_text,
)
from lms_core.quizzes.bank.shapes import QuestionData

__all__ = [
    "FORMATS",
    "detect_by_content",
    "detect_by_name",
    "detect_format",
    "read_questions",
    "write_questions",
]


def read_questions(
    name: str,
    data: str | bytes,
    *,
    fmt: str | None = None,
    warnings: list[FileProblem] | None = None,
) -> list[QuestionData]:
    """Parse ``data`` (the content of file ``name``) in ``fmt`` or the detected format.

    Raises ``FileRefused`` for a malformed file (every problem) or text that is not UTF-8.
    """
    fmt = fmt or detect_format(name, data)
    if fmt not in FORMATS:
        raise ValueError(f"unknown question format {fmt!r}")
    if fmt in ("csv", "xlsx"):
        from lms_core.quizzes.bank.table import read_question_table

        raw = data.encode("utf-8") if isinstance(data, str) else data
        return _within_limits(read_question_table(raw, file=name, fmt=fmt), name)
    if isinstance(data, bytes):
        data = utf8_text(data, name)
    refuse_controls(data, name)
    if fmt == "gift":
        from lms_core.quizzes.bank.gift import parse_gift

        return parse_gift(data, file=name, warnings=warnings)
    from lms_core.quizzes.bank.aiken import parse_aiken

    return parse_aiken(data, file=name)


def _within_limits(questions: list[QuestionData], file: str) -> list[QuestionData]:
    """A spreadsheet's questions, refused past ``MAX_QUESTIONS`` or ``MAX_OPTIONS`` (its cells
    are already capped in size by the table reader, so the count is checked after reading)."""
    if len(questions) > MAX_QUESTIONS:
        too_many_questions(len(questions), questions[MAX_QUESTIONS].line or 0, file)
    problems = Problems(file)
    for q in questions:
        if isinstance(q.options, list) and len(q.options) > MAX_OPTIONS:
            problems.add(
                f"{len(q.options)} options: at most {MAX_OPTIONS} in one question",
                line=q.line,
                column="options",
            )
    problems.raise_if_any()
    return questions


def write_questions(questions: Iterable[QuestionData], fmt: str, out: Path | IO[Any]) -> None:
    """Export in ``fmt`` to a path or a stream (text or binary; XLSX needs binary).

    Aiken refuses (``ErrorList``) a bank holding anything but single-answer multiple choice.
    """
    if fmt in ("csv", "xlsx"):
        from lms_core.quizzes.bank.table import write_question_table

        write_question_table(questions, out, fmt)
        return
    if fmt == "gift":
        from lms_core.quizzes.bank.gift import export_gift

        text = export_gift(questions)
    elif fmt == "aiken":
        from lms_core.quizzes.bank.aiken import export_aiken

        text = export_aiken(questions)
    else:
        raise ValueError(f"unknown question format {fmt!r}")
    if isinstance(out, Path):
        with atomic_text(out, newline=None) as stream:
            stream.write(text)
    elif isinstance(out, io.TextIOBase):
        out.write(text)
    else:
        out.write(text.encode("utf-8"))
