"""Collecting the problems of one file, so a refusal lists every one of them at once."""

from __future__ import annotations

from typing import Any

from lms_core.errors import FileProblem, FileRefused, ProblemCollector


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


def _order(problem: FileProblem) -> tuple[int, int]:
    """By line, then by character position; spreadsheet cells keep their header order."""
    column: Any = problem.column
    return (problem.line or 0, column if isinstance(column, int) else 0)
