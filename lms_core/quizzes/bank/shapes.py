"""One question as plain data, and the rules its ``options``/``correct_answer`` must follow.

``QuestionData`` is what every question-bank format (GIFT, Aiken, our CSV/XLSX) reads and
writes, and what the quiz services turn into ``Question`` rows. ``validate_question`` enforces
the shapes of docs/question-shapes.md (summarised in ``docs/question-formats.md``) so a malformed
key never reaches the grader. Pure Python: no database, no SQLAlchemy import.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

QUESTION_TYPES = (
    "multiple_choice",
    "multiple_response",
    "true_false",
    "short_answer",
    "numerical",
    "matching",
    "essay",
)
TEXT_FORMATS = ("plain", "markdown", "html")
#: Weights may be off by this much and still "sum to 100" (three times 33.333 is 99.999).
WEIGHT_SUM_TOLERANCE = 0.1
#: The columns a ``Question`` row shares with ``QuestionData`` (``to_columns``/``from_columns``).
COLUMNS = (
    "title",
    "question_text",
    "text_format",
    "question_type",
    "points",
    "options",
    "correct_answer",
    "explanation",
    "category",
)
MAX_TITLE = 200
MAX_CATEGORY = 200
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_MAX_NUMBER = Decimal("1e300")


@dataclass
class QuestionData:
    """A question as a bank file holds it; equal when every stored column is equal.

    ``explanation`` is the general feedback (GIFT ``####``), shown after answering.
    ``line`` is where the question starts in the file it was read from (1-based), for messages
    only: it takes no part in equality.
    """

    question_text: str
    question_type: str
    options: list[Any] = field(default_factory=list)
    correct_answer: Any = None
    title: str | None = None
    text_format: str = "plain"
    points: Decimal = Decimal("1")
    explanation: str | None = None
    category: str | None = None
    line: int | None = field(default=None, compare=False, repr=False)

    def to_columns(self) -> dict[str, Any]:
        """Keyword arguments for a ``Question`` row (without quiz and position)."""
        return {name: getattr(self, name) for name in COLUMNS}

    @classmethod
    def from_columns(cls, row: Any) -> QuestionData:
        """From a ``Question`` row, a Core ``Row`` or a mapping with the same keys."""
        if isinstance(row, Mapping):
            values = {name: row.get(name) for name in COLUMNS}
        else:
            values = {name: getattr(row, name, None) for name in COLUMNS}
        points = values["points"]
        return cls(
            question_text=values["question_text"] or "",
            question_type=values["question_type"] or "",
            options=list(values["options"] or []),
            correct_answer=values["correct_answer"],
            title=values["title"],
            text_format=values["text_format"] or "plain",
            points=Decimal("1") if points is None else Decimal(str(points)),
            explanation=values["explanation"],
            category=values["category"],
        )


def is_number(value: Any) -> TypeGuard[int | float]:
    """A finite JSON number (``bool`` is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _feedback_ok(entry: Mapping[str, Any]) -> bool:
    fb = entry.get("feedback")
    return fb is None or isinstance(fb, str)


def validate_question(q: QuestionData) -> list[str]:
    """Every problem with ``q`` as a sentence (empty list: the question is valid)."""
    problems: list[str] = []
    if not isinstance(q.question_text, str) or not q.question_text.strip():
        problems.append("question text is empty")
    if q.title is not None and (not isinstance(q.title, str) or len(q.title) > MAX_TITLE):
        problems.append(f"title must be text of at most {MAX_TITLE} characters")
    if q.category is not None and (
        not isinstance(q.category, str) or len(q.category) > MAX_CATEGORY
    ):
        problems.append(f"category must be text of at most {MAX_CATEGORY} characters")
    if q.explanation is not None and not isinstance(q.explanation, str):
        problems.append("explanation must be text")
    if q.text_format not in TEXT_FORMATS:
        problems.append(f"text format must be one of {', '.join(TEXT_FORMATS)}")
    try:
        points = Decimal(q.points)
        if not points.is_finite() or points < 0 or points >= Decimal("1000000"):
            problems.append("points must be a number from 0 to 999999.99")
        elif points != points.quantize(Decimal("0.01")):
            problems.append("points may have at most 2 decimals")
    except (InvalidOperation, TypeError, ValueError):
        problems.append("points must be a number from 0 to 999999.99")
    if q.question_type not in QUESTION_TYPES:
        problems.append(f"question type must be one of {', '.join(QUESTION_TYPES)}")
        return problems
    if not isinstance(q.options, list):
        problems.append("options must be a list")
        return problems
    checker = _CHECKS[q.question_type]
    problems.extend(checker(q.options, q.correct_answer))
    return problems


def _weights(options: list[Any], problems: list[str], *, low: float) -> list[float]:
    weights: list[float] = []
    for i, opt in enumerate(options, 1):
        if not isinstance(opt, Mapping):
            problems.append(f"option {i} must be an object")
            continue
        text = opt.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"option {i} has no text")
        w = opt.get("weight")
        if not is_number(w) or not low <= w <= 100:
            problems.append(f"option {i}: weight must be a number from {low:g} to 100")
            w = 0
        if not _feedback_ok(opt):
            problems.append(f"option {i}: feedback must be text")
        weights.append(float(w))
    return weights


def _check_choice(options: list[Any], key: Any, *, multiple: bool) -> list[str]:
    problems: list[str] = []
    if key is not None:
        problems.append("correct answer must be empty (the options' weights are the key)")
    if len(options) < 2:
        problems.append("needs at least 2 options")
    weights = _weights(options, problems, low=-100)
    if problems:
        return problems
    if multiple:
        positive = sum(w for w in weights if w > 0)
        if abs(positive - 100) > WEIGHT_SUM_TOLERANCE:
            problems.append(f"the positive weights add up to {positive:g}%, not 100%")
    else:
        full = sum(1 for w in weights if w == 100)
        if full != 1:
            problems.append(
                f"needs exactly one right option (weight 100), found {full}"
                + ("; use multiple_response for several right options" if full > 1 else "")
            )
    return problems


def _check_multiple_choice(options: list[Any], key: Any) -> list[str]:
    return _check_choice(options, key, multiple=False)


def _check_multiple_response(options: list[Any], key: Any) -> list[str]:
    return _check_choice(options, key, multiple=True)


def _check_true_false(options: list[Any], key: Any) -> list[str]:
    problems: list[str] = []
    if not isinstance(key, bool):
        problems.append("correct answer must be true or false")
    if options:
        values = [o.get("value") if isinstance(o, Mapping) else None for o in options]
        if (
            len(options) != 2
            or values != [True, False]
            or not all(isinstance(o, Mapping) and _feedback_ok(o) for o in options)
        ):
            problems.append(
                'options must be empty or [{"value": true, "feedback": ...}, '
                '{"value": false, "feedback": ...}]'
            )
    return problems


def _check_short_answer(options: list[Any], key: Any) -> list[str]:
    problems: list[str] = []
    if key is not None:
        problems.append("correct answer must be empty (the options are the accepted answers)")
    if not options:
        problems.append("needs at least one accepted answer")
    weights = _weights(options, problems, low=0)
    if weights and not problems and max(weights) != 100:
        problems.append("needs an accepted answer worth 100%")
    return problems


def _check_numerical(options: list[Any], key: Any) -> list[str]:
    problems: list[str] = []
    if key is not None:
        problems.append("correct answer must be empty (the options are the accepted ranges)")
    if not options:
        problems.append("needs at least one accepted number or range")
    best: float | None = None
    for i, opt in enumerate(options, 1):
        if not isinstance(opt, Mapping):
            problems.append(f"answer {i} must be an object")
            continue
        lo, hi = opt.get("min"), opt.get("max")
        if not is_number(lo) or not is_number(hi):
            problems.append(f"answer {i}: min and max must be numbers")
        elif lo > hi:
            problems.append(f"answer {i}: min {lo:g} is above max {hi:g}")
        value, tol = opt.get("value"), opt.get("tolerance")
        if value is not None and not is_number(value):
            problems.append(f"answer {i}: value must be a number")
        if tol is not None and (not is_number(tol) or tol < 0):
            problems.append(f"answer {i}: tolerance must be a number of at least 0")
        elif is_number(value) and is_number(lo) and is_number(hi):
            expected = numerical_option(value, tol or 0)
            if (lo, hi) != (expected["min"], expected["max"]):
                problems.append(
                    f"answer {i}: min and max must be value - tolerance and value + tolerance "
                    f"({format_number(expected['min'])} and {format_number(expected['max'])})"
                )
        w = opt.get("weight")
        if not is_number(w) or not 0 <= w <= 100:
            problems.append(f"answer {i}: weight must be a number from 0 to 100")
        elif best is None or w > best:
            best = w
        if not _feedback_ok(opt):
            problems.append(f"answer {i}: feedback must be text")
    if best is not None and not problems and best != 100:
        problems.append("needs an accepted answer worth 100%")
    return problems


def _check_matching(options: list[Any], key: Any) -> list[str]:
    problems: list[str] = []
    if key is not None:
        problems.append("correct answer must be empty (the pairs are the key)")
    if len(options) < 2:
        problems.append("needs at least 2 pairs")
    for i, opt in enumerate(options, 1):
        if not isinstance(opt, Mapping):
            problems.append(f"pair {i} must be an object")
            continue
        for side in ("left", "right"):
            text = opt.get(side)
            if not isinstance(text, str) or not text.strip():
                problems.append(f"pair {i} has no {side} side")
    return problems


def _check_essay(options: list[Any], key: Any) -> list[str]:
    problems: list[str] = []
    if options:
        problems.append("an essay has no options")
    if key is not None:
        problems.append("an essay has no correct answer")
    return problems


_CHECKS = {
    "multiple_choice": _check_multiple_choice,
    "multiple_response": _check_multiple_response,
    "true_false": _check_true_false,
    "short_answer": _check_short_answer,
    "numerical": _check_numerical,
    "matching": _check_matching,
    "essay": _check_essay,
}


def numerical_answer(spec: str) -> dict[str, Any] | str:
    """``{min, max, value, tolerance}`` from ``v``, ``v:t`` or ``a..b``; a message if unreadable.

    ``value:tolerance`` is stored as its range too, computed in decimal (3.14:0.01 is
    3.13..3.15 exactly), so the grader compares bounds only.
    """
    syntax = "write #value, #value:tolerance or #min..max (numbers like 3.14 or -2e3)"
    if ".." in spec:
        low_text, _, high_text = spec.partition("..")
        low, high = read_number(low_text), read_number(high_text)
        if low is None or high is None:
            return f"not a numerical answer: {syntax}"
        if low > high:
            return f"the range {spec.strip()} is empty: min must not be above max"
        return {"min": json_number(low), "max": json_number(high), "value": None, "tolerance": None}
    value_text, colon, tolerance_text = spec.partition(":")
    value = read_number(value_text)
    tolerance = read_number(tolerance_text) if colon else Decimal(0)
    if value is None or tolerance is None:
        return f"not a numerical answer: {syntax}"
    if tolerance < 0:
        return "the tolerance must not be negative"
    return numerical_option(json_number(value), json_number(tolerance))


def numerical_option(value: int | float, tolerance: int | float) -> dict[str, Any]:
    """A ``value:tolerance`` answer with its bounds, as stored (no weight or feedback yet).

    The bounds are computed in decimal from the stored numbers, so 3.14:0.01 is exactly
    3.13..3.15 and an exported bank reads back to the same bounds.
    """
    exact_value, exact_tolerance = Decimal(format_number(value)), Decimal(format_number(tolerance))
    return {
        "min": json_number(exact_value - exact_tolerance),
        "max": json_number(exact_value + exact_tolerance),
        "value": value,
        "tolerance": tolerance,
    }


def decimal_text(text: str, max_length: int) -> Decimal | None:
    """A finite decimal written out plainly (``3``, ``-2.5``, ``1e-3``), at most ``max_length``
    characters (so ``1e999999`` text of any size cannot cost time); ``None`` otherwise."""
    if len(text) > max_length or not _NUMBER.fullmatch(text):
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern lets only numbers through
        return None
    return number if number.is_finite() else None


def read_number(text: str) -> Decimal | None:
    """A number written in a bank file (``3``, ``-2.5``, ``1e-3``); ``None`` if it is not one."""
    number = decimal_text(text.strip(), 40)
    return number if number is not None and abs(number) < _MAX_NUMBER else None


def json_number(number: Decimal) -> int | float:
    """As JSON stores it: an int when whole (and exact as a float), else the nearest float."""
    if number == number.to_integral_value() and abs(number) < 2**53:
        return int(number)
    return float(number)


def format_number(value: Any) -> str:
    """A stored number as text that ``read_number`` reads back to the same value."""
    return str(value) if isinstance(value, int) else repr(float(value))
