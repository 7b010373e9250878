"""GIFT: every feature of a realistic bank, every escape, errors with line and column, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_core.errors import FileProblem, FileRefused
from lms_core.quizzes.bank.gift import export_gift, parse_gift
from lms_core.quizzes.bank.shapes import QuestionData
from tests.quizzes.bank.strategies import questions

EXAMPLE = Path(__file__).parents[3] / "examples" / "quizzes" / "python-basics.gift"


def parse(text: str) -> list[QuestionData]:
    return parse_gift(text, file="bank.gift")


def one(text: str) -> QuestionData:
    [question] = parse(text)
    return question


def refused(text: str) -> list[dict]:
    with pytest.raises(FileRefused) as caught:
        parse(text)
    return [p.as_dict() for p in caught.value.errors]


def test_the_example_bank_has_every_type_and_feature():
    warnings: list[FileProblem] = []
    bank = parse_gift(
        EXAMPLE.read_text(encoding="utf-8"), file="python-basics.gift", warnings=warnings
    )
    by_title = {q.title: q for q in bank}
    assert {q.question_type for q in bank} == {
        "multiple_choice",
        "multiple_response",
        "true_false",
        "short_answer",
        "numerical",
        "matching",
        "essay",
    }
    first = by_title["Keyword for functions"]
    assert first.text_format == "markdown"
    assert first.question_text == "Which keyword starts a **function** definition?"
    assert first.options[0] == {
        "text": "def",
        "weight": 100,
        "feedback": "Right: `def name(args):`",
    }
    assert first.explanation == "`def` is followed by the name, the parameters and a colon."
    assert first.category == "$course$/top/Python basics/Syntax"
    assert by_title["Comment marker"].question_text == (
        "A line comment in Python starts with _____ and runs to the end of the line."
    )
    assert [o["text"] for o in by_title["Comment marker"].options] == ["#", "//", "--"]
    assert [o["weight"] for o in by_title["Immutable types"].options] == [50, 50, -50, -50]
    assert by_title["None is falsy"].options == [
        {"value": True, "feedback": "Right."},
        {"value": False, "feedback": "Try it: bool(None) returns False."},
    ]
    assert by_title["None is falsy"].category == "$course$/top/Python basics/Values"
    assert by_title["Strings are mutable"].correct_answer is False
    assert [o["weight"] for o in by_title["len"].options] == [100, 100, 50]
    assert by_title["Pi"].options[0] == {
        "min": 3.13,
        "max": 3.15,
        "value": 3.14,
        "tolerance": 0.01,
        "weight": 100,
        "feedback": None,
    }
    assert by_title["Range"].options[0]["min"] == 1 and by_title["Range"].options[0]["max"] == 5
    assert by_title["Range"].explanation == "range stops before its end value."
    assert [(o["min"], o["max"], o["weight"]) for o in by_title["Bytes"].options] == [
        (8, 8, 100),
        (7, 9, 50),
    ]
    assert by_title["Literals"].options[1] == {"left": "{}", "right": "dict"}
    assert by_title["Explain a loop"].text_format == "html"
    assert all(q.points == 1 for q in bank)
    assert [w.line for w in warnings] == [len(EXAMPLE.read_text().splitlines())]


def test_every_escape_in_titles_texts_answers_and_feedback():
    q = one(
        "::a\\:b \\{c\\} \\~ \\= \\#::x \\~ \\= \\# \\{ \\} \\: \\\\ y\\nz {\n"
        "=1 \\=\\= 1#eq \\=\\= \\# \\{\\} \\: \\~ \\\\\n"
        "~\\{1\\} \\~ 1#not\\nhere\n"
        "####gen \\# \\{\n}"
    )
    assert q.title == "a:b {c} ~ = #"
    assert q.question_text == "x ~ = # { } : \\ y\nz"
    assert q.options == [
        {"text": "1 == 1", "weight": 100, "feedback": "eq == # {} : ~ \\"},
        {"text": "{1} ~ 1", "weight": 0, "feedback": "not\nhere"},
    ]
    assert q.explanation == "gen # {"


def test_a_backslash_before_other_characters_is_kept_for_latex():
    q = one("Solve \\(\\frac\\{1\\}\\{2\\}\\) {T}")
    assert q.question_text == "Solve \\(\\frac{1}{2}\\)"


@pytest.mark.parametrize(
    "block,qtype,options,key",
    [
        ("{=a ~b}", "multiple_choice", [("a", 100), ("b", 0)], None),
        ("{~%50%a ~%50%b ~c}", "multiple_response", [("a", 50), ("b", 50), ("c", 0)], None),
        ("{~%100%a ~%-100%b}", "multiple_response", [("a", 100), ("b", -100)], None),
        ("{=a ~%33.5%b ~%-0.5%c}", "multiple_choice", [("a", 100), ("b", 33.5), ("c", -0.5)], None),
        ("{=a}", "short_answer", [("a", 100)], None),
        ("{=a =%25%b}", "short_answer", [("a", 100), ("b", 25)], None),
        ("{T}", "true_false", [], True),
        ("{TRUE}", "true_false", [], True),
        ("{F}", "true_false", [], False),
        ("{false}", "true_false", [], False),
        ("{}", "essay", [], None),
        ("{ \n }", "essay", [], None),
    ],
)
def test_the_answer_block_decides_the_type(block, qtype, options, key):
    q = one(f"Q {block}")
    assert q.question_type == qtype
    assert [(o["text"], o["weight"]) for o in q.options if "text" in o] == options
    assert q.correct_answer is key


def test_true_false_feedback_is_wrong_then_right():
    assert one("Q {F#wrong#right}").options == [
        {"value": True, "feedback": "wrong"},
        {"value": False, "feedback": "right"},
    ]
    assert one("Q {TRUE##right####general}").options == [
        {"value": True, "feedback": "right"},
        {"value": False, "feedback": None},
    ]


def test_numerical_forms():
    def bounds(block: str) -> list[tuple]:
        return [(o["min"], o["max"], o["weight"]) for o in one(f"N {block}").options]

    assert bounds("{#3.14:0.01}") == [(3.13, 3.15, 100)]
    assert bounds("{#-5}") == [(-5, -5, 100)]
    assert bounds("{#1..5}") == [(1, 5, 100)]
    assert bounds("{#-2.5..-1e-1}") == [(-2.5, -0.1, 100)]
    assert bounds("{# =%100%3:0 =%50%3:1 }") == [(3, 3, 100), (2, 4, 50)]
    warnings: list[FileProblem] = []
    [q] = parse_gift("N {#=3:0#right ~#wrong}", file="f", warnings=warnings)
    assert q.options[0]["feedback"] == "right"
    assert "not kept" in warnings[0].message and warnings[0].column == 16


def test_missing_word_and_multi_line_questions():
    q = one("// comment\n::T::The {\n  ~second\n  =fourth\n} Thursday.")
    assert q.question_text == "The _____ Thursday."
    assert q.title == "T"


def test_comments_categories_and_blank_lines_separate_questions():
    bank = parse(
        "// header\n$CATEGORY: a/b\n\nQ1 {T}\n\n\n// between\nQ2 {F}\n$CATEGORY: c\nQ3 {T}\n\n"
        "$CATEGORY:\n\nQ4 {T}"
    )
    assert [(q.question_text, q.category) for q in bank] == [
        ("Q1", "a/b"),
        ("Q2", "a/b"),
        ("Q3", "c"),
        ("Q4", None),
    ]
    assert [q.line for q in bank] == [4, 8, 10, 14]


def test_format_markers():
    assert one("[html]<b>Q</b> {T}").text_format == "html"
    assert one("::t:: [markdown] *Q* {T}").question_text == "*Q*"
    assert one("[moodle]Q {T}").text_format == "plain"
    assert one("[other]Q {T}").question_text == "[other]Q"


def test_windows_line_endings_and_bom():
    assert [q.question_text for q in parse("\ufeffQ1 {T}\r\n\r\nQ2 {F}\r\n")] == ["Q1", "Q2"]


def test_a_description_item_is_skipped_with_a_warning():
    warnings: list[FileProblem] = []
    bank = parse_gift("Intro text.\n\nQ {T}", file="f", warnings=warnings)
    assert [q.question_text for q in bank] == ["Q"]
    assert warnings[0].line == 1 and "description" in warnings[0].message
    assert parse("// only a comment\n") == []


@pytest.mark.parametrize(
    "text,line,column,message",
    [
        ("Q {=a ~b", 1, 3, "not closed: missing }"),
        ("ok {T}\n\nQ\n{=a\n~b\n", 4, 1, "not closed"),
        ("Q {#abc}", 1, 5, "not a numerical answer"),
        ("Q {#1:x}", 1, 5, "not a numerical answer"),
        ("Q {#5..1}", 1, 5, "is empty"),
        ("Q {#=3:-1}", 1, 5, "tolerance must not be negative"),
        ("Q {~%30%a ~%30%b}", 1, 3, "add up to 60%"),
        ("Q {=a ~%120%b}", 1, 8, "between -100% and 100%"),
        ("Q {=a =b ~c}", 1, 3, "exactly one right option"),
        ("Q {=a ~}", 1, 7, "an empty answer"),
        ("Q {x =a ~b}", 1, 4, "text before the first answer"),
        ("Q {foo}", 1, 4, "cannot tell the question type"),
        ("::title Q {T}", 1, 1, "title is not closed"),
        ("{T}", 1, 1, "question text is empty"),
        ("Q } {T}", 1, 3, "} without an opening {"),
        ("Q {=a {b}", 1, 7, "{ inside an answer block"),
        ("Q {T} and {F}", 1, 11, "a second answer block"),
        ("Q {=a -> 1}", 1, 3, "at least 2 pairs"),
        ("Q {=a -> 1 =b}", 1, 12, "needs left -> right"),
        ("Q {=a -> 1 = -> 2}", 1, 12, "without a left side"),
        ("Q {=a -> 1#fb =b -> 2}", 1, 11, "no feedback"),
    ],
)
def test_malformed_questions_are_refused_with_line_and_column(text, line, column, message):
    [problem] = refused(text)
    assert (problem["line"], problem["column"]) == (line, column), problem
    assert message in problem["message"]
    assert problem["file"] == "bank.gift"


def test_a_category_longer_than_the_column_is_refused():
    [problem] = refused("  $CATEGORY: " + "x" * 201 + "\n\nQ {T}")
    assert (problem["line"], problem["column"]) == (1, 3)


def test_every_problem_of_the_file_is_reported_at_once():
    problems = refused("Q1 {=a ~b\n\nQ2 {T}\n\nQ3 {#x}\n\n  Q4 {~%10%a ~b}")
    assert [(p["line"], p["column"]) for p in problems] == [(1, 4), (5, 6), (7, 6)]


def test_weights_that_cannot_sum_are_refused_but_thirds_are_fine():
    assert one("Q {~%33.333%a ~%33.333%b ~%33.333%c ~d}").question_type == "multiple_response"
    assert "add up to 99.9%" in refused("Q {~%33.3%a ~%33.3%b ~%33.3%c}")[0]["message"]


@settings(max_examples=100, deadline=None)
@given(st.lists(questions(), max_size=5))
def test_export_then_import_gives_the_same_questions(bank):
    assert parse(export_gift(bank)) == bank


def test_export_of_the_example_bank_reads_back_the_same():
    bank = parse(EXAMPLE.read_text(encoding="utf-8"))
    text = export_gift(bank)
    assert parse(text) == bank
    assert "::Escapes\\: all of them::" in text


gift_tokens = st.sampled_from(
    [
        "{",
        "}",
        "=",
        "~",
        "#",
        "%50%",
        "%-100%",
        "->",
        "::",
        "\n\n",
        "\n",
        "T",
        "FALSE",
        "#3:1",
        "..",
        "1",
        "-2e3",
        "a",
        " ",
        "\\",
        "####",
        "$CATEGORY: x\n",
        "[html]",
        "//",
        ":",
        "%",
    ]
)


@given(st.text(max_size=60) | st.lists(gift_tokens, max_size=40).map("".join))
def test_any_text_parses_or_is_refused_never_crashes(text):
    try:
        parse(text)
    except FileRefused as refusal:
        assert all(isinstance(p, FileProblem) and p.line for p in refusal.errors)
