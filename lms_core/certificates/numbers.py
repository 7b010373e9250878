"""Certificate numbers: random, short enough to type, with a check character.

``LMS-7K4F-9QX2-M``: eight Crockford base32 symbols (40 random bits: not guessable, not
sequential) and Crockford's mod-37 check symbol. Reading one back forgives what people do
when they type: lower case, missing dashes or spaces, O for 0, I or L for 1. A mistyped
number fails its check character before the database is asked.
"""

from __future__ import annotations

import secrets

from lms_core.errors import ValidationError

SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_SYMBOLS = SYMBOLS + "*~$=U"
PREFIX = "LMS"
BODY_LENGTH = 8
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def check_symbol(body: str) -> str:
    value = 0
    for char in body:
        value = value * 32 + SYMBOLS.index(char)
    return CHECK_SYMBOLS[value % 37]


def format_number(body: str) -> str:
    return f"{PREFIX}-{body[:4]}-{body[4:]}-{check_symbol(body)}"


def new_number() -> str:
    """A fresh random number (uniqueness is the database's unique constraint's job)."""
    body = "".join(secrets.choice(SYMBOLS) for _ in range(BODY_LENGTH))
    return format_number(body)


def normalize_number(text: str) -> str:
    """The canonical ``LMS-XXXX-XXXX-C`` form of what a person typed, or a ValidationError."""
    raw = "".join(ch for ch in (text or "").upper() if ch not in " -_.\u00a0\t")
    if raw.startswith(PREFIX):
        raw = raw[len(PREFIX) :]
    if len(raw) != BODY_LENGTH + 1:
        raise ValidationError(
            f"must be {BODY_LENGTH} characters and a check character, like LMS-7K4F-9QX2-M",
            field="number",
            value=text,
        )
    body = raw[:BODY_LENGTH].translate(_CONFUSABLE)
    check = raw[BODY_LENGTH]
    check = check if check in "*~$=U" else check.translate(_CONFUSABLE)
    bad = sorted({ch for ch in body if ch not in SYMBOLS})
    if bad or check not in CHECK_SYMBOLS:
        shown = ", ".join(bad or [check])
        raise ValidationError(
            f"contains characters that are never used: {shown}", field="number", value=text
        )
    if check_symbol(body) != check:
        raise ValidationError(
            "is mistyped: its check character does not match", field="number", value=text
        )
    return format_number(body)
