"""Back-office views: imports (filled in by its area's change)."""

from __future__ import annotations

from flask_admin import BaseView


def views() -> list[BaseView]:
    return []
