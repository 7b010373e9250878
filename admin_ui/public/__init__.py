"""The pages anyone may open: login, password set/reset, e-mail verification, certificate
verification. One blueprint, ``public``; each page's module adds its routes to it."""

from __future__ import annotations

from flask import Blueprint

public = Blueprint("public", __name__)


def register_public_pages() -> Blueprint:
    """The blueprint with every public page's routes attached (imported here, not at load)."""
    from admin_ui.public import (  # noqa: F401  # each attaches its routes
        certificates,
        email,
        limits,
        login,
        passwords,
        site,
    )

    return public
