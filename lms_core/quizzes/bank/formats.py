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
from lms_core.quizzes.bank.problems import utf8_text
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
        return read_question_table(raw, file=name, fmt=fmt)
    if isinstance(data, bytes):
        data = utf8_text(data, name)
    if fmt == "gift":
        from lms_core.quizzes.bank.gift import parse_gift

        return parse_gift(data, file=name, warnings=warnings)
    from lms_core.quizzes.bank.aiken import parse_aiken

    return parse_aiken(data, file=name)


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
