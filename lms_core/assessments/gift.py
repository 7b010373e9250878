"""Moodle GIFT: parse a question bank, export one (see docs/question-formats.md)."""

from __future__ import annotations

from collections.abc import Iterable

from lms_core.assessments.questions import QuestionData
from lms_core.errors import FileProblem


def parse_gift(
    text: str, *, file: str, warnings: list[FileProblem] | None = None
) -> list[QuestionData]:
    """Every question in ``text``; raises ``FileRefused`` with every problem found.

    Items that are not questions (description items without an answer block) are skipped and
    reported in ``warnings`` when a list is given.
    """
    raise NotImplementedError


def export_gift(questions: Iterable[QuestionData]) -> str:
    """GIFT text that ``parse_gift`` reads back as the same questions."""
    raise NotImplementedError
