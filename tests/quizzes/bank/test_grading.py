"""Grading per question type: credit rules, rounding, normalisation, and no answer ever raises."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lms_core.quizzes.bank.marking import grade, make_grader, normalise_text, parse_number
from lms_core.quizzes.bank.shapes import QuestionData, numerical_option
from tests.quizzes.bank.strategies import questions


def q(question_type: str, options: list[Any], key: Any = None, points: str = "1") -> QuestionData:
    return QuestionData("Q?", question_type, options, key, points=Decimal(points))


def opt(text: str, weight: float, feedback: str | None = None) -> dict[str, Any]:
    return {"text": text, "weight": weight, "feedback": feedback}


MC = q("multiple_choice", [opt("a", 0), opt("b", 100), opt("c", 50), opt("d", -50)], points="2")
MR = q(
    "multiple_response",
    [opt("a", 50), opt("b", 50), opt("c", -50), opt("d", -50)],
    points="3",
)


@pytest.mark.parametrize(
    "answer,points",
    [(1, "2.00"), (0, "0.00"), (2, "1.00"), (3, "0.00"), (4, "0.00"), (-1, "0.00")],
)
def test_multiple_choice_scores_the_chosen_options_weight(answer, points):
    assert make_grader(MC)(answer) == Decimal(points)


@pytest.mark.parametrize(
    "answer,points",
    [
        ([0, 1], "3.00"),
        ([1, 0], "3.00"),
        ([0], "1.50"),
        ([0, 2], "0.00"),
        ([0, 1, 2], "1.50"),
        ([0, 1, 2, 3], "0.00"),
        ([2, 3], "0.00"),
        ([], "0.00"),
        ([0, 0], "1.50"),
    ],
)
def test_multiple_response_sums_weights_never_below_zero(answer, points):
    assert make_grader(MR)(answer) == Decimal(points)


def test_multiple_response_thirds_give_full_marks_when_all_right_options_are_chosen():
    third = 100 / 3
    thirds = q(
        "multiple_response", [opt("a", third), opt("b", third), opt("c", third)], points="10"
    )
    assert make_grader(thirds)([0, 1, 2]) == Decimal("10.00")
    assert make_grader(thirds)([0, 1]) == Decimal("6.67")


def test_true_false():
    grader = make_grader(q("true_false", [], True, points="1.5"))
    assert grader(True) == Decimal("1.50")
    assert grader(False) == Decimal("0.00")
    assert grader("true") == Decimal("0.00")  # answers are JSON booleans
    assert grader(1) == Decimal("0.00")


def test_short_answer_best_weight_among_normalised_matches():
    grader = make_grader(
        q("short_answer", [opt("Paris", 100), opt("paris city", 50), opt("PARIS  CITY", 20)])
    )
    assert grader("  pArIs ") == Decimal("1.00")
    assert grader("Paris\tCity") == Decimal("0.50")
    assert grader("Lyon") == Decimal("0.00")
    assert grader("Pa ris") == Decimal("0.00")


def test_short_answer_normalises_unicode_composition_and_case_folding():
    grader = make_grader(q("short_answer", [opt("Stra\u00dfe", 100), opt("Cafe\u0301", 100)]))
    assert grader("STRASSE") == Decimal("1.00")  # casefold: ß is ss
    assert grader("caf\u00e9") == Decimal("1.00")  # NFC: é composed equals e + accent


def test_numerical_tolerance_and_ranges_inclusive_best_weight_wins():
    grader = make_grader(
        q(
            "numerical",
            [
                {**numerical_option(3.14, 0.01), "weight": 100, "feedback": None},
                {
                    "min": 3,
                    "max": 4,
                    "value": None,
                    "tolerance": None,
                    "weight": 50,
                    "feedback": None,
                },
            ],
        )
    )
    assert grader(3.13) == grader("3.15") == grader("3,14") == Decimal("1.00")
    assert grader(3.16) == grader(4) == grader("3") == Decimal("0.50")
    assert grader(4.0001) == grader("abc") == grader(None) == grader(True) == Decimal("0.00")
    assert grader(float("nan")) == grader("inf") == grader("1,000.5") == Decimal("0.00")


def test_matching_credit_is_the_share_of_right_pairs():
    grader = make_grader(
        q(
            "matching",
            [{"left": "a", "right": "1"}, {"left": "b", "right": "2"}, {"left": "c", "right": "3"}],
            points="2",
        )
    )
    assert grader({"0": "1", "1": "2", "2": "3"}) == Decimal("2.00")
    assert grader({"0": "1", "1": "3", "2": "2"}) == Decimal("0.67")
    assert grader({"0": " 1 ", "2": "3"}) == Decimal("1.33")
    assert grader({0: "1"}) == grader(["1", "2", "3"]) == Decimal("0.00")


def test_essay_is_graded_by_hand():
    assert make_grader(q("essay", []))("anything") is None
    assert grade("essay", Decimal(1), [], None, "text") is None


def test_grade_is_make_grader_in_one_call():
    assert grade("multiple_choice", Decimal(2), MC.options, None, 2) == Decimal("1.00")


def test_graders_accept_rows_and_mappings():
    row = {"question_type": "true_false", "points": "2", "options": [], "correct_answer": False}
    assert make_grader(row)(False) == Decimal("2.00")


def test_rounding_is_half_up_to_cents():
    assert make_grader(q("multiple_choice", [opt("a", 100), opt("b", 12.5)], points="0.1"))(
        1
    ) == Decimal("0.01")


MALFORMED = [None, "", "x", 1.5, -1, 99, [], [None], ["0"], {"0": 1}, {"a": []}, True, object()]


@pytest.mark.parametrize("question", [MC, MR], ids=["mc", "mr"])
@pytest.mark.parametrize(
    "answer", MALFORMED, ids=lambda v: "object" if type(v) is object else repr(v)
)
def test_malformed_answers_score_zero(question, answer):
    assert make_grader(question)(answer) == Decimal("0.00")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(questions(with_points=True), json_values)
def test_any_answer_to_any_question_scores_between_zero_and_the_points(question, answer):
    earned = make_grader(question)(answer)
    if question.question_type == "essay":
        assert earned is None
    else:
        assert earned is not None and Decimal(0) <= earned <= question.points


@given(
    st.lists(st.integers(-100, 100), min_size=2, max_size=6),
    st.data(),
    st.decimals(0, 100, places=2),
)
def test_partial_credit_stays_within_zero_and_points(weights, data, points):
    options = [opt(str(i), w, None) for i, w in enumerate(weights)]
    chosen = data.draw(st.lists(st.integers(0, len(weights) - 1), unique=True))
    earned = make_grader(q("multiple_response", options, points=str(points)))(chosen)
    assert Decimal(0) <= earned <= points


words = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=6)


@given(st.lists(words, min_size=1, max_size=4), st.data())
def test_any_whitespace_or_case_variant_of_an_accepted_answer_gets_full_credit(parts, data):
    accepted = " ".join(parts)
    spaces = st.text(" \t\n\u00a0\u2003", min_size=1, max_size=3)
    variant = data.draw(spaces | st.just(""))
    for part in parts:
        flipped = "".join(c.swapcase() if data.draw(st.booleans()) else c for c in part)
        variant += flipped + data.draw(spaces)
    assume(
        normalise_text(variant) == normalise_text(accepted)
    )  # swapcase of e.g. "ǅ" may not round trip
    grader = make_grader(q("short_answer", [opt(accepted, 100)], points="4"))
    assert grader(variant) == Decimal("4.00")


@given(st.text(max_size=20))
def test_normalising_is_idempotent(text):
    assert normalise_text(normalise_text(text)) == normalise_text(text)


tolerances = st.decimals(0, 100, places=3)
values = st.decimals(-10_000, 10_000, places=3)


@given(values, tolerances, st.data())
def test_a_number_inside_value_plus_minus_tolerance_gets_credit_outside_none(value, tol, data):
    option = {**numerical_option(float(value), float(tol)), "weight": 100, "feedback": None}
    grader = make_grader(q("numerical", [option], points="1"))
    inside = data.draw(st.decimals(value - tol, value + tol, places=4))
    assert grader(str(inside)) == Decimal("1.00")
    assert grader(str(inside).replace(".", ",")) == Decimal("1.00")
    outside = data.draw(
        st.decimals(value + tol + Decimal("0.0001"), value + tol + 5, places=4)
        | st.decimals(value - tol - 5, value - tol - Decimal("0.0001"), places=4)
    )
    assert grader(str(outside)) == Decimal("0.00")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_parse_number_reads_floats_exactly_as_written(x):
    assert parse_number(x) == Decimal(repr(x))
    assert parse_number(repr(x)) == Decimal(repr(x))


@given(st.text(st.characters(max_codepoint=127), max_size=20))
def test_the_ascii_shortcut_normalises_like_the_unicode_path(text):
    import unicodedata

    full = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
    assert normalise_text(text) == " ".join(full.split())


@given(
    st.floats(-1e6, 1e6),
    st.decimals(-1000, 1000, places=6),
    st.decimals(0, 10, places=6),
)
def test_float_answers_are_graded_as_their_decimal_form(answer, value, tol):
    option = {**numerical_option(float(value), float(tol)), "weight": 100, "feedback": None}
    inside = (
        Decimal(repr(float(option["min"])))
        <= Decimal(repr(answer))
        <= Decimal(repr(float(option["max"])))
    )
    earned = make_grader(q("numerical", [option]))(answer)
    assert earned == (Decimal("1.00") if inside else Decimal("0.00"))
