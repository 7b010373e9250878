"""Aiken: single-answer multiple choice, one question per block (see docs/question-formats.md)."""

from __future__ import annotations

from collections.abc import Iterable

from lms_core.assessments.questions import QuestionData


def parse_aiken(text: str, *, file: str) -> list[QuestionData]:
    """Every question in ``text``; raises ``FileRefused`` with every problem found."""
    raise NotImplementedError


def export_aiken(questions: Iterable[QuestionData]) -> str:
    """Aiken text; raises ``ErrorList`` naming every question Aiken cannot hold."""
    raise NotImplementedError
