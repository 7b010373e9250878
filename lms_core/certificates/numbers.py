"""Certificate numbers: random, short enough to type, with a check character.

``LMS-7K4F-9QX2-H``: eight Crockford base32 symbols (40 random bits: not guessable, not
sequential) and a check symbol from the same 32 symbols, so a number is safe in file names,
zip entries, URLs and shells (no ``* ~ $ =``). Reading one back forgives what people do when
they type: lower case, missing dashes or spaces, O for 0, I or L for 1. A mistyped number
fails its check character before the database is asked.

The check is Damm's algorithm over the quasigroup ``a * b = x·a + b`` in GF(32) (the field
GF(2)[x] / (x⁵ + x² + 1); symbol *n* of the alphabet is the field element *n*). Because
``x ≠ 0, 1`` the quasigroup is totally anti-symmetric, so the check catches every single
substitution, every swap of two neighbours (the check symbol included), every swap of two
symbols one apart (``abc`` → ``cba``) and every twin error (``aa`` → ``bb``); the tests
check each of these exhaustively and with hypothesis.

Legacy numbers: numbers issued before this scheme end in Crockford's mod-37 check symbol,
which may be one of ``* ~ $ = U`` (e.g. ``LMS-P758-DXF0-*``). The migration that introduced
this scheme gave each such certificate the new check symbol (same eight symbols) and kept
its old number in ``certificates.legacy_number``, because the old number is printed on its
PDF and in its QR code. :func:`parse_number` therefore accepts a number valid in either
scheme and says which; lookups search ``number`` for the current scheme and
``legacy_number`` for the legacy one, so an old number verifies for ever. A legacy number
keeps its own guarantee (every single substitution is caught by the mod-37 check). One typo
in 37 of a current number happens to pass the legacy check; as no legacy numbers are made any
more, ``registry.find_certificate`` calls a number that passes only the legacy check and is no
legacy number mistyped too, so every single-character typo of a current number is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from lms_core.errors import ValidationError

SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Crockford's mod-37 check symbols: only numbers issued before the current scheme end in them.
LEGACY_CHECK_SYMBOLS = SYMBOLS + "*~$=U"
PREFIX = "LMS"
BODY_LENGTH = 8
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
#: x⁵ + x² + 1, irreducible over GF(2): reduces a product back into the 32 field elements.
_MODULUS = 0b100101


def _times_x(value: int) -> int:
    """``value`` multiplied by x in GF(32)."""
    value <<= 1
    return value ^ _MODULUS if value & 0b100000 else value


def _interim(symbols: str) -> int:
    """Damm's interim check value: 0 for a body followed by its own check symbol."""
    state = 0
    for char in symbols:
        state = _times_x(state) ^ SYMBOLS.index(char)
    return state


def check_symbol(body: str) -> str:
    """The check symbol of the current scheme: the one that brings the interim value to 0."""
    return SYMBOLS[_times_x(_interim(body))]


def is_valid(body_and_check: str) -> bool:
    """Whether a body followed by a check symbol passes the current scheme's check."""
    return all(char in SYMBOLS for char in body_and_check) and _interim(body_and_check) == 0


def legacy_check_symbol(body: str) -> str:
    """Crockford's mod-37 check symbol, which numbers issued before the current scheme carry."""
    value = 0
    for char in body:
        value = value * 32 + SYMBOLS.index(char)
    return LEGACY_CHECK_SYMBOLS[value % 37]


def format_number(body: str) -> str:
    return f"{PREFIX}-{body[:4]}-{body[4:]}-{check_symbol(body)}"


def new_number() -> str:
    """A fresh random number (uniqueness is the database's unique constraint's job)."""
    body = "".join(secrets.choice(SYMBOLS) for _ in range(BODY_LENGTH))
    return format_number(body)


@dataclass(frozen=True)
class ParsedNumber:
    """A typed number in its canonical ``LMS-XXXX-XXXX-C`` form, and which schemes it passes."""

    number: str
    #: It passes the current check (look it up in ``certificates.number``).
    current: bool
    #: It passes the legacy mod-37 check (look it up in ``certificates.legacy_number``).
    legacy: bool


def parse_number(text: str) -> ParsedNumber:
    """What a person typed, in canonical form, valid in the current or the legacy scheme.

    Refused (ValidationError, field ``number``) when it has the wrong length, contains a
    character no number uses, or passes neither check ("mistyped").
    """
    raw = "".join(ch for ch in (text or "").upper() if ch not in " -_.\u00a0\t")
    if raw.startswith(PREFIX):
        raw = raw[len(PREFIX) :]
    if len(raw) != BODY_LENGTH + 1:
        raise ValidationError(
            f"must be {BODY_LENGTH} characters and a check character, like LMS-7K4F-9QX2-H",
            field="number",
            value=text,
        )
    body = raw[:BODY_LENGTH].translate(_CONFUSABLE)
    check = raw[BODY_LENGTH]
    check = check if check in "*~$=U" else check.translate(_CONFUSABLE)
    bad = sorted({ch for ch in body if ch not in SYMBOLS})
    if bad or check not in LEGACY_CHECK_SYMBOLS:
        shown = ", ".join(bad or [check])
        raise ValidationError(
            f"contains characters that are never used: {shown}", field="number", value=text
        )
    current = check == check_symbol(body)
    legacy = check == legacy_check_symbol(body)
    if not (current or legacy):
        raise ValidationError(
            "is mistyped: its check character does not match", field="number", value=text
        )
    return ParsedNumber(f"{PREFIX}-{body[:4]}-{body[4:]}-{check}", current, legacy)


def normalize_number(text: str) -> str:
    """The canonical ``LMS-XXXX-XXXX-C`` form of what a person typed, or a ValidationError."""
    return parse_number(text).number
