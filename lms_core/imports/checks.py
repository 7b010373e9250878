"""What spreadsheets do to data, as cell checks returning a message or ``None``.

Delegates to the reading layer's ``lms_core.formats.cells`` when it has the check, with a
local fallback, so validation never depends on which helper landed first.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_MOJIBAKE = re.compile("[ÃÂ][\u0080-\u00bf]|â€")


def _cells(name: str) -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("lms_core.formats.cells")
    except ImportError:
        return None
    found = getattr(module, name, None)
    return found if callable(found) else None


def _fallback_identifier(value: str, *, numeric: bool = False) -> str | None:
    if _SCIENTIFIC.match(value):
        return (
            "looks like a number Excel turned into scientific notation; format the column "
            "as text and type the identifier again"
        )
    digits = value.replace(".", "", 1)
    if numeric and digits.isdigit() and len(digits) > 15:
        return "has more than 15 digits: Excel rounds such numbers; format the column as text"
    return None


def _fallback_text(value: str) -> str | None:
    if _MOJIBAKE.search(value):
        return (
            "looks garbled (like 'Ã©' for 'é'): the file was saved in one encoding and read "
            "in another; re-save it as UTF-8"
        )
    return None


def _fallback_email_spacing(value: str) -> str | None:
    if "\u00a0" in value:
        return "contains a non-breaking space; remove it"
    if value != value.strip():
        return "has spaces before or after the address; remove them"
    if " " in value:
        return "contains a space"
    return None


_identifier = _cells("check_identifier") or _fallback_identifier
_text = _cells("check_text") or _fallback_text
_email_spacing = _cells("check_email_spacing") or _fallback_email_spacing


def identifier(value: str, *, numeric: bool = False) -> str | None:
    if not numeric and len(value) <= 15 and "e" not in value and "E" not in value:
        return None  # neither scientific notation nor a long number: nothing Excel did
    return _identifier(value, numeric=numeric)


def text(value: str) -> str | None:
    if value.isascii():  # mojibake needs non-ASCII characters; most cells have none
        return None
    return _text(value)


def email_spacing(value: str) -> str | None:
    if value.isascii() and value.isprintable() and " " not in value:
        return None  # the common case, without the per-character scan
    return _email_spacing(value)
