"""Our spreadsheet question format, CSV or XLSX (see docs/question-formats.md)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from lms_core.assessments.questions import QuestionData

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


def detect_format(
    name: str | bytes, text_or_bytes: str | bytes | None = None, *, file: str | None = None
) -> str:
    """``gift``, ``aiken``, ``csv`` or ``xlsx``: by the name's extension, else by the content.

    Call as ``detect_format(name, content)`` or ``detect_format(content, file=name)``; a name
    of ``-`` (stdin) or without a known extension is decided by the content. Raises
    ``FileRefused`` when neither tells.
    """
    raise NotImplementedError


def read_question_table(
    source: Path | bytes, *, file: str, fmt: str | None = None
) -> list[QuestionData]:
    """Questions from a CSV or XLSX file (a path, or the bytes of one: stdin).

    ``fmt`` is ``"csv"`` or ``"xlsx"``; by default from the path's extension or the content.
    Raises ``FileRefused`` with every problem (line = spreadsheet row, column = header name).
    """
    raise NotImplementedError


def write_question_table(questions: Iterable[QuestionData], out: Path | IO[Any], fmt: str) -> None:
    """Write ``questions`` as ``fmt`` ("csv": a text stream or path; "xlsx": binary or path)."""
    raise NotImplementedError
