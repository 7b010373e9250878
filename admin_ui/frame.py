"""The back office's page frame, made once and kept: the menu per role and page, asset URLs.

Flask-Admin's ``base.html`` builds the menu on every page: for each view an
``is_accessible`` (the login user's role), an ``is_active`` and a ``url_for``, through
nested macros; and a ``url_for`` per stylesheet and script. None of it changes between two
requests of the same role on the same page: every view's access rule is its role set
(:func:`admin_ui.modelviews.base.role_allowed`), and the views are registered at start-up.
``admin/master.html`` asks these functions instead; the HTML is Flask-Admin's own.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape

_MENU_CACHE = "lms_menu_cache"
_STATIC_CACHE = "lms_static_cache"


def _cache(app: Flask, name: str) -> dict[Any, Any]:
    found: dict[Any, Any] | None = app.extensions.get(name)
    if found is None:
        found = {}
        app.extensions[name] = found
    return found


def lms_menu(admin_view: Any, part: str = "menu") -> Markup:
    """Flask-Admin's ``layout.menu()``, ``layout.menu_links()`` or the page title's
    ``layout.menu_icon(admin_view.menu)``, for this user's role on ``admin_view``."""
    from flask import current_app

    if part not in ("menu", "menu_links", "menu_icon"):
        raise ValueError(part)
    role = getattr(current_user, "role", None) if current_user.is_authenticated else None
    key = (part, role, admin_view.endpoint, request.script_root)
    cache = _cache(current_app, _MENU_CACHE)
    html: Markup | None = cache.get(key)
    if html is None:
        layout = current_app.jinja_env.get_template("admin/layout.html")
        macro = getattr(layout.make_module({"admin_view": admin_view}), part)
        made = macro(admin_view.menu) if part == "menu_icon" else macro()
        html = escape(made)  # the macro's output is Markup: kept as it is
        cache[key] = html
    return html


class Assets(dict[str, str]):
    """Static file URLs by name, each made by ``url_for`` once.

    ``assets["admin:vendor/jquery.min.js?v=3.5.1"]`` is one of Flask-Admin's files (what
    ``admin_static.url`` gives), ``assets["lms.css"]`` one of the site's own.
    """

    def __missing__(self, key: str) -> str:
        name, _, version = key.partition("?v=")
        if name.startswith("admin:"):
            url = url_for("admin.static", filename=name[6:], v=version or None)
        else:
            url = url_for("static", filename=name)
        self[key] = url
        return url

    def url(self, filename: str, v: str | None = None) -> str:
        """``admin_static.url(filename=..., v=...)`` of Flask-Admin's templates."""
        return self[f"admin:{filename}?v={v}" if v else f"admin:{filename}"]


def lms_assets() -> Assets:
    """This application's static URLs (one table per script root)."""
    from flask import current_app

    cache = _cache(current_app, _STATIC_CACHE)
    found: Assets | None = cache.get(request.script_root)
    if found is None:
        found = Assets()
        cache[request.script_root] = found
    return found


def init_page_frame(app: Flask) -> None:
    app.jinja_env.globals["lms_menu"] = lms_menu
    app.jinja_env.globals["lms_assets"] = lms_assets
