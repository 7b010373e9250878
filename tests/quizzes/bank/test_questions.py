"""validate_question enforces docs/question-shapes.md; QuestionData maps to the Question columns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from lms_core.models.quizzes import Question, QuestionType
from lms_core.quizzes.bank.shapes import (
    QUESTION_TYPES,
    TEXT_FORMATS,
    QuestionData,
    numerical_answer,
    validate_question,
)


def q(question_type: str, options: list[Any], key: Any = None, **kw: Any) -> QuestionData:
    return QuestionData("Q?", question_type, options, key, **kw)


def o(text: str, weight: Any, feedback: Any = None) -> dict[str, Any]:
    return {"text": text, "weight": weight, "feedback": feedback}


def test_types_are_the_models_types():
    assert set(QUESTION_TYPES) == {t.value for t in QuestionType}


def test_columns_round_trip_through_a_question_row():
    data = q(
        "multiple_choice",
        [o("a", 100), o("b", 0, "no")],
        title="T",
        text_format="markdown",
        points=Decimal("2.50"),
        explanation="because",
        category="cat",
    )
    row = Question(quiz_id=1, order_index=1, **data.to_columns())
    assert QuestionData.from_columns(row) == data
    assert QuestionData.from_columns(data.to_columns()) == data


@pytest.mark.parametrize(
    "question",
    [
        q("multiple_choice", [o("a", 100), o("b", 0), o("c", -50), o("d", 50)]),
        q("multiple_response", [o("a", 100 / 3), o("b", 100 / 3), o("c", 100 / 3), o("d", -100)]),
        q("true_false", [], True),
        q(
            "true_false",
            [{"value": True, "feedback": "y"}, {"value": False, "feedback": None}],
            False,
        ),
        q("short_answer", [o("a", 100), o("b", 0)]),
        q("numerical", [{**numerical_answer("3:1"), "weight": 100, "feedback": None}]),  # type: ignore[dict-item]
        q("matching", [{"left": "a", "right": "1"}, {"left": "b", "right": "1"}]),
        q("essay", []),
    ],
    ids=lambda x: x.question_type,
)
def test_valid_questions(question):
    assert validate_question(question) == []


@pytest.mark.parametrize(
    "question,problem",
    [
        (q("multiple_choice", [o("a", 100)]), "at least 2 options"),
        (q("multiple_choice", [o("a", 100), o("b", 100)]), "exactly one right option"),
        (q("multiple_choice", [o("a", 90), o("b", 0)]), "found 0"),
        (q("multiple_choice", [o("a", 100), o("b", 150)]), "weight must be a number from -100"),
        (q("multiple_choice", [o("a", 100), o("", 0)]), "option 2 has no text"),
        (q("multiple_choice", [o("a", 100), o("b", True)]), "weight must be a number"),
        (q("multiple_choice", [o("a", 100), o("b", 0)], 1), "correct answer must be empty"),
        (q("multiple_response", [o("a", 50), o("b", 40)]), "add up to 90%"),
        (q("true_false", [], "yes"), "true or false"),
        (q("true_false", [{"value": True}], True), "options must be empty"),
        (q("short_answer", []), "at least one accepted answer"),
        (q("short_answer", [o("a", 50)]), "worth 100%"),
        (q("short_answer", [o("a", 100), o("b", -10)]), "from 0 to 100"),
        (q("numerical", [{"min": 2, "max": 1, "weight": 100}]), "above max"),
        (q("numerical", [{"min": "a", "max": 1, "weight": 100}]), "must be numbers"),
        (q("numerical", [{"min": 1, "max": float("inf"), "weight": 100}]), "must be numbers"),
        (q("numerical", [{"min": 1, "max": 2, "tolerance": -1, "weight": 100}]), "tolerance"),
        (q("matching", [{"left": "a", "right": "1"}]), "at least 2 pairs"),
        (q("matching", [{"left": "a", "right": "1"}, {"left": "", "right": "2"}]), "no left side"),
        (q("essay", [o("a", 100)]), "no options"),
        (q("riddle", []), "question type must be one of"),
        (q("essay", [], text_format="rtf"), "text format"),
        (q("essay", [], points=Decimal("-1")), "points must be"),
        (q("essay", [], points=Decimal("1.234")), "at most 2 decimals"),
        (q("essay", [], title="x" * 201), "title"),
        (QuestionData("  ", "essay"), "question text is empty"),
    ],
)
def test_invalid_questions_say_why(question, problem):
    problems = validate_question(question)
    assert any(problem in p for p in problems), problems


def test_formats():
    assert TEXT_FORMATS == ("plain", "markdown", "html")


def test_numerical_answer_bounds_are_exact_decimals():
    assert numerical_answer("3.14:0.01") == {
        "min": 3.13,
        "max": 3.15,
        "value": 3.14,
        "tolerance": 0.01,
    }
    assert numerical_answer(" -5 .. -1 ") == {
        "min": -5,
        "max": -1,
        "value": None,
        "tolerance": None,
    }
    assert numerical_answer("1e3") == {"min": 1000, "max": 1000, "value": 1000, "tolerance": 0}
    for bad in ("", "x", "1:", "1:x", "3..1", "1:-1", "1e999", "1,5"):
        assert isinstance(numerical_answer(bad), str), bad
