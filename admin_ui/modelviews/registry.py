"""Which views the back office has: each domain area's module lists its own.

A module here has ``views() -> list[BaseView]``; adding an area is one line below. The view x
role matrix test (tests/web/test_matrix.py) walks what this builds, so a view cannot be
added without its role rule being exercised.
"""

from __future__ import annotations

from importlib import import_module

from flask_admin import Admin, BaseView

#: Modules of ``admin_ui.modelviews`` that contribute views, in menu order.
AREAS: tuple[str, ...] = (
    "users",
    "courses",
    "enrollments",
    "quizzes",
    "attempts",
    "assignments",
    "certificates",
    "reports",
    "imports",
    "audit",
    "jobs",
)


def all_views() -> list[BaseView]:
    found: list[BaseView] = []
    for name in AREAS:
        found.extend(import_module(f"admin_ui.modelviews.{name}").views())
    return found


def register_views(admin: Admin) -> None:
    for view in all_views():
        admin.add_view(view)
