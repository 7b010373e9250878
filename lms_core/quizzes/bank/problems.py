"""Collecting the problems of one file, so a refusal lists every one of them at once."""

from __future__ import annotations

from typing import Any

from lms_core.errors import FileProblem, FileRefused


class Problems:
    """The problems found in ``file`` so far; ``raise_if_any`` refuses the whole file.

    ``column`` is the 1-based character position in the line for text formats (GIFT, Aiken)
    and the header name for spreadsheets.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.found: list[FileProblem] = []

    def add(
        self, message: str, *, line: int | None = None, column: Any = None, value: Any = None
    ) -> None:
        self.found.append(
            FileProblem(message, file=self.file, line=line, column=column, value=value)
        )

    def raise_if_any(self) -> None:
        if self.found:
            raise FileRefused(sorted(self.found, key=_order))

    def __bool__(self) -> bool:
        return bool(self.found)


def _order(problem: FileProblem) -> tuple[int, int]:
    """By line, then by character position; spreadsheet cells keep their header order."""
    column: Any = problem.column
    return (problem.line or 0, column if isinstance(column, int) else 0)
