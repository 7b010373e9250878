"""What spreadsheets do to data, checked before a cell's field check (import only).

The rules are ``lms_core.formats.cells``'s; these wrappers answer the common case (ASCII text,
a short identifier, a plain address) without calling them, because they run for every cell.
A service never sees such damage (its callers type values), so these stay out of the field
specs: the field rules themselves are ``FieldSpec.check``, shared with the services.
"""

from __future__ import annotations

from lms_core.formats import cells


def identifier(value: str, *, numeric: bool = False) -> str | None:
    if not numeric and len(value) <= 15 and "e" not in value and "E" not in value:
        return None  # neither scientific notation nor a long number: nothing Excel did
    return cells.check_identifier(value, numeric=numeric)


def text(value: str) -> str | None:
    if value.isascii():  # mojibake needs non-ASCII characters; most cells have none
        return None
    return cells.check_text(value)
