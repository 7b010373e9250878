"""Automatic grading: points for one answer to one question.

``make_grader(question)`` does the per-question work once (normalising accepted answers,
turning ranges into ``Decimal`` bounds, computing the points each weight is worth) and returns
a small closure, so a regrade of 100k attempts calls something that costs a dict lookup or two
per answer. ``grade(...)`` is the one-off form of the same thing.

Rules (docs/question-shapes.md): points = question points * credit %, rounded to 2 decimals
(ROUND_HALF_UP), never below 0, never above the points. A malformed answer (wrong type, an
index out of range, text where a number belongs) scores 0 and never raises; an essay returns
``None``: it waits for a human.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lms_core.quizzes.bank.shapes import QUESTION_TYPES, decimal_text

Grader = Callable[[Any], Decimal | None]

ZERO = Decimal("0.00")
_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)
#: Distinct multiple-response combinations remembered per question.
_CACHE_SIZE = 4096


def normalise_text(text: str) -> str:
    """What two short answers must share to match: NFC, casefold, trimmed, single spaces.

    ASCII text (most answers) takes a shortcut with the same result: NFC changes nothing and
    casefold is lower().
    """
    if text.isascii():
        return " ".join(text.lower().split())
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    return " ".join(folded.split())


def parse_number(value: Any) -> Decimal | None:
    """A finite number from an answer: int, float, Decimal or text ("3.5", "3,5", " -1e3 ").

    A lone comma is a decimal comma ("3,5" is 3.5); anything else (thousands separators,
    words, NaN, infinity, ``bool``) is not a number: ``None``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if "," in text:
        if "." in text or text.count(",") != 1:
            return None
        text = text.replace(",", ".")
    return decimal_text(text, 100)


def points_for(points: Decimal, credit_percent: Decimal) -> Decimal:
    """Points earned for a credit (%), clamped to 0..100 and rounded like docs/question-shapes.md."""
    credit = max(Decimal(0), min(_HUNDRED, credit_percent))
    return (Decimal(points) * credit / _HUNDRED).quantize(_CENT, rounding=ROUND_HALF_UP)


def _field(question: Any, name: str) -> Any:
    if isinstance(question, Mapping):
        return question.get(name)
    return getattr(question, name, None)


def make_grader(question: Any) -> Grader:
    """A function answer -> points (``None`` for an essay) for one question.

    ``question`` is anything with ``question_type``, ``points``, ``options`` and
    ``correct_answer`` (a ``QuestionData``, a ``Question`` row, a Core row, a mapping). The
    question is trusted to be valid (``validate_question``); answers are not.
    """
    qtype = _field(question, "question_type")
    raw_points = _field(question, "points")
    points = Decimal(str(raw_points)) if raw_points is not None else Decimal(1)
    options = _field(question, "options") or []
    builder = _BUILDERS.get(qtype)
    if builder is None:
        raise ValueError(f"unknown question type {qtype!r}")
    return builder(points, options, _field(question, "correct_answer"))


def grade(
    question_type: str, points: Decimal, options: list[Any], correct_answer: Any, answer: Any
) -> Decimal | None:
    """Points for one answer; ``None`` for an essay (graded by hand)."""
    question = {
        "question_type": question_type,
        "points": points,
        "options": options,
        "correct_answer": correct_answer,
    }
    return make_grader(question)(answer)


def _weight_table(points: Decimal, weights: list[Any]) -> tuple[Decimal, ...]:
    return tuple(points_for(points, _decimal(w)) for w in weights)


def _decimal(number: Any) -> Decimal:
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def _multiple_choice(points: Decimal, options: list[Any], key: Any) -> Grader:
    table = _weight_table(points, [o.get("weight", 0) for o in options])
    n = len(table)

    def grade_choice(answer: Any) -> Decimal:
        if type(answer) is int and 0 <= answer < n:
            return table[answer]
        return ZERO

    return grade_choice


def _multiple_response(points: Decimal, options: list[Any], key: Any) -> Grader:
    weights = [_decimal(o.get("weight", 0)) for o in options]
    n = len(weights)
    #: Every positive option chosen and nothing negative: full marks even when the
    #: weights are 33.333 + 33.333 + 33.333.
    all_positive = sum((w for w in weights if w > 0), Decimal(0))
    full = points_for(points, _HUNDRED)
    #: Learners pick few distinct combinations: remember each one's points.
    seen: dict[tuple[Any, ...], Decimal] = {}

    def grade_response(answer: Any) -> Decimal:
        if type(answer) is not list and type(answer) is not tuple:
            return ZERO
        key = tuple(answer)
        try:
            earned = seen.get(key)
        except TypeError:  # unhashable items: not indexes
            return ZERO
        if earned is not None:
            return earned
        earned = ZERO
        chosen = set()
        for index in key:
            if type(index) is not int or not 0 <= index < n:
                break
            chosen.add(index)
        else:
            total = sum((weights[i] for i in chosen), Decimal(0))
            earned = full if total >= all_positive else points_for(points, total)
        if len(seen) < _CACHE_SIZE:
            seen[key] = earned
        return earned

    return grade_response


def _true_false(points: Decimal, options: list[Any], key: Any) -> Grader:
    full = points_for(points, _HUNDRED)

    def grade_true_false(answer: Any) -> Decimal:
        if type(answer) is bool and answer is key:
            return full
        return ZERO

    return grade_true_false


def _short_answer(points: Decimal, options: list[Any], key: Any) -> Grader:
    accepted: dict[str, Decimal] = {}
    for option in options:
        earned = points_for(points, _decimal(option.get("weight", 0)))
        text = normalise_text(str(option.get("text", "")))
        if earned > accepted.get(text, ZERO):
            accepted[text] = earned
    get = accepted.get

    def grade_short_answer(answer: Any) -> Decimal:
        if not isinstance(answer, str):
            return ZERO
        return get(answer, None) or get(normalise_text(answer), ZERO)

    return grade_short_answer


def _numerical(points: Decimal, options: list[Any], key: Any) -> Grader:
    """Compares floats: the stored bounds are JSON numbers, and for two floats the order of
    their shortest decimal forms is their own order, so 3.13 is inside 3.13..3.15."""
    ranges = sorted(
        (
            (points_for(points, _decimal(o.get("weight", 0))), float(o["min"]), float(o["max"]))
            for o in options
        ),
        key=lambda r: r[0],
        reverse=True,
    )

    def grade_numerical(answer: Any) -> Decimal:
        number = _as_float(answer)
        if number is None:
            return ZERO
        for earned, low, high in ranges:
            if low <= number <= high:
                return earned
        return ZERO

    return grade_numerical


def _as_float(answer: Any) -> float | None:
    """``parse_number`` for the grader's hot loop, as a finite float."""
    kind = type(answer)
    if kind is float:
        return answer if answer - answer == 0.0 else None
    if kind is int:
        try:
            return float(answer)
        except OverflowError:
            return None
    if kind is str:
        text = answer.strip()
        if "," in text:
            if "." in text or text.count(",") != 1:
                return None
            text = text.replace(",", ".")
        if "_" in text:  # float() would read 1_000
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        return number if number - number == 0.0 else None  # not nan or inf
    if isinstance(answer, Decimal) and answer.is_finite():
        return float(answer)
    return None


def _matching(points: Decimal, options: list[Any], key: Any) -> Grader:
    rights = [normalise_text(str(o.get("right", ""))) for o in options]
    n = len(rights)
    table = [
        (points * k / n).quantize(_CENT, rounding=ROUND_HALF_UP) if n else ZERO
        for k in range(n + 1)
    ]

    def grade_matching(answer: Any) -> Decimal:
        if not isinstance(answer, Mapping):
            return ZERO
        right = 0
        for index, expected in enumerate(rights):
            given = answer.get(str(index))
            if isinstance(given, str) and normalise_text(given) == expected:
                right += 1
        return table[right]

    return grade_matching


def _essay(points: Decimal, options: list[Any], key: Any) -> Grader:
    def grade_essay(answer: Any) -> None:
        return None

    return grade_essay


#: The grader builder of each question type: the function named after the type.
_BUILDERS: dict[str, Callable[[Decimal, list[Any], Any], Grader]] = {
    kind: globals()[f"_{kind}"] for kind in QUESTION_TYPES
}
