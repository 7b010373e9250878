"""Which question-bank format a file is in: by its name's extension, else by its content.

Its own module so the one door (``formats``) and the table reader (``table``, which re-exports
``detect_format``) both use it without importing each other.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from lms_core.errors import FileProblem, FileRefused

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
