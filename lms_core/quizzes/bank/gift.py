"""Moodle GIFT: parse a question bank, export one (the dialect is in docs/question-formats.md).

Parsing follows Moodle's own importer (``question/format/gift/format.php``): questions are
separated by blank lines, ``//`` lines are comments, ``::title::``, an optional ``[format]``
marker, one ``{...}`` answer block whose content decides the type, ``####`` general feedback.
Where Moodle guesses silently we refuse with a line and column (an unclosed ``{``, an answer
with no ``=``/``~``, a number we cannot read), and the whole file is refused at once.

Escapes ``\\~ \\= \\# \\{ \\} \\: \\\\`` and ``\\n`` (a newline) work everywhere; ``\\>`` is ours,
so a matching pair's left side can hold ``->``. Text is scanned once into characters with an
"escaped" flag, so every split below only sees the unescaped special characters.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from decimal import Decimal
from typing import Any

from lms_core.errors import FileProblem
from lms_core.quizzes.bank.gift_export import export_gift
from lms_core.quizzes.bank.problems import (
    MAX_OPTIONS,
    MAX_QUESTION_CHARS,
    Problems,
    too_long,
    too_many_questions,
)
from lms_core.quizzes.bank.shapes import (
    MAX_CATEGORY,
    QuestionData,
    json_number,
    numerical_answer,
    validate_question,
)

__all__ = ["export_gift", "parse_gift"]

_ESCAPE = re.compile(r"\\([~=#{}:\\>n])")
_FORMATS = {"plain": "plain", "moodle": "plain", "markdown": "markdown", "html": "html"}
_WEIGHT = re.compile(r"%(-?\d+(?:\.\d+)?)%")
#: What an answer starting with ``%...%`` means as its weight: refused unless it is ``_WEIGHT``
#: (Moodle would keep ``%abc%`` or ``%1e9%`` as answer text with weight 0, silently).
_WEIGHT_TRY = re.compile(r"%[^%\n]*%")
_TF = {"T": True, "TRUE": True, "F": False, "FALSE": False}


class _Block:
    """One question's text: its characters (escapes resolved), where each came from, and a
    masked copy in which escaped characters cannot match a special character.
    """

    def __init__(self, lines: list[tuple[int, str]]) -> None:
        raw = "\n".join(line for _, line in lines)
        self.line_starts: list[int] = []
        self.line_numbers = [n for n, _ in lines]
        offset = 0
        for _, line in lines:
            self.line_starts.append(offset)
            offset += len(line) + 1
        self.chars: list[str] = []
        self.src: list[int] = []
        masked: list[str] = []
        pos = 0
        for match in _ESCAPE.finditer(raw):
            start = match.start()
            if start > pos:
                self.chars.extend(raw[pos:start])
                self.src.extend(range(pos, start))
                masked.append(raw[pos:start])
            self.chars.append("\n" if match.group(1) == "n" else match.group(1))
            self.src.append(start)
            masked.append("\0")
            pos = match.end()
        self.chars.extend(raw[pos:])
        self.src.extend(range(pos, len(raw)))
        masked.append(raw[pos:])
        #: The text with every escaped character replaced by NUL: searching it for a special
        #: character finds only the unescaped ones.
        self.masked = "".join(masked)
        self.n = len(self.chars)

    def where(self, k: int) -> tuple[int, int]:
        """(line, column) of character ``k``, both 1-based."""
        if not self.src:
            return self.line_numbers[0], 1
        offset = self.src[min(max(k, 0), self.n - 1)]
        row = bisect_right(self.line_starts, offset) - 1
        return self.line_numbers[row], offset - self.line_starts[row] + 1

    def find(self, token: str, start: int, end: int) -> int:
        """Index of the first unescaped ``token`` in [start, end), or -1."""
        return self.masked.find(token, start, end)

    def rfind(self, token: str, start: int, end: int) -> int:
        return self.masked.rfind(token, start, end)

    def special(self, k: int, char: str) -> bool:
        """Is character ``k`` the unescaped special character ``char``?"""
        return self.masked[k] == char

    def positions(self, chars: str, start: int, end: int) -> list[int]:
        """Indexes of the unescaped ``chars`` in [start, end)."""
        return [start + i for i, c in enumerate(self.masked[start:end]) if c in chars]

    def text(self, start: int, end: int) -> str:
        return "".join(self.chars[start:end])

    def skip_space(self, start: int, end: int) -> int:
        while start < end and self.masked[start].isspace():
            start += 1
        return start


def parse_gift(
    text: str, *, file: str, warnings: list[FileProblem] | None = None
) -> list[QuestionData]:
    """Every question in ``text``; raises ``FileRefused`` with every problem found.

    Description items (text without an answer block) are not questions: they are skipped and
    reported in ``warnings`` when a list is given, as is numerical wrong-answer feedback
    (``~#...``), which has no place in our question shapes.
    """
    problems = Problems(file)
    notes = Problems(file)
    questions: list[QuestionData] = []
    category: str | None = None
    block: list[tuple[int, str]] = []
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    size = parsed = 0  # characters in ``block``; questions parsed, refused ones included
    for number, line in enumerate([*text.split("\n"), ""], 1):
        too_long(line, number, file)
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        if stripped and not stripped.startswith("$CATEGORY:"):
            block.append((number, line))
            size += len(line) + 1
            if size > MAX_QUESTION_CHARS:
                problems.add(
                    f"this question is longer than {MAX_QUESTION_CHARS} characters: "
                    "is a blank line missing between questions?",
                    line=block[0][0],
                    column=1,
                )
                problems.raise_if_any()
            continue
        if block:
            before = problems.count
            question = _parse_block(_Block(block), problems, notes)
            if question is not None:
                question.category = category
                questions.append(question)
            if question is not None or problems.count > before:
                parsed += 1
                too_many_questions(parsed, block[0][0], file)
        block, size = [], 0
        if stripped:  # a $CATEGORY line: it also ends the question before it
            category = stripped[len("$CATEGORY:") :].strip() or None
            if category is not None and len(category) > MAX_CATEGORY:
                problems.add(
                    f"the category is longer than {MAX_CATEGORY} characters",
                    line=number,
                    column=line.index("$") + 1,
                    value=category,
                )
    if warnings is not None:
        warnings.extend(notes.items)
    problems.raise_if_any()
    return questions


def _parse_block(b: _Block, problems: Problems, notes: Problems) -> QuestionData | None:
    found_before = problems.count

    def fail(message: str, k: int, value: Any = None) -> None:
        line, column = b.where(k)
        problems.add(message, line=line, column=column, value=value)

    p = b.skip_space(0, b.n)
    title: str | None = None
    if b.find("::", p, p + 2) == p:
        close = b.find("::", p + 2, b.n)
        if close < 0:
            fail("the title is not closed: end it with ::", p)
            return None
        title = b.text(p + 2, close).strip() or None
        p = b.skip_space(close + 2, b.n)
    start = b.find("{", p, b.n)
    stray = b.find("}", p, start if start >= 0 else b.n)
    if stray >= 0:
        fail("} without an opening {: write \\} for a brace in text", stray)
        return None
    if start < 0:
        line, column = b.where(p)
        what = f"'{title}'" if title else repr(_shorten(b.text(p, b.n).strip()))
        notes.add(
            f"no answer block: description item {what} is not a question, skipped",
            line=line,
            column=column,
        )
        return None
    end = b.find("}", start + 1, b.n)
    inner = b.find("{", start + 1, end if end >= 0 else b.n)
    if end < 0:
        fail("the answer block is not closed: missing }", start)
        return None
    if inner >= 0:
        fail("{ inside an answer block: write \\{ for a brace, or close the block first", inner)
        return None
    for k in (b.find("{", end + 1, b.n), b.find("}", end + 1, b.n)):
        if k >= 0:
            fail(
                "a second answer block: separate questions with a blank line "
                "(or write \\{ \\} for braces in text)",
                k,
            )
            return None
    text_format = "plain"
    if b.masked.startswith("[", p):
        close = b.find("]", p, start)
        name = b.text(p + 1, close) if close > 0 else ""
        if name in _FORMATS:
            text_format = _FORMATS[name]
            p = close + 1
    before, after = b.text(p, start), b.text(end + 1, b.n)
    question_text = (before + "_____" + after if after.strip() else before).strip()
    if not question_text:
        fail("the question text is empty", p)
    gf = b.rfind("####", start + 1, end)
    explanation = (b.text(gf + 4, end).strip() or None) if gf >= 0 else None
    body_end = gf if gf >= 0 else end
    q = QuestionData(
        question_text=question_text,
        question_type="essay",
        title=title,
        text_format=text_format,
        explanation=explanation,
        line=b.where(0)[0],
    )
    _answers(b, start + 1, body_end, q, fail, notes)
    if problems.count == found_before:
        for message in validate_question(q):
            fail(message, start)
    return q if problems.count == found_before else None


def _answers(b: _Block, lo: int, hi: int, q: QuestionData, fail: Any, notes: Problems) -> None:
    """Fill ``q``'s type, options and key from the answer block content [lo, hi)."""
    first = b.skip_space(lo, hi)
    if first == hi:
        return  # {} is an essay
    if b.special(first, "#"):
        _numerical(b, first + 1, hi, q, fail, notes)
        return
    if b.find("~", lo, hi) >= 0:
        _choices(b, lo, hi, q, fail)
        return
    has_equal = b.find("=", lo, hi) >= 0
    if has_equal and b.find("->", lo, hi) >= 0:
        _matching(b, lo, hi, q, fail)
        return
    hash_at = b.find("#", lo, hi)
    word = b.text(lo, hash_at if hash_at >= 0 else hi).strip()
    if word.upper() in _TF:
        _true_false(b, lo, hi, q, _TF[word.upper()], hash_at)
        return
    if has_equal:
        q.question_type = "short_answer"
        q.options = [
            {"text": text, "weight": 100 if weight is None else weight, "feedback": fb}
            for _, text, weight, fb in _items(b, lo, hi, "=", q, fail)
        ]
        return
    fail(
        "cannot tell the question type: start right answers with =, wrong ones with ~, "
        "write T or F for true/false, # for a number, or {} for an essay",
        first,
        b.text(lo, hi).strip(),
    )


def _items(
    b: _Block, lo: int, hi: int, markers: str, q: QuestionData, fail: Any
) -> list[tuple[str, str, float | int | None, str | None]]:
    """(marker, text, weight or None, feedback) of each answer starting with one of ``markers``."""
    starts = b.positions(markers, lo, hi)
    if len(starts) > MAX_OPTIONS:
        fail(f"more than {MAX_OPTIONS} answers in one question", starts[MAX_OPTIONS])
        return []
    lead = b.text(lo, starts[0] if starts else hi).strip()
    if lead:
        fail("text before the first answer: start each answer with = or ~", b.skip_space(lo, hi))
    items = []
    for k, nxt in zip(starts, [*starts[1:], hi], strict=True):
        p = b.skip_space(k + 1, nxt)
        weight: float | int | None = None
        hash_at = b.find("#", p, nxt)
        match = _WEIGHT_TRY.match(b.text(p, hash_at if hash_at >= 0 else nxt))
        if match:
            number = _WEIGHT.fullmatch(match.group(0))
            weight = json_number(Decimal(number.group(1))) if number else None
            if weight is None or not -100 <= weight <= 100:
                message = "the weight must be a number between -100% and 100%, like %50%"
                fail(message, p, match.group(0))
                weight = None
            p += match.end()
        text = b.text(p, hash_at if hash_at >= 0 else nxt).strip()
        feedback = (b.text(hash_at + 1, nxt).strip() or None) if hash_at >= 0 else None
        if not text:
            fail("an empty answer", k)
        items.append((b.chars[k], text, weight, feedback))
    return items


def _choices(b: _Block, lo: int, hi: int, q: QuestionData, fail: Any) -> None:
    items = _items(b, lo, hi, "=~", q, fail)
    single = any(marker == "=" for marker, *_ in items)
    q.question_type = "multiple_choice" if single else "multiple_response"
    q.options = [
        {
            "text": text,
            "weight": weight if weight is not None else (100 if marker == "=" else 0),
            "feedback": fb,
        }
        for marker, text, weight, fb in items
    ]


def _matching(b: _Block, lo: int, hi: int, q: QuestionData, fail: Any) -> None:
    q.question_type = "matching"
    starts = b.positions("=", lo, hi)
    if len(starts) > MAX_OPTIONS:
        fail(f"more than {MAX_OPTIONS} pairs in one question", starts[MAX_OPTIONS])
        return
    if b.text(lo, starts[0]).strip():
        fail("text before the first pair: start each pair with =", b.skip_space(lo, hi))
    pairs = []
    for k, nxt in zip(starts, [*starts[1:], hi], strict=True):
        arrow = b.find("->", k + 1, nxt)
        if arrow < 0:
            fail("a matching pair needs left -> right", k, b.text(k, nxt).strip())
            continue
        if b.find("#", k + 1, nxt) >= 0:
            fail("matching pairs take no feedback: write \\# for a # sign", b.find("#", k, nxt))
        left, right = b.text(k + 1, arrow).strip(), b.text(arrow + 2, nxt).strip()
        if not left:
            fail("a pair without a left side (extra right-side answers are not supported)", k)
        elif not right:
            fail("a pair without a right side", arrow)
        pairs.append({"left": left, "right": right})
    q.options = pairs


def _true_false(b: _Block, lo: int, hi: int, q: QuestionData, value: bool, hash_at: int) -> None:
    wrong = right = None
    if hash_at >= 0:
        second = b.find("#", hash_at + 1, hi)
        wrong = b.text(hash_at + 1, second if second >= 0 else hi).strip() or None
        right = (b.text(second + 1, hi).strip() or None) if second >= 0 else None
    q.question_type = "true_false"
    q.correct_answer = value
    if wrong is not None or right is not None:
        q.options = [
            {"value": True, "feedback": right if value else wrong},
            {"value": False, "feedback": wrong if value else right},
        ]


def _numerical(b: _Block, lo: int, hi: int, q: QuestionData, fail: Any, notes: Problems) -> None:
    q.question_type = "numerical"
    tilde = b.find("~", lo, hi)
    if tilde >= 0:
        line, column = b.where(tilde)
        notes.add("feedback for any other number (~#...) is not kept", line=line, column=column)
        hi = tilde
    if b.find("=", lo, hi) >= 0:
        items = _items(b, lo, hi, "=", q, fail)
        positions = b.positions("=", lo, hi)
        if len(items) != len(positions):
            return  # more than MAX_OPTIONS: refused by _items
    else:
        hash_at = b.find("#", lo, hi)
        text = b.text(lo, hash_at if hash_at >= 0 else hi).strip()
        fb = (b.text(hash_at + 1, hi).strip() or None) if hash_at >= 0 else None
        items, positions = [("=", text, None, fb)], [b.skip_space(lo, hi)]
    options = []
    for (_, spec, weight, fb), k in zip(items, positions, strict=True):
        option = numerical_answer(spec)
        if isinstance(option, str):
            fail(option, k, spec)
            continue
        option["weight"] = 100 if weight is None else weight
        option["feedback"] = fb
        options.append(option)
    q.options = options
    if not items:
        fail("a numerical answer needs a number: {#3.14:0.01} or {#1..5}", lo)


def _shorten(text: str, size: int = 60) -> str:
    return text if len(text) <= size else text[: size - 1] + "\u2026"
