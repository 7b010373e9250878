"""Aiken: parsing real-world layouts, refusals with line and column, export and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lms_core.errors import ErrorList, FileRefused
from lms_core.quizzes.bank.aiken import export_aiken, parse_aiken
from lms_core.quizzes.bank.shapes import QuestionData

EXAMPLE = Path(__file__).parents[3] / "examples" / "quizzes" / "world-capitals.aiken.txt"


def parse(text: str) -> list[QuestionData]:
    return parse_aiken(text, file="bank.txt")


def refused(text: str) -> list[dict]:
    with pytest.raises(FileRefused) as caught:
        parse(text)
    return [p.as_dict() for p in caught.value.errors]


def test_the_example_bank():
    bank = parse(EXAMPLE.read_text(encoding="utf-8"))
    assert [q.question_text for q in bank] == [
        "What is the capital of France?",
        "What is the capital of Japan?",
        "Which city is the capital of Australia?",
    ]
    assert [o["text"] for o in bank[1].options] == ["Kyoto", "Osaka", "Tokyo"]
    assert [o["weight"] for o in bank[1].options] == [0, 0, 100]
    assert all(q.question_type == "multiple_choice" and q.points == 1 for q in bank)
    assert [q.line for q in bank] == [1, 8, 14]


def test_layout_variants_crlf_bom_lowercase_answer_no_blank_lines_and_multi_line_questions():
    bank = parse(
        "\ufeffFirst line\r\nsecond line?\r\nA) one\r\nB)\ttwo\r\nanswer: b\r\nNext?\r\n"
        "  A. x\r\n  B. y\r\n  ANSWER:A\r\n"
    )
    assert bank[0].question_text == "First line\nsecond line?"
    assert [o["weight"] for o in bank[0].options] == [0, 100]
    assert bank[1].options[0] == {"text": "x", "weight": 100, "feedback": None}


@pytest.mark.parametrize(
    "text,line,column,message",
    [
        ("Q?\nA. x\nB. y\n", 1, 1, "no ANSWER: line"),
        ("Q?\nA. x\nB. y\n\nNext?\nA. a\nB. b\nANSWER: A\n", 1, 1, "no ANSWER: line"),
        ("Q?\nA. x\nB. y\nANSWER: D\n", 4, 9, "ANSWER D is not among the options (A, B)"),
        ("Q?\nA. x\nB. y\nANSWER: AB\n", 4, 9, "one option letter"),
        ("Q?\nA. x\nB. y\nANSWER:\n", 4, 8, "one option letter"),
        ("Q?\nA. x\nANSWER: A\n", 1, 1, "at least 2 options, found 1"),
        ("Q?\nANSWER: A\n", 1, 1, "at least 2 options, found 0"),
        ("ANSWER: A\n", 1, 1, "ANSWER without a question"),
        ("Q?\nA. x\nA. y\nANSWER: A\n", 3, 1, "option A appears twice"),
        ("Q?\nA. x\nB.\nC. z\nANSWER: A\n", 3, 1, "an option without text"),
        ("Q?", 1, 1, "a question without options"),
    ],
)
def test_malformed_banks_are_refused_with_line_and_column(text, line, column, message):
    problems = refused(text)
    assert any(
        (p["line"], p["column"]) == (line, column) and message in p["message"] for p in problems
    ), problems
    assert all(p["file"] == "bank.txt" for p in problems)


def test_every_problem_is_reported():
    problems = refused("Q1\nA. x\nB. y\nANSWER: E\n\nQ2\nA. x\n\nQ3\nA. a\nB. b\nANSWER: C\n")
    assert [p["line"] for p in problems] == [4, 6, 12]


def test_export_reads_back_the_same():
    bank = parse(EXAMPLE.read_text(encoding="utf-8"))
    assert parse(export_aiken(bank)) == bank


def test_export_refuses_what_aiken_cannot_hold_naming_each_question():
    bank = [
        QuestionData(
            "Q", "multiple_choice", [{"text": "a", "weight": 100}, {"text": "b", "weight": 0}]
        ),
        QuestionData("E", "essay", title="Essay one"),
        QuestionData("T", "true_false", [], True),
    ]
    with pytest.raises(ErrorList) as caught:
        export_aiken(bank)
    assert [e.field for e in caught.value.errors] == ["question 2", "question 3"]
    assert "question 2 (Essay one) is essay" in caught.value.errors[0].message


@given(
    st.text(max_size=80)
    | st.lists(
        st.sampled_from(["Q", "A. x", "B) y", "C.", "ANSWER: A", "ANSWER: C", "", "answer: b"]),
        max_size=12,
    ).map("\n".join)
)
def test_any_text_parses_or_is_refused_never_crashes(text):
    try:
        parse(text)
    except FileRefused as refusal:
        assert all(p.line for p in refusal.errors)
