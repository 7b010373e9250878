"""One door to every question-bank format: detect it, read it, write it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from lms_core.assessments.question_table import detect_format
from lms_core.assessments.questions import QuestionData
from lms_core.errors import FileProblem

FORMATS = ("gift", "aiken", "csv", "xlsx")
__all__ = ["FORMATS", "detect_format", "read_questions", "write_questions"]


def read_questions(
    name: str,
    data: str | bytes,
    *,
    fmt: str | None = None,
    warnings: list[FileProblem] | None = None,
) -> list[QuestionData]:
    """Parse ``data`` (the content of file ``name``) in ``fmt`` or the detected format."""
    raise NotImplementedError


def write_questions(questions: Iterable[QuestionData], fmt: str, out: Path | IO[Any]) -> None:
    """Export in ``fmt`` to a path or stream (text for gift/aiken/csv, binary for xlsx)."""
    raise NotImplementedError
