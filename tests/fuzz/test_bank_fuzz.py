"""Quiz-bank imports (GIFT and Aiken) under seeded mutations: a malformed bank is refused
whole with lines and columns, never a traceback, and the quiz keeps its questions."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lms_core.ops.demo_quiz import GIFT
from tests.cli.helpers import ok
from tests.fuzz import mutate as m
from tests.fuzz.conftest import SEED, Fuzzer

AIKEN = """\
What does len("hello") return?
A. 4
B. 5
C. "hello"
ANSWER: B

Which keyword defines a function?
A) def
B) fun
C) lambda
D) class
ANSWER: A
"""

#: Weights Moodle would keep as answer text, and ones that are out of range.
WEIGHTS = [
    "%1e9%",
    "%abc%",
    "%-0%",
    "%100.0001%",
    "%-101%",
    "%%",
    "%50",
    "%NaN%",
    "%1_0%",
    "%\u0665\u0660%",
    "%0x32%",
    "%50%%50%",
    "%+50%",
    "%.5%",
    "%5.%",
]
GIFT_BITS = [
    "{",
    "}",
    "{}",
    "=",
    "~",
    "#",
    "->",
    "::",
    "\\",
    "\\{",
    "\\}",
    "\\=",
    "\\~",
    "\\#",
    "$CATEGORY:",
    "[html]",
    "[markdown]",
    "[moodle]",
    "{#",
    "{#1..",
    "{#1:2:3}",
    "{T}",
    "{FALSE#}",
    "::::",
    "{=a->b ~c}",
    "// ",
    "\\n",
    "{#=1:0 =%50%2:1}",
    "<script>",
]
AIKEN_BITS = [
    "ANSWER:",
    "ANSWER: Z",
    "ANSWER: AB",
    "answer: a",
    "A.",
    "A)",
    "Z. zed",
    "\nANSWER: A",
    "\n\n",
    "ANSWER:A",
    "B. duplicate",
    "\nA. again",
]


def _insert_piece(pieces: list[str]) -> m.Mutator:
    def insert(data: bytes, rng: random.Random) -> bytes:
        for _ in range(rng.randint(1, 3)):
            data = m._insert(data, rng, rng.choice(pieces).encode())
        return data

    insert.__name__ = "insert_" + ("weight" if pieces is WEIGHTS else "syntax")
    return insert


def _delete_piece(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        if data:
            at = rng.randrange(len(data))
            data = data[:at] + data[at + rng.randint(1, 3) :]
    return data


def _many_options(marker: str) -> m.Mutator:
    def many_options(data: bytes, rng: random.Random) -> bytes:
        n = rng.choice([30, 101, 300, 2000])
        if marker == "gift":
            extra = "".join(f" ~opt{i}" for i in range(n))
            return data.replace(b"{=def}", f"{{=def{extra}}}".encode(), 1)
        letters = [chr(65 + i % 26) * (1 + i // 26) for i in range(n)]
        extra = "".join(f"{letter}. opt{i}\n" for i, letter in enumerate(letters))
        return data.replace(b"ANSWER: B", f"{extra}ANSWER: B".encode(), 1)

    return many_options


def _many_questions(data: bytes, rng: random.Random) -> bytes:
    return data + (b"\n\n" + data) * rng.choice([5, 40])


GENERIC = [
    m.flip_bytes,
    m.truncate,
    m.insert_control,
    m.insert_bidi,
    m.bom_mid_file,
    m.unbalance_quotes,
    m.long_line,
    m.mix_newlines,
    m.reencode,
    m.odd_cells,
    _delete_piece,
    _many_questions,
]
SAMPLES = [
    (
        "gift",
        GIFT,
        [*GENERIC, _insert_piece(WEIGHTS), _insert_piece(GIFT_BITS), _many_options("gift")],
        60,
    ),
    ("aiken", AIKEN, [*GENERIC, _insert_piece(AIKEN_BITS), _many_options("aiken")], 40),
]


@pytest.fixture
def quiz(cli: Any, make: Any, tmp_path: Path) -> str:
    """A quiz lesson ``py/check`` whose quiz already holds the demo GIFT bank's questions."""
    course = make.course(slug="py", instructor=make.user("instructor"), lessons=1, published=True)
    make.lesson(course, slug="check", lesson_type="quiz")
    ok(cli("quizzes", "create", "py", "check", "--title", "Check"))
    bank = tmp_path / "demo.gift"
    bank.write_text(GIFT, encoding="utf-8")
    ok(cli("quizzes", "import", "py/check", str(bank), "--json"))
    return "py/check"


@pytest.mark.parametrize(("fmt", "sample", "mutators", "cases"), SAMPLES, ids=["gift", "aiken"])
def test_mutated_banks_are_imported_or_refused_whole(
    quiz: str,
    fuzzer: Callable[[str], Fuzzer],
    scale: Callable[[int], int],
    tmp_path: Path,
    fmt: str,
    sample: str,
    mutators: list[m.Mutator],
    cases: int,
) -> None:
    rng = random.Random(f"{SEED}-bank-{fmt}")  # noqa: S311 - seeded on purpose
    fuzz = fuzzer("bank")
    data = sample.encode()
    for n in range(scale(cases)):
        label, mutated = m.mutate(data, rng, mutators)
        path = tmp_path / f"case-{n}.{'gift' if fmt == 'gift' else 'txt'}"
        path.write_bytes(mutated)
        extra = rng.choice(
            [
                [],
                [],
                ["--format", fmt],
                ["--replace"],
                ["--format", rng.choice(["gift", "aiken", "csv", "xlsx"])],
            ]
        )
        fuzz.run(
            f"{fmt} #{n} {label} {extra}", "quizzes", "import", quiz, str(path), *extra, "--json"
        )
    fuzz.assert_clean()


def test_odd_banks_are_refused_cleanly(
    quiz: str, cli: Any, fuzzer: Callable[[str], Fuzzer], tmp_path: Path
) -> None:
    fuzz = fuzzer("bank")
    for label, data in m.special_files(b"::q:: Question? {=a ~b}\n"):
        for fmt in ("gift", "aiken"):
            path = tmp_path / f"{label}.{fmt}"
            path.write_bytes(data)
            fuzz.run(
                f"{fmt} {label}", "quizzes", "import", quiz, str(path), "--format", fmt, "--json"
            )
    for weight in WEIGHTS:
        path = tmp_path / "weight.gift"
        path.write_text(f"::w:: Pick {{ ~{weight}yes ~%50%no =maybe }}\n", encoding="utf-8")
        result = fuzz.run(f"gift weight {weight}", "quizzes", "import", quiz, str(path), "--json")
        if weight in ("%1e9%", "%abc%", "%-101%", "%NaN%"):
            assert result.exit_code == 1, f"{weight}: {result.stdout}"
    one_line = ("::long:: " + "word " * 3000 + "{=a ~b}\n").encode()
    huge_line = b"::huge:: " + b"word " * 200_000 + b"{=a ~b}\n"  # 1 MB on one line
    for label, data in [("long line", one_line), ("1 MB line", huge_line)]:
        path = tmp_path / "long.gift"
        path.write_bytes(data)
        result = fuzz.run(f"gift {label}", "quizzes", "import", quiz, str(path), "--json")
        assert result.exit_code == 1, result.stdout[:300]  # past the documented line limit
    for label, text in [
        ("nul", "::q:: a\x00b {=a ~b}"),
        ("bidi", "::q:: \u202e{=a ~b}"),
        ("open brace", "{=a ~b"),
        ("aiken", "Q?\nA. a\nANSWER: A\n"),
        ("empty", ""),
    ]:
        fuzz.run(f"stdin {label}", "quizzes", "import", quiz, "-", "--json", input=text)
    for name in (
        "py/ch\x00eck",
        "p\x00y/check",
        "\x00",
        "py/",
        "/check",
        "py/check/x",
        "99999999999999999999",
    ):
        fuzz.run(f"quiz {name!r}", "quizzes", "import", name, str(path), "--json", usage_ok=True)
    fuzz.assert_clean()


def test_mutated_csv_banks_are_imported_or_refused_whole(
    quiz: str,
    cli: Any,
    fuzzer: Callable[[str], Fuzzer],
    scale: Callable[[int], int],
    tmp_path: Path,
) -> None:
    """The quiz's own CSV export (every question type), mutated like the import files."""
    exported = tmp_path / "bank.csv"
    ok(cli("quizzes", "export", quiz, "-o", str(exported)))
    data = exported.read_bytes()
    rng = random.Random(f"{SEED}-bank-csv")  # noqa: S311 - seeded on purpose
    fuzz = fuzzer("bank")
    for n in range(scale(40)):
        label, mutated = m.mutate(data, rng)
        path = tmp_path / f"case-{n}.csv"
        path.write_bytes(mutated)
        extra = rng.choice([[], ["--replace"]])
        fuzz.run(
            f"csv bank #{n} {label} {extra}", "quizzes", "import", quiz, str(path), *extra, "--json"
        )
    fuzz.assert_clean()
