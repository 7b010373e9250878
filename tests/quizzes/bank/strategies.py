"""Hypothesis strategies: valid questions of every type, with GIFT's and CSV's nasty characters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from lms_core.quizzes.bank.shapes import (
    QuestionData,
    json_number,
    numerical_option,
    validate_question,
)

NASTY = "~=#{}:\\[]%->/|'\"\n\t ,;_$@+"
_letters = st.characters(
    # Cf: a BOM or an unclosed bidi control is refused in every text field (cells.check_control).
    codec="utf-8",
    exclude_categories=("Cs", "Cc", "Cf", "Zl", "Zp"),
    exclude_characters="\r",
)
_chars = st.one_of(st.sampled_from(NASTY), _letters)
#: Stripped, non-empty text with special characters (and inner newlines) in it.
text = st.text(_chars, min_size=1, max_size=16).map(str.strip).filter(bool)
line_text = text.map(lambda t: " ".join(t.split())).filter(bool)
maybe_text = st.none() | text
weights = st.integers(-100, 99) | st.decimals(-99, 99, places=2).map(json_number)
numbers = st.integers(-10_000, 10_000) | st.decimals(-1000, 1000, places=3).map(json_number)
positive = st.integers(0, 100) | st.decimals(0, 10, places=3).map(json_number)


def _option(text_: str, weight: Any, feedback: str | None) -> dict[str, Any]:
    return {"text": text_, "weight": weight, "feedback": feedback}


@st.composite
def multiple_choice(draw: Any) -> tuple[list[Any], Any]:
    others = draw(st.lists(st.tuples(text, weights, maybe_text), min_size=1, max_size=4))
    right = _option(draw(text), 100, draw(maybe_text))
    options = [_option(*o) for o in others]
    options.insert(draw(st.integers(0, len(options))), right)
    return options, None


@st.composite
def multiple_response(draw: Any) -> tuple[list[Any], Any]:
    k = draw(st.integers(1, 4))
    share = json_number(Decimal(100) / k)
    right = [_option(draw(text), share, draw(maybe_text)) for _ in range(k)]
    wrong = [
        _option(t, -w, f)
        for t, w, f in draw(st.lists(st.tuples(text, positive, maybe_text), max_size=3))
    ]
    options = draw(st.permutations(right + wrong))
    return (options, None) if len(options) >= 2 else ([*options, _option("x", 0, None)], None)


@st.composite
def true_false(draw: Any) -> tuple[list[Any], Any]:
    key = draw(st.booleans())
    fb_true, fb_false = draw(maybe_text), draw(maybe_text)
    if fb_true is None and fb_false is None:
        return [], key
    return [{"value": True, "feedback": fb_true}, {"value": False, "feedback": fb_false}], key


@st.composite
def short_answer(draw: Any) -> tuple[list[Any], Any]:
    more = draw(st.lists(st.tuples(text, st.integers(0, 100), maybe_text), max_size=3))
    options = [_option(draw(text), 100, draw(maybe_text)), *(_option(*o) for o in more)]
    return draw(st.permutations(options)), None


@st.composite
def numerical(draw: Any) -> tuple[list[Any], Any]:
    options = []
    for weight in [100, *draw(st.lists(st.integers(0, 99), max_size=2))]:
        if draw(st.booleans()):
            option = numerical_option(draw(numbers), draw(positive))
        else:
            low, high = sorted([draw(numbers), draw(numbers)])
            option = {"min": low, "max": high, "value": None, "tolerance": None}
        options.append({**option, "weight": weight, "feedback": draw(maybe_text)})
    return draw(st.permutations(options)), None


@st.composite
def matching(draw: Any) -> tuple[list[Any], Any]:
    pairs = draw(st.lists(st.tuples(text, text), min_size=2, max_size=4))
    return [{"left": left, "right": right} for left, right in pairs], None


def essay() -> st.SearchStrategy[tuple[list[Any], Any]]:
    return st.just(([], None))


BODIES = {
    "multiple_choice": multiple_choice(),
    "multiple_response": multiple_response(),
    "true_false": true_false(),
    "short_answer": short_answer(),
    "numerical": numerical(),
    "matching": matching(),
    "essay": essay(),
}


@st.composite
def questions(draw: Any, *, with_points: bool = False) -> QuestionData:
    """A valid question of any type (points 1 unless ``with_points``: GIFT has no points)."""
    qtype = draw(st.sampled_from(sorted(BODIES)))
    options, key = draw(BODIES[qtype])
    q = QuestionData(
        question_text=draw(text),
        question_type=qtype,
        options=options,
        correct_answer=key,
        title=draw(st.none() | text),
        text_format=draw(st.sampled_from(["plain", "markdown", "html"])),
        points=draw(st.decimals(0, 1000, places=2)) if with_points else Decimal(1),
        explanation=draw(maybe_text),
        category=draw(st.none() | line_text),
    )
    assert validate_question(q) == [], (q, validate_question(q))
    return q
