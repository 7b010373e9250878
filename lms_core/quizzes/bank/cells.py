"""The readable ``options``/``correct_answer`` cells of our CSV/XLSX question format.

Per type (docs/question-formats.md has the table):

- multiple choice: options ``Paris | London | Berlin``, correct answer ``A``;
- multiple response: options as above, correct answers ``A, C`` (each right option is worth
  100/k %, each wrong one costs as much, so ticking everything earns nothing);
- true/false: correct answer ``true`` or ``false``;
- short answer: correct answer ``Paris | City of Light`` (every accepted answer 100 %);
- numerical: correct answer ``3.14:0.01``, ``3.14`` or ``1..5`` (several with ``|``);
- matching: options ``Canada -> Ottawa | Italy -> Rome``;
- essay: both empty.

``|`` inside a text is written ``\\|`` (and a backslash before it ``\\\\``). Whatever the
readable form cannot say (weights, feedback) goes in the options cell as JSON in the stored
shape (a cell starting with ``[{``); the writer picks JSON only when it must.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from lms_core.quizzes.bank.shapes import (
    QUESTION_TYPES,
    format_number,
    is_number,
    json_number,
    numerical_answer,
    numerical_option,
)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TRUE = {"true": True, "t": True, "false": False, "f": False}
_SPLIT_LETTERS = re.compile(r"[\s,;|]+")
#: A JSON list of objects (or an empty one); ``[] -> list`` is a readable matching pair.
_JSON_LIST = re.compile(r"\[\s*(\{|\]\s*$)")


class CellError(ValueError):
    """A cell that cannot be read; ``column`` is the header it belongs to."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.column = column


def _with_bounds(option: Any) -> Any:
    """A JSON numerical answer given as value (and tolerance) gets its min and max."""
    if isinstance(option, dict) and is_number(option.get("value")) and "min" not in option:
        tolerance = option.get("tolerance")
        tolerance = tolerance if is_number(tolerance) and tolerance >= 0 else 0
        return {**option, **numerical_option(option["value"], tolerance)}
    return option


def split_pipes(cell: str) -> list[str]:
    """``a | b \\| c`` -> ``["a", "b | c"]``; an empty piece is an error."""
    pieces, current, i = [], [], 0
    while i < len(cell):
        c = cell[i]
        if c == "\\" and i + 1 < len(cell) and cell[i + 1] in "|\\":
            current.append(cell[i + 1])
            i += 2
            continue
        if c == "|":
            pieces.append("".join(current).strip())
            current = []
        else:
            current.append(c)
        i += 1
    pieces.append("".join(current).strip())
    if any(not p for p in pieces):
        raise ValueError("an empty item between | separators")
    return pieces


def join_pipes(items: list[str]) -> str:
    return " | ".join(_escape_piece(item) for item in items)


def _escape_piece(text: str) -> str:
    out = []
    for i, c in enumerate(text):
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if c == "|" or (c == "\\" and nxt in ("|", "\\", "")):
            out.append("\\")
        out.append(c)
    return "".join(out)


def decode_cells(question_type: str, options_cell: str, answer_cell: str) -> tuple[list[Any], Any]:
    """(options, correct_answer) as stored, from the two cells; raises ``CellError``."""
    options_cell, answer_cell = options_cell.strip(), answer_cell.strip()
    if _JSON_LIST.match(options_cell):
        try:
            options = json.loads(options_cell)
        except ValueError as exc:
            raise CellError(f"not valid JSON: {exc}", "options") from None
        if not isinstance(options, list):
            raise CellError("JSON options must be a list", "options")
        if question_type == "true_false":
            return options, _truth(answer_cell)
        if question_type == "numerical":
            options = [_with_bounds(o) for o in options]
        if answer_cell:
            raise CellError(
                "leave correct_answer empty when the options are JSON", "correct_answer"
            )
        return options, None
    try:
        return _READABLE[question_type](options_cell, answer_cell)
    except CellError:
        raise
    except ValueError as exc:
        column = "options" if options_cell and not answer_cell else "correct_answer"
        raise CellError(str(exc), column) from None


def _empty(cell: str, column: str, question_type: str) -> None:
    if cell:
        raise CellError(
            f"a {question_type.replace('_', ' ')} question leaves {column} empty", column
        )


def _letters(answer_cell: str, n: int) -> list[int]:
    letters = [x.upper() for x in _SPLIT_LETTERS.split(answer_cell) if x]
    if not letters:
        raise CellError("give the right option's letter (A, B, ...)", "correct_answer")
    indexes = []
    for letter in letters:
        if len(letter) != 1 or letter not in LETTERS[:n]:
            raise CellError(
                f"{letter} is not an option letter (A..{LETTERS[max(n - 1, 0)]})", "correct_answer"
            )
        indexes.append(LETTERS.index(letter))
    if len(set(indexes)) != len(indexes):
        raise CellError("a letter given twice", "correct_answer")
    return indexes


def _choice_texts(options_cell: str) -> list[str]:
    if not options_cell:
        raise CellError("list the options separated by |", "options")
    try:
        return split_pipes(options_cell)
    except ValueError as exc:
        raise CellError(str(exc), "options") from None


def _multiple_choice(options_cell: str, answer_cell: str) -> tuple[list[Any], Any]:
    texts = _choice_texts(options_cell)
    right = _letters(answer_cell, len(texts))
    if len(right) != 1:
        raise CellError(
            "one letter: several right options make a multiple_response", "correct_answer"
        )
    weights = [100 if i == right[0] else 0 for i in range(len(texts))]
    return [
        {"text": t, "weight": w, "feedback": None} for t, w in zip(texts, weights, strict=True)
    ], None


def _multiple_response(options_cell: str, answer_cell: str) -> tuple[list[Any], Any]:
    texts = _choice_texts(options_cell)
    right = set(_letters(answer_cell, len(texts)))
    share = json_number(Decimal(100) / len(right))
    return [
        {"text": t, "weight": share if i in right else -share, "feedback": None}
        for i, t in enumerate(texts)
    ], None


def _truth(cell: str) -> bool:
    value = _TRUE.get(cell.strip().lower())
    if value is None:
        raise CellError("must be true or false", "correct_answer")
    return value


def _true_false(options_cell: str, answer_cell: str) -> tuple[list[Any], Any]:
    _empty(options_cell, "options", "true_false")
    return [], _truth(answer_cell)


def _short_answer(options_cell: str, answer_cell: str) -> tuple[list[Any], Any]:
    _empty(options_cell, "options", "short_answer")
    if not answer_cell:
        raise CellError("list the accepted answers separated by |", "correct_answer")
    return [{"text": t, "weight": 100, "feedback": None} for t in split_pipes(answer_cell)], None


def _numerical(options_cell: str, answer_cell: str) -> tuple[list[Any], Any]:
    _empty(options_cell, "options", "numerical")
    if not answer_cell:
        raise CellError("give the number: 3.14, 3.14:0.01 (tolerance) or 1..5", "correct_answer")
    options = []
    for spec in split_pipes(answer_cell):
        option = numerical_answer(spec)
        if isinstance(option, str):
            raise CellError(option.replace("#", ""), "correct_answer")
        options.append({**option, "weight": 100, "feedback": None})
    return options, None


def _matching(options_cell: str, answer_cell: str) -> tuple[list[Any], Any]:
    _empty(answer_cell, "correct_answer", "matching")
    pairs = []
    for pair in _choice_texts(options_cell):
        left, arrow, right = pair.partition("->")
        if not arrow:
            raise CellError(f"write each pair as left -> right: {pair!r}", "options")
        pairs.append({"left": left.strip(), "right": right.strip()})
    return pairs, None


def _essay(options_cell: str, answer_cell: str) -> tuple[list[Any], Any]:
    _empty(options_cell, "options", "essay")
    _empty(answer_cell, "correct_answer", "essay")
    return [], None


#: The reader of each question type's cells: the function named after the type.
_READABLE: dict[str, Callable[[str, str], tuple[list[Any], Any]]] = {
    kind: globals()[f"_{kind}"] for kind in QUESTION_TYPES
}


def _readable(question_type: str, options: list[Any], key: Any) -> tuple[str, str] | None:
    """The readable cells for a question, or None when they cannot say it all."""
    try:
        if question_type in ("multiple_choice", "multiple_response"):
            texts = join_pipes([o["text"] for o in options])
            right = [LETTERS[i] for i, o in enumerate(options) if o["weight"] > 0]
            return texts, ", ".join(right)
        if question_type == "true_false":
            return "", "true" if key else "false"
        if question_type == "short_answer":
            return "", join_pipes([o["text"] for o in options])
        if question_type == "numerical":
            specs = [
                f"{format_number(o['value'])}:{format_number(o['tolerance'] or 0)}"
                if o.get("value") is not None
                else f"{format_number(o['min'])}..{format_number(o['max'])}"
                for o in options
            ]
            return "", join_pipes(specs)
        if question_type == "matching":
            return join_pipes([f"{o['left']} -> {o['right']}" for o in options]), ""
        if question_type == "essay":
            return "", ""
    except (KeyError, IndexError, TypeError):
        return None
    return None


def encode_cells(question_type: str, options: list[Any], key: Any) -> tuple[str, str]:
    """The (options, correct_answer) cells: readable when that reads back the same, else JSON."""
    readable = _readable(question_type, options, key)
    if readable is not None:
        try:
            if decode_cells(question_type, *readable) == (options, key):
                return readable
        except ValueError:
            pass
    as_json = json.dumps(options, ensure_ascii=False)
    return as_json, ("true" if key else "false") if question_type == "true_false" else ""
