"""Formula-injection-safe cells for CSV and XLSX exports.

A spreadsheet runs a cell that starts with ``= + - @`` (or a tab or carriage return, which
some apps strip first) as a formula: a learner named ``=HYPERLINK(...)`` must not become a
link in an administrator's Excel. Such text gets a leading apostrophe (OWASP's advice).
"""

from __future__ import annotations

from typing import Any

#: The first characters that make a cell a formula (also guarded in SQL by the gradebook).
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return "'" + value
    return value
