"""Format detection by name and by content (stdin has no name), and the one-door read/write."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from lms_core.errors import ErrorList, FileProblem, FileRefused
from lms_core.quizzes.bank.formats import detect_format, read_questions, write_questions
from lms_core.quizzes.bank.table import detect_format as detect_from_table_module

EXAMPLES = Path(__file__).parents[3] / "examples" / "quizzes"


@pytest.mark.parametrize(
    "name,fmt",
    [
        ("python-basics.gift", "gift"),
        ("world-capitals.aiken.txt", "aiken"),
        ("python-basics.csv", "csv"),
    ],
)
def test_examples_are_detected_by_name_and_by_content(name, fmt):
    data = (EXAMPLES / name).read_bytes()
    assert detect_format(name, data) == fmt
    assert detect_format("-", data) == fmt
    assert detect_format(data, file="-") == fmt
    assert detect_from_table_module(data, file="-") == fmt


def test_xlsx_by_content_and_extensions_win_over_content():
    out = io.BytesIO()
    write_questions(
        read_questions("b.csv", (EXAMPLES / "python-basics.csv").read_bytes()), "xlsx", out
    )
    assert detect_format("-", out.getvalue()) == "xlsx"
    assert detect_format("bank.GIFT", b"anything") == "gift"
    assert detect_format("bank.aiken", "Q {T}") == "aiken"


@pytest.mark.parametrize(
    "content,fmt",
    [
        ("Q {T}", "gift"),
        ("Q {\n  =a\n}", "gift"),
        ("Q {false#no}", "gift"),
        ("Q {}", "gift"),
        ("Is {x} a set?\nA. yes\nB. no\nANSWER: A\n", "aiken"),
        ("::t:: no block", "gift"),
        ("$CATEGORY: x\n", "gift"),
        ("Q?\nA. x\nB) y\nANSWER: B\n", "aiken"),
        ("\ufeffQuestion_Type,Question_Text\n", "csv"),
    ],
)
def test_content_detection(content, fmt):
    assert detect_format("-", content) == fmt


def test_undetectable_content_is_refused_naming_the_file():
    with pytest.raises(FileRefused) as caught:
        detect_format("notes.txt", "just some text")
    assert caught.value.errors[0].as_dict()["file"] == "notes.txt"


def test_read_questions_decodes_and_dispatches():
    warnings: list[FileProblem] = []
    bank = read_questions("-", (EXAMPLES / "python-basics.gift").read_bytes(), warnings=warnings)
    assert len(bank) == 13 and len(warnings) == 1
    assert len(read_questions("a.txt", (EXAMPLES / "world-capitals.aiken.txt").read_text())) == 3
    with pytest.raises(FileRefused, match="not UTF-8"):
        read_questions("x.gift", b"Q \xff {T}")


@pytest.mark.parametrize("fmt", ["gift", "csv", "xlsx"])
def test_write_then_read_in_every_lossless_format(fmt, tmp_path):
    bank = read_questions("b.gift", (EXAMPLES / "python-basics.gift").read_bytes())
    binary = io.BytesIO()
    write_questions(bank, fmt, binary)
    assert read_questions("-", binary.getvalue()) == bank
    write_questions(bank, fmt, tmp_path / f"bank.{fmt}")
    path = tmp_path / f"bank.{fmt}"
    assert read_questions(path.name, path.read_bytes()) == bank


def test_aiken_export_refuses_a_mixed_bank_whole():
    bank = read_questions("b.gift", (EXAMPLES / "python-basics.gift").read_bytes())
    with pytest.raises(ErrorList) as caught:
        write_questions(bank, "aiken", io.StringIO())
    assert len(caught.value.errors) == sum(q.question_type != "multiple_choice" for q in bank)
    text = io.StringIO()
    mc = [q for q in bank if q.question_type == "multiple_choice"]
    write_questions(mc, "aiken", text)
    assert text.getvalue().count("ANSWER:") == len(mc)
