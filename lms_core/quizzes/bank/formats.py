"""One door to every question-bank format: detect it, read it, write it.

``detect_format`` decides by the file name's extension, else by the content (a bank piped in
on stdin has no name). The readers import lazily, so detecting costs nothing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import IO, Any

from lms_core.errors import FileProblem, FileRefused
from lms_core.quizzes.bank.shapes import QuestionData

FORMATS = ("gift", "aiken", "csv", "xlsx")
_EXTENSIONS = {".gift": "gift", ".aiken": "aiken", ".csv": "csv", ".xlsx": "xlsx"}
_AIKEN_ANSWER = re.compile(r"^\s*ANSWER\s*:\s*[A-Za-z]\s*$", re.MULTILINE)
_AIKEN_OPTION = re.compile(r"^\s*[A-Z][.)][ \t]+\S", re.MULTILINE)
#: An answer block ({=, {~, {#, {}, {T}, {FALSE#...}), a ::title or a $CATEGORY line.
_GIFT_MARKS = re.compile(
    r"(?<!\\)\{\s*(?:[=~#}]|(?:T|F|TRUE|FALSE)\s*[#}])|^\s*::|^\s*\$CATEGORY:",
    re.MULTILINE | re.IGNORECASE,
)


def detect_by_name(name: str) -> str | None:
    """The format an extension names (``.txt`` names none: GIFT and Aiken both use it)."""
    if not name or name == "-":
        return None
    return _EXTENSIONS.get(PurePath(name).suffix.lower())


def detect_by_content(content: str | bytes) -> str | None:
    """``xlsx`` by its zip signature; ``csv`` by its header; Aiken or GIFT by their marks."""
    if isinstance(content, bytes):
        if content.startswith(b"PK\x03\x04"):
            return "xlsx"
        content = content.decode("utf-8-sig", errors="replace")
    content = content.removeprefix("\ufeff")
    first = next((line for line in content.splitlines() if line.strip()), "")
    header = first.strip().lower().replace(" ", "_")
    if "question_type" in header and "question_text" in header:
        return "csv"
    aiken = bool(_AIKEN_ANSWER.search(content) and _AIKEN_OPTION.search(content))
    gift = bool(_GIFT_MARKS.search(content))
    if aiken and not gift:
        return "aiken"
    if gift:
        return "gift"
    return None


def detect_format(
    name: str | bytes, text_or_bytes: str | bytes | None = None, *, file: str | None = None
) -> str:
    """``gift``, ``aiken``, ``csv`` or ``xlsx``: by the name's extension, else by the content.

    Call as ``detect_format(name, content)`` or ``detect_format(content, file=name)``; a name
    of ``-`` (stdin) or with another extension (``.txt``) is decided by the content. Raises
    ``FileRefused`` when neither tells.
    """
    content: str | bytes
    if isinstance(name, bytes) or text_or_bytes is None:
        content, label = name, file or "-"
    else:
        content, label = text_or_bytes, name
    fmt = detect_by_name(label) or detect_by_content(content)
    if fmt is None:
        raise FileRefused(
            [
                FileProblem(
                    "cannot tell the question format: name the file .gift, .aiken, .csv or "
                    ".xlsx, or give the format",
                    file=label,
                )
            ]
        )
    return fmt


def read_questions(
    name: str,
    data: str | bytes,
    *,
    fmt: str | None = None,
    warnings: list[FileProblem] | None = None,
) -> list[QuestionData]:
    """Parse ``data`` (the content of file ``name``) in ``fmt`` or the detected format.

    Raises ``FileRefused`` for a malformed file (every problem) or text that is not UTF-8.
    """
    fmt = fmt or detect_format(name, data)
    if fmt not in FORMATS:
        raise ValueError(f"unknown question format {fmt!r}")
    if fmt in ("csv", "xlsx"):
        from lms_core.quizzes.bank.table import read_question_table

        raw = data.encode("utf-8") if isinstance(data, str) else data
        return read_question_table(raw, file=name, fmt=fmt)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FileRefused(
                [FileProblem(f"is not UTF-8 text (byte {exc.start + 1})", file=name)]
            ) from None
    if fmt == "gift":
        from lms_core.quizzes.bank.gift import parse_gift

        return parse_gift(data, file=name, warnings=warnings)
    from lms_core.quizzes.bank.aiken import parse_aiken

    return parse_aiken(data, file=name)


def write_questions(questions: Iterable[QuestionData], fmt: str, out: Path | IO[Any]) -> None:
    """Export in ``fmt`` to a path or a stream (text or binary; XLSX needs binary).

    Aiken refuses (``ErrorList``) a bank holding anything but single-answer multiple choice.
    """
    if fmt in ("csv", "xlsx"):
        from lms_core.quizzes.bank.table import write_question_table

        write_question_table(questions, out, fmt)
        return
    if fmt == "gift":
        from lms_core.quizzes.bank.gift import export_gift

        text = export_gift(questions)
    elif fmt == "aiken":
        from lms_core.quizzes.bank.aiken import export_aiken

        text = export_aiken(questions)
    else:
        raise ValueError(f"unknown question format {fmt!r}")
    if isinstance(out, Path):
        out.write_text(text, encoding="utf-8")
    elif isinstance(out, io.TextIOBase):
        out.write(text)
    else:
        out.write(text.encode("utf-8"))
