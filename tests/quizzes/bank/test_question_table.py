"""Our CSV/XLSX question format: readable cells, JSON fallback, formula safety, row/column errors."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from lms_core.errors import FileRefused
from lms_core.quizzes.bank.shapes import QuestionData
from lms_core.quizzes.bank.table import HEADERS, read_question_table, write_question_table
from tests.quizzes.bank.strategies import questions

EXAMPLE = Path(__file__).parents[3] / "examples" / "quizzes" / "python-basics.csv"
HEADER = ",".join(HEADERS) + "\n"


def read_csv(text: str) -> list[QuestionData]:
    return read_question_table(text.encode("utf-8"), file="bank.csv", fmt="csv")


def refused(text: str) -> list[dict]:
    with pytest.raises(FileRefused) as caught:
        read_csv(text)
    return [p.as_dict() for p in caught.value.errors]


def written(bank: list[QuestionData], fmt: str) -> bytes:
    out = io.BytesIO()
    write_question_table(bank, out, fmt)
    return out.getvalue()


def test_the_example_bank_in_readable_cells():
    bank = {q.title: q for q in read_question_table(EXAMPLE, file="python-basics.csv")}
    assert len(bank) == 10
    assert bank["Keyword for functions"].options[0] == {
        "text": "def",
        "weight": 100,
        "feedback": None,
    }
    assert [o["weight"] for o in bank["Immutable types"].options] == [50, 50, -50, -50]
    assert bank["Immutable types"].points == Decimal(2)
    assert bank["None is falsy"].correct_answer is True
    assert [o["text"] for o in bank["len"].options] == ["len", "len()"]
    assert bank["Pi"].options[0]["min"] == 3.13
    assert bank["Range"].options[0]["value"] is None
    assert bank["Literals"].options[0] == {"left": "[]", "right": "list"}
    assert [o["text"] for o in bank["Pipes"].options] == ["|", "||", "or"]
    assert bank["Integer division"].options[1]["feedback"] == "That is 7 / 2, true division."
    assert bank["Explain a loop"].text_format == "markdown"
    assert bank["Explain a loop"].category == "Python basics/Loops"


def test_headers_are_case_and_order_free_and_only_type_and_text_are_required():
    [q] = read_csv("Question Text,QUESTION_TYPE, Correct Answer \nIs it?,True-False,TRUE\n")
    assert q.question_type == "true_false"
    [problem] = refused("question_text,question_type,correct_answer\nIs it?,true_false,\n")
    assert (problem["line"], problem["column"]) == (2, "correct_answer")


def test_unknown_duplicate_and_missing_columns_are_refused_on_the_header_row():
    problems = refused("question_text,points,points,notes\nQ,1,1,x\n")
    assert [(p["line"], p["column"], p["message"][:14]) for p in problems] == [
        (1, "points", "column given t"),
        (1, "notes", "unknown column"),
        (1, "question_type", "missing column"),
    ]


@pytest.mark.parametrize(
    "row,column,message",
    [
        ("riddle,Q,,", "question_type", "must be one of"),
        ("essay,,,", "question_text", "question text is empty"),
        ("multiple_choice,Q,a | b,C", "correct_answer", "C is not an option letter (A..B)"),
        ('multiple_choice,Q,a | b,"A, B"', "correct_answer", "multiple_response"),
        ("multiple_choice,Q,a || b,A", "options", "empty item"),
        ("multiple_choice,Q,,A", "options", "separated by |"),
        ("multiple_response,Q,a | b,", "correct_answer", "letter"),
        ("true_false,Q,,maybe", "correct_answer", "true or false"),
        ("true_false,Q,x,true", "options", "leaves options empty"),
        ("short_answer,Q,,", "correct_answer", "accepted answers"),
        ("numerical,Q,,3..1", "correct_answer", "is empty"),
        ("numerical,Q,,abc", "correct_answer", "not a numerical answer"),
        ("matching,Q,a -> 1 | b,", "options", "left -> right"),
        ("matching,Q,a -> 1,", "options", "at least 2 pairs"),
        ("essay,Q,,x", "correct_answer", "leaves correct_answer empty"),
        ('multiple_choice,Q,"[{""text"": 1",', "options", "not valid JSON"),
        ('multiple_choice,Q,"[{""text"": ""a"", ""weight"": 100}]",', "options", "at least 2"),
    ],
)
def test_bad_cells_are_refused_with_row_and_header(row, column, message):
    [problem] = refused("question_type,question_text,options,correct_answer\n" + row + "\n")
    assert (problem["line"], problem["column"]) == (2, column), problem
    assert message in problem["message"]


def test_points_and_every_problem_of_the_file():
    problems = refused(
        "question_type,question_text,points\n\nessay,A,x\nessay,B,-1\nessay,C,1.234\nessay,D,2,5\n"
    )
    assert [(p["line"], p["column"]) for p in problems] == [
        (3, "points"),
        (4, "points"),
        (5, "points"),
    ]


def test_formula_cells_are_neutralised_on_export_and_read_back_exactly():
    bank = [
        QuestionData(
            '=HYPERLINK("http://x")',
            "short_answer",
            [
                {"text": "+1", "weight": 100, "feedback": None},
            ],
            title="@SUM(A1)",
            explanation="'=kept apostrophe",
            category="-cat",
        ),
    ]
    data = written(bank, "csv")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[1][:3] == ["'@SUM(A1)", "short_answer", '\'=HYPERLINK("http://x")']
    assert rows[1][6] == "'+1" and rows[1][7] == "''=kept apostrophe" and rows[1][8] == "'-cat"
    assert read_csv(data.decode("utf-8")) == bank
    workbook = load_workbook(io.BytesIO(written(bank, "xlsx")))
    cells = [c.value for c in next(workbook.active.iter_rows(min_row=2))]
    assert cells[0] == "'@SUM(A1)" and cells[2].startswith("'=")
    assert read_question_table(written(bank, "xlsx"), file="b.xlsx") == bank


def test_cells_that_cannot_say_weights_or_feedback_fall_back_to_json():
    partial = QuestionData(
        "Q",
        "multiple_choice",
        [
            {"text": "a", "weight": 100, "feedback": "yes"},
            {"text": "b", "weight": 50, "feedback": None},
        ],
    )
    [row] = list(csv.DictReader(io.StringIO(written([partial], "csv").decode())))
    assert row["options"].startswith('[{"text": "a"') and row["correct_answer"] == ""
    plain = QuestionData(
        "Q",
        "multiple_choice",
        [
            {"text": "a|b", "weight": 0, "feedback": None},
            {"text": "c\\", "weight": 100, "feedback": None},
        ],
    )
    [row] = list(csv.DictReader(io.StringIO(written([plain], "csv").decode())))
    assert (row["options"], row["correct_answer"]) == ("a\\|b | c\\\\", "B")


def test_writes_to_paths_and_text_streams(tmp_path):
    bank = read_question_table(EXAMPLE, file="x")
    for name in ("out.csv", "out.xlsx"):
        write_question_table(bank, tmp_path / name, name.rsplit(".", 1)[1])
        assert read_question_table(tmp_path / name, file=name) == bank
    text = io.StringIO()
    write_question_table(bank, text, "csv")
    assert read_csv(text.getvalue()) == bank


def test_not_utf8_and_broken_workbooks_are_refused():
    with pytest.raises(FileRefused, match="not UTF-8"):
        read_question_table(b"question_type,question_text\nessay,\xff\n", file="x.csv", fmt="csv")
    with pytest.raises(FileRefused, match=r"not a readable \.xlsx workbook"):
        read_question_table(b"PK\x03\x04broken", file="x.xlsx")
    with pytest.raises(FileRefused, match="is empty"):
        read_csv("")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(questions(with_points=True), max_size=4))
def test_csv_export_then_import_gives_the_same_questions(bank):
    assert read_question_table(written(bank, "csv"), file="x.csv") == bank


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(questions(with_points=True), min_size=1, max_size=3))
def test_xlsx_export_then_import_gives_the_same_questions(bank):
    assert read_question_table(written(bank, "xlsx"), file="x.xlsx") == bank


def test_json_numerical_answers_get_their_bounds_and_inconsistent_bounds_are_refused():
    header = "question_type,question_text,options\n"
    [q] = read_csv(header + 'numerical,Q,"[{""value"": 3, ""tolerance"": 0.5, ""weight"": 100}]"\n')
    assert (q.options[0]["min"], q.options[0]["max"]) == (2.5, 3.5)
    [problem] = refused(
        header
        + 'numerical,Q,"[{""value"": 3, ""tolerance"": 1, ""min"": 0, ""max"": 9, ""weight"": 100}]"\n'
    )
    assert problem["column"] == "options" and "value - tolerance" in problem["message"]
