"""Aiken: single-answer multiple choice in plain text (see docs/question-formats.md).

::

    What is the capital of France?
    A. London
    B) Paris
    ANSWER: B

The question is the text before the first option (several lines are joined with newlines, an
extension: Moodle keeps only the last line), options are ``A.`` or ``A)`` and a space, and
``ANSWER: <letter>`` ends the question. Blank lines between questions are optional.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lms_core.errors import ErrorList, ValidationError
from lms_core.quizzes.bank.problems import Problems, too_long, too_many_questions
from lms_core.quizzes.bank.shapes import QuestionData, validate_question

_OPTION = re.compile(r"([A-Z])[.)][ \t]+(.*)")
_BARE_OPTION = re.compile(r"([A-Z])[.)]\s*$")
_ANSWER = re.compile(r"ANSWER\s*:\s*(.*)", re.IGNORECASE)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class _Draft:
    line: int
    text: list[str] = field(default_factory=list)
    options: list[tuple[str, str, int, int]] = field(
        default_factory=list
    )  # letter, text, line, col


def parse_aiken(text: str, *, file: str) -> list[QuestionData]:
    """Every question in ``text``; raises ``FileRefused`` with every problem found."""
    problems = Problems(file)
    questions: list[QuestionData] = []
    draft: _Draft | None = None
    parsed = 0  # questions with an ANSWER line, refused ones included
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    for number, raw in enumerate(text.split("\n"), 1):
        too_long(raw, number, file)
        line = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if not line:
            continue
        option = _OPTION.fullmatch(line)
        answer = _ANSWER.fullmatch(line)
        if answer:
            if draft is None or not draft.text:
                problems.add("ANSWER without a question before it", line=number, column=indent + 1)
            else:
                question = _finish(draft, answer.group(1), number, indent, raw, problems)
                if question is not None:
                    questions.append(question)
                parsed += 1
                too_many_questions(parsed, draft.line, file)
            draft = None
        elif option and draft is not None:
            if len(draft.options) == len(LETTERS):
                problems.add(
                    f"more than {len(LETTERS)} options in one question: Aiken letters stop at Z",
                    line=number,
                    column=indent + 1,
                )
                problems.raise_if_any()
            draft.options.append((option.group(1), option.group(2).strip(), number, indent + 1))
        elif _BARE_OPTION.fullmatch(line) and draft is not None:
            problems.add("an option without text", line=number, column=indent + 1, value=line)
        elif draft is not None and draft.options:
            problems.add(
                "no ANSWER: line after this question's options",
                line=draft.line,
                column=1,
                value=" ".join(draft.text)[:60],
            )
            draft = _Draft(number, [line])
        elif draft is None:
            draft = _Draft(number, [line])
        else:
            draft.text.append(line)
    if draft is not None:
        problems.add(
            "no ANSWER: line after this question"
            if draft.options
            else "a question without options",
            line=draft.line,
            column=1,
            value=" ".join(draft.text)[:60],
        )
    problems.raise_if_any()
    return questions


def _finish(
    draft: _Draft, letter_text: str, number: int, indent: int, raw: str, problems: Problems
) -> QuestionData | None:
    before = problems.count
    letters = [letter for letter, *_ in draft.options]
    for i, (letter, _text, line, column) in enumerate(draft.options):
        if letter in letters[:i]:
            problems.add(f"option {letter} appears twice", line=line, column=column)
    if len(draft.options) < 2:
        problems.add(
            f"needs at least 2 options, found {len(draft.options)}",
            line=draft.line,
            column=1,
            value=" ".join(draft.text)[:60],
        )
    key = letter_text.strip().upper()
    column = raw.find(letter_text.strip(), indent) + 1 if letter_text.strip() else len(raw) + 1
    if len(key) != 1 or key not in LETTERS:
        problems.add(
            "ANSWER must be one option letter, like ANSWER: B",
            line=number,
            column=column,
            value=letter_text.strip(),
        )
    elif key not in letters:
        problems.add(
            f"ANSWER {key} is not among the options ({', '.join(letters) or 'none'})",
            line=number,
            column=column,
            value=key,
        )
    if problems.count > before:
        return None
    q = QuestionData(
        question_text="\n".join(draft.text),
        question_type="multiple_choice",
        options=[
            {"text": text, "weight": 100 if letter == key else 0, "feedback": None}
            for letter, text, *_ in draft.options
        ],
        line=draft.line,
    )
    for message in validate_question(q):
        problems.add(message, line=draft.line, column=1)
    return q if problems.count == before else None


def aiken_problems(questions: Iterable[QuestionData]) -> list[ValidationError]:
    """Why each question (numbered from 1) cannot be written as Aiken; empty when all can."""
    errors = []
    for n, q in enumerate(questions, 1):
        name = f"question {n}" + (f" ({q.title})" if q.title else "")
        if q.question_type != "multiple_choice":
            errors.append(
                ValidationError(
                    f"{name} is {q.question_type.replace('_', ' ')}: Aiken holds only "
                    "multiple choice with one right answer (export as GIFT or CSV instead)",
                    field=f"question {n}",
                    value=q.question_type,
                )
            )
        elif len(q.options) > len(LETTERS):
            errors.append(
                ValidationError(
                    f"{name} has {len(q.options)} options: Aiken letters stop at Z",
                    field=f"question {n}",
                )
            )
    return errors


def export_aiken(questions: Iterable[QuestionData]) -> str:
    """Aiken text; raises ``ErrorList`` naming every question Aiken cannot hold.

    Nothing is skipped silently: a bank with an essay in it is refused whole, so an export
    never quietly loses questions. Newlines in texts become spaces (Aiken is line based),
    and partial or negative weights of the wrong options are not kept.
    """
    questions = list(questions)
    errors = aiken_problems(questions)
    if errors:
        raise ErrorList(list(errors))
    blocks = []
    for q in questions:
        lines = [_one_line(q.question_text)]
        right = "A"
        for letter, option in zip(LETTERS, q.options, strict=False):
            lines.append(f"{letter}. {_one_line(option['text'])}")
            if option["weight"] == 100:
                right = letter
        lines.append(f"ANSWER: {right}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())
