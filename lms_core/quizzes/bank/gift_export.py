"""GIFT export: text that ``parse_gift`` (and Moodle) read back as the same questions.

Every special character is escaped, newlines become ``\\n`` so a question never contains a
blank line, and a ``[plain]`` marker protects text that would otherwise look like a marker or
a comment. Weights are written only where they differ from the default of their answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from lms_core.quizzes.bank.shapes import QuestionData, format_number

_SPECIAL = re.compile(r"([\\~=#{}:])")
_WEIGHT_LIKE = re.compile(r"%[^%\n]*%")  # what the reader takes for a weight (gift._WEIGHT_TRY)


def escape(text: str) -> str:
    """Text with GIFT's special characters escaped and newlines as ``\\n``."""
    return _SPECIAL.sub(r"\\\1", text).replace("\n", "\\n")


def _answer_text(text: str) -> str:
    """Escaped text inside an answer block, where ``->`` would also mean a matching pair."""
    return escape(text).replace("->", "-\\>")


def _number(value: Any) -> str:
    return format_number(value)


def _percent(weight: Any) -> str:
    """A weight without exponent (``%0.001%``, never ``%1e-03%``), exact for a float."""
    return format(Decimal(format_number(weight)).normalize(), "f")


def _weight(marker: str, weight: Any, default: Any, text: str) -> str:
    """``=``/``~`` with ``%w%`` when the weight is not the default or the text looks like one."""
    if weight == default and not _WEIGHT_LIKE.match(text):
        return marker
    return f"{marker}%{_percent(weight)}%"


def _feedback(feedback: str | None) -> str:
    return f"#{_answer_text(feedback)}" if feedback else ""


def _question_head(q: QuestionData) -> str:
    head = f"::{escape(q.title)}::" if q.title is not None else ""
    text = escape(q.question_text)
    marker = "" if q.text_format == "plain" else f"[{q.text_format}]"
    if not marker and (text.startswith("[") or (not head and text.startswith("//"))):
        marker = "[plain]"
    return head + marker + text


def _answer_lines(q: QuestionData) -> list[str]:
    qtype, options = q.question_type, q.options
    if qtype in ("multiple_choice", "multiple_response", "short_answer"):
        lines = []
        for o in options:
            if qtype == "short_answer" or (qtype == "multiple_choice" and o["weight"] == 100):
                marker = _weight("=", o["weight"], 100, o["text"])
            else:
                marker = _weight("~", o["weight"], 0, o["text"])
            lines.append(marker + _answer_text(o["text"]) + _feedback(o.get("feedback")))
        return lines
    if qtype == "matching":
        return [f"={_answer_text(o['left'])} -> {_answer_text(o['right'])}" for o in options]
    if qtype == "numerical":
        lines = []
        for o in options:
            if o.get("value") is not None:
                spec = f"{_number(o['value'])}:{_number(o.get('tolerance') or 0)}"
            else:
                spec = f"{_number(o['min'])}..{_number(o['max'])}"
            weight = "=" if o["weight"] == 100 else f"=%{_percent(o['weight'])}%"
            lines.append(weight + spec + _feedback(o.get("feedback")))
        return lines
    raise ValueError(f"no GIFT answer lines for {qtype!r}")


def _true_false(q: QuestionData) -> str:
    feedback = {o["value"]: o.get("feedback") for o in q.options}
    right, wrong = feedback.get(q.correct_answer), feedback.get(not q.correct_answer)
    out = "TRUE" if q.correct_answer else "FALSE"
    if wrong or right:
        out += "#" + (_answer_text(wrong) if wrong else "")
    if right:
        out += "#" + _answer_text(right)
    return out


def _general(q: QuestionData) -> str:
    return f"####{_answer_text(q.explanation)}" if q.explanation else ""


def export_question(q: QuestionData) -> str:
    """One question in GIFT (no category line, no trailing blank line)."""
    head = _question_head(q)
    if q.question_type == "essay":
        return f"{head} {{{_general(q)}}}"
    if q.question_type == "true_false":
        return f"{head} {{{_true_false(q)}{_general(q)}}}"
    if q.question_type == "numerical" and len(q.options) == 1 and q.options[0]["weight"] == 100:
        return f"{head} {{#{_answer_lines(q)[0][1:]}{_general(q)}}}"
    lines = [f"{head} {{"]
    if q.question_type == "numerical":
        lines[0] += "#"
    lines += [f"\t{line}" for line in _answer_lines(q)]
    if q.explanation:
        lines.append(f"\t{_general(q)}")
    lines.append("}")
    return "\n".join(lines)


def export_gift(questions: Iterable[QuestionData]) -> str:
    """GIFT text for ``questions``; a ``$CATEGORY`` line wherever the category changes."""
    out: list[str] = []
    category: str | None = None
    for q in questions:
        if q.category != category:
            out.append(f"$CATEGORY: {q.category}" if q.category else "$CATEGORY:")
            category = q.category
        out.append(export_question(q))
    return "\n\n".join(out) + "\n" if out else ""
