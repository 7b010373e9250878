"""Answers as people give them (typed at a shell, or a JSON file) turned into stored answers.

A learner's front door gives JSON values already in their stored shape (docs/question-shapes.md)
and calls :func:`lms_core.quizzes.attempts.save_answers`. A shell gives text: what the text
means depends on the question's type (``true`` is a boolean for a true/false question, ``[0, 2]``
a list of option indexes for multiple response, anything at all the text of an essay), so the
question is looked up before the answer is read, here, and not in each front door.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.errors import FileProblem, FileRefused
from lms_core.models import QuestionType
from lms_core.quizzes.attempts import SaveResult, get_attempt, save_answers
from lms_core.quizzes.questions import ordered_questions
from lms_core.quizzes.scoring import QuestionLike

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def answer_from_text(question: QuestionLike, text: str) -> Any:
    """An answer typed at the shell: text for short answers and essays, JSON for the rest.

    ``true``/``yes``/``t`` are accepted for true/false; a plain number for numerical. Text
    that reads as nothing else is kept as text, so the answer check names what is wrong.
    """
    kind = question.question_type
    if kind in (QuestionType.short_answer.value, QuestionType.essay.value):
        return text
    if kind == QuestionType.true_false.value:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        return text
    if kind == QuestionType.numerical.value:
        return text.strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


def typed_answers(session: Session, *, attempt_id: int, typed: Mapping[int, str]) -> dict[int, Any]:
    """Typed answers by question number, read by each question's type.

    A number the quiz does not have is passed on as it is: ``save_answers`` refuses it with
    the range of numbers the quiz has.
    """
    _, quiz, _ = get_attempt(session, attempt_id)
    by_number = {q.order_index: q for q in ordered_questions(session, quiz.id)}
    return {
        n: answer_from_text(by_number[n], text) if n in by_number else text
        for n, text in typed.items()
    }


def save_typed_answers(
    session: Session,
    *,
    actor: Actor,
    attempt_id: int,
    typed: Mapping[int, str],
    now: datetime | None = None,
) -> SaveResult:
    """:func:`~lms_core.quizzes.attempts.save_answers` for answers typed as text."""
    answers = typed_answers(session, attempt_id=attempt_id, typed=typed)
    return save_answers(session, actor=actor, attempt_id=attempt_id, answers=answers, now=now)


def read_answers_file(data: bytes, *, file: str) -> dict[int, Any]:
    """A JSON answers file ``{"QUESTION_N": answer, ...}``: values in their stored shape.

    A file that is not UTF-8 (a byte order mark is fine: Windows editors write one), not JSON,
    or not such an object is refused with its place. So is a key given twice in an object (a
    question answered twice): JSON would keep the last one silently, and the first was maybe
    the one meant.
    """
    try:
        loaded = json.loads(data.decode("utf-8-sig"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as exc:
        raise FileRefused([FileProblem(f"is not UTF-8 ({exc.reason})", file=file)]) from None
    except json.JSONDecodeError as exc:
        raise FileRefused(
            [FileProblem(exc.msg, file=file, line=exc.lineno, column=str(exc.colno))]
        ) from None
    except _Duplicate as exc:
        raise FileRefused(
            [
                FileProblem(
                    f"key {json.dumps(exc.key)} is given twice (which one is meant?)", file=file
                )
            ]
        ) from None
    # isdecimal() alone takes "²" and "٣", which int() reads otherwise or not at all.
    if not isinstance(loaded, dict) or not all(k.isascii() and k.isdecimal() for k in loaded):
        raise FileRefused(
            [FileProblem('must be an object {"QUESTION_N": answer, ...}', file=file, line=1)]
        )
    return {int(k): v for k, v in loaded.items()}


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when a key comes twice (at any depth: an answer's own object)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out
