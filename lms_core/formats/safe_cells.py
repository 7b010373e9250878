"""Formula-injection-safe cells for CSV and XLSX exports.

A spreadsheet runs a cell that starts with ``= + - @`` (or a tab or carriage return, which
some apps strip first) as a formula: a learner named ``=HYPERLINK(...)`` must not become a
link in an administrator's Excel. Such text gets a leading apostrophe (OWASP's advice).

The importers take that apostrophe off again (:func:`plain_cell`), and the pair is exact for
any text: ``plain_cell(safe_cell(t)) == t``. The rule covers text that already starts with
apostrophes before a trigger: ``'+x`` is written ``''+x`` and read back as ``'+x``. Any other
text (``'quoted'``, ``O'Neill``, a lone ``'``) is written and read as it is. So a cell
``'=x`` typed into a file imports as ``=x`` (it is what an export writes for ``=x``); to store
``'=x`` itself, write ``''=x``. See docs/export.md, "Formula injection".
"""

from __future__ import annotations

from typing import Any

#: The first characters that make a cell a formula (also guarded in SQL by the gradebook).
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def guarded(text: str) -> bool:
    """Does ``text`` start with a trigger, after any apostrophes (``=x``, ``'=x``, ``''-1``)?"""
    return text.startswith(TRIGGERS) or (
        text.startswith("'") and text.lstrip("'").startswith(TRIGGERS)
    )


def safe_cell(value: Any) -> Any:
    """``value`` with one more leading apostrophe when it is text that :func:`guarded`."""
    if isinstance(value, str) and guarded(value):
        return "'" + value
    return value


def plain_cell(text: str) -> str:
    """Undo :func:`safe_cell`: one apostrophe off a cell that is an apostrophe before a
    :func:`guarded` text (``'=x`` -> ``=x``, ``''+x`` -> ``'+x``); any other cell as it is."""
    if text.startswith("'") and text.lstrip("'").startswith(TRIGGERS):
        return text[1:]
    return text
