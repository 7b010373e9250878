"""Hostile question banks: malformed GIFT weights and the limits of a bank (docs/question-formats.md,
"Limits") are refused with file, line and column, quickly and before big structures are built."""

from __future__ import annotations

import time

import pytest

from lms_core.errors import FileRefused
from lms_core.quizzes.bank.aiken import parse_aiken
from lms_core.quizzes.bank.formats import read_questions
from lms_core.quizzes.bank.gift import export_gift, parse_gift
from lms_core.quizzes.bank.problems import (
    MAX_LINE,
    MAX_OPTIONS,
    MAX_QUESTION_CHARS,
    MAX_QUESTIONS,
)
from lms_core.quizzes.bank.shapes import QuestionData
from lms_core.quizzes.bank.table import write_question_table


def refused_gift(text: str) -> list[dict]:
    with pytest.raises(FileRefused) as caught:
        parse_gift(text, file="bank.gift")
    return [p.as_dict() for p in caught.value.errors]


def refused_aiken(text: str) -> list[dict]:
    with pytest.raises(FileRefused) as caught:
        parse_aiken(text, file="bank.txt")
    return [p.as_dict() for p in caught.value.errors]


@pytest.mark.parametrize(
    "text,column,value",
    [
        ("Q {=a ~%1e9%b}", 8, "%1e9%"),
        ("Q {=a ~%abc%b}", 8, "%abc%"),
        ("Q {=a ~%%b}", 8, "%%"),
        ("Q {~%50%a ~% 50%b}", 12, "% 50%"),
        ("Q {=%abc%a ~b}", 5, "%abc%"),
        ("Q {#=%x%3:1}", 6, "%x%"),
        ("Q {=a ~%101%b}", 8, "%101%"),
    ],
)
def test_a_weight_that_is_not_a_number_from_minus_100_to_100_is_refused(text, column, value):
    [problem] = refused_gift(text)
    assert (problem["line"], problem["column"], problem["value"]) == (1, column, value)
    assert "weight must be a number between -100% and 100%" in problem["message"]


def test_good_weights_and_a_lone_percent_sign_are_still_read():
    [q] = parse_gift("Q {~%50%a ~%50%b ~%-100%c ~50%d}", file="f")
    assert [(o["text"], o["weight"]) for o in q.options] == [
        ("a", 50),
        ("b", 50),
        ("c", -100),
        ("50%d", 0),
    ]


def test_an_answer_text_that_looks_like_a_weight_survives_an_export():
    q = QuestionData(
        question_text="Q",
        question_type="multiple_choice",
        options=[
            {"text": "%abc% off", "weight": 100, "feedback": None},
            {"text": "%1e9%", "weight": 0, "feedback": None},
        ],
    )
    [back] = parse_gift(export_gift([q]), file="f")
    assert back.options == q.options


def test_a_long_gift_line_is_refused_at_once_with_its_line():
    text = "Q1 {T}\n\n" + "Q " + "x" * 200_000 + " {T}\n"
    started = time.perf_counter()
    [problem] = refused_gift(text)
    assert time.perf_counter() - started < 0.5
    assert (problem["line"], problem["column"]) == (3, MAX_LINE + 1)
    assert f"more than the {MAX_LINE} allowed" in problem["message"]
    # A line of exactly MAX_LINE characters is read.
    [q] = parse_gift("Q" + "x" * (MAX_LINE - 5) + " {T}", file="f")
    assert len(q.question_text) == MAX_LINE - 4


def test_a_gift_question_of_many_lines_is_refused_past_its_size():
    line = "x" * 999
    text = "Q {T}\n\n" + "\n".join([line] * (MAX_QUESTION_CHARS // 1000 + 1)) + "\n{T}\n"
    [problem] = refused_gift(text)
    assert problem["line"] == 3 and f"longer than {MAX_QUESTION_CHARS}" in problem["message"]


def test_a_long_aiken_line_is_refused():
    [problem] = refused_aiken("Q?\nA. " + "y" * 200_000 + "\nB. n\nANSWER: A\n")
    assert (problem["line"], problem["column"]) == (2, MAX_LINE + 1)


def test_options_past_the_limit_are_refused():
    answers = " ".join(f"~o{n}" for n in range(MAX_OPTIONS))
    [problem] = refused_gift(f"Q {{=right {answers}}}")
    assert problem["line"] == 1 and f"more than {MAX_OPTIONS} answers" in problem["message"]
    pairs = " ".join(f"=l{n} -> r{n}" for n in range(MAX_OPTIONS + 1))
    assert f"more than {MAX_OPTIONS} pairs" in refused_gift(f"Q {{{pairs}}}")[0]["message"]
    numbers = " ".join(f"=%50%{n}" for n in range(MAX_OPTIONS + 1))
    assert "answers" in refused_gift(f"Q {{#{numbers}}}")[0]["message"]
    # At the limit: read.
    weights = " ".join(f"~%1%o{n}" for n in range(MAX_OPTIONS))
    [q] = parse_gift(f"Q {{{weights}}}", file="f")
    assert len(q.options) == MAX_OPTIONS


def test_an_aiken_question_with_a_thousand_options_is_refused_fast():
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    options = "\n".join(f"{letters[n % 26]}. option {n}" for n in range(1000))
    started = time.perf_counter()
    [problem] = refused_aiken(f"Q?\n{options}\nANSWER: A\n")
    assert time.perf_counter() - started < 0.5
    assert (problem["line"], problem["column"]) == (28, 1)
    assert "more than 26 options" in problem["message"]
    # 26 options (A..Z) are read.
    options = "\n".join(f"{letter}. option {letter}" for letter in letters)
    [q] = parse_aiken(f"Q?\n{options}\nANSWER: Z\n", file="f")
    assert len(q.options) == 26


@pytest.mark.parametrize("fmt", ["gift", "aiken", "csv"])
def test_questions_per_file_past_the_limit_are_refused(fmt, tmp_path):
    def bank(count: int) -> bytes:
        if fmt == "gift":
            return "".join(f"Q{n} {{T}}\n\n" for n in range(count)).encode()
        if fmt == "aiken":
            return "".join(f"Q{n}?\nA. y\nB. n\nANSWER: A\n\n" for n in range(count)).encode()
        path = tmp_path / "bank.csv"
        q = QuestionData(question_text="Q", question_type="true_false", correct_answer=True)
        write_question_table([q] * count, path, "csv")
        return path.read_bytes()

    assert len(read_questions(f"bank.{fmt}", bank(MAX_QUESTIONS), fmt=fmt)) == MAX_QUESTIONS
    with pytest.raises(FileRefused) as caught:
        read_questions(f"bank.{fmt}", bank(MAX_QUESTIONS + 1), fmt=fmt)
    [problem] = caught.value.errors
    assert f"more than {MAX_QUESTIONS} questions" in problem.message
    lines = {
        "gift": 2 * MAX_QUESTIONS + 1,
        "aiken": 5 * MAX_QUESTIONS + 1,
        "csv": MAX_QUESTIONS + 2,
    }
    assert problem.line == lines[fmt]
