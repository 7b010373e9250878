"""Collecting the problems of one file, so a refusal lists every one of them at once."""

from __future__ import annotations

import re
from typing import Any, Final

from lms_core.errors import FileProblem, FileRefused, ProblemCollector
from lms_core.formats.cells import check_control

#: Limits of a question bank (docs/question-formats.md, "Limits"), refused with file and line
#: before the text is parsed further, so a hostile file costs little time and memory.
MAX_LINE: Final = 10_000  # characters in one line of a GIFT or Aiken file
MAX_QUESTION_CHARS: Final = 100_000  # characters in one GIFT question (its lines together)
MAX_OPTIONS: Final = 100  # answers (or matching pairs) of one question
MAX_QUESTIONS: Final = 5_000  # questions in one file


def too_long(line: str, number: int, file: str) -> None:
    """Refuse the whole file at a line longer than ``MAX_LINE`` characters."""
    if len(line) > MAX_LINE:
        raise FileRefused(
            [
                FileProblem(
                    f"line is {len(line)} characters long, more than the {MAX_LINE} allowed",
                    file=file,
                    line=number,
                    column=MAX_LINE + 1,
                )
            ]
        )


def too_many_questions(count: int, line: int, file: str) -> None:
    """Refuse the whole file at its question number ``MAX_QUESTIONS + 1`` (at ``line``)."""
    if count > MAX_QUESTIONS:
        raise FileRefused(
            [
                FileProblem(
                    f"more than {MAX_QUESTIONS} questions in one file: split it",
                    file=file,
                    line=line,
                    column=1,
                )
            ]
        )


class Problems(ProblemCollector):
    """The problems found in ``file`` so far; ``raise_if_any`` refuses the whole file.

    ``column`` is the 1-based character position in the line for text formats (GIFT, Aiken)
    and the header name for spreadsheets. Parsers compare ``count`` before and after a
    question to tell whether that question had a problem (``items`` stops growing at the cap).
    """

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file

    def add(
        self, message: str, *, line: int | None = None, column: Any = None, value: Any = None
    ) -> None:
        if self.count_one():
            self.items.append(
                FileProblem(message, file=self.file, line=line, column=column, value=value)
            )

    def raise_if_any(self) -> None:
        if not self:
            return
        found = sorted(self.items, key=_order)
        if self.count > len(found):
            found.append(
                FileProblem(f"and {self.count - len(found)} more problems", file=self.file)
            )
        raise FileRefused(found)


def utf8_text(data: bytes, file: str) -> str:
    """The text of a bank file (a BOM dropped); refused, at the byte, when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            [FileProblem(f"is not UTF-8 text (byte {exc.start + 1})", file=file)]
        ) from None


#: NUL and the other control characters but tab and line breaks, and a byte-order mark past
#: the start of the file: never text in a bank (``cells.check_control`` names each).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff]")


def refuse_controls(text: str, file: str) -> None:
    """Refuse a GIFT or Aiken text holding a control character, at its line and column
    (1-based character position), before it is parsed: PostgreSQL cannot store a NUL."""
    problems = Problems(file)
    for found in _CONTROL.finditer(text):
        start = found.start()
        line_start = text.rfind("\n", 0, start) + 1
        problems.add(
            check_control(found.group()) or "contains a control character",
            line=text.count("\n", 0, start) + 1,
            column=start - line_start + 1,
        )
        if problems.count > 20:
            break
    problems.raise_if_any()


def _order(problem: FileProblem) -> tuple[int, int]:
    """By line, then by character position; spreadsheet cells keep their header order."""
    column: Any = problem.column
    return (problem.line or 0, column if isinstance(column, int) else 0)
