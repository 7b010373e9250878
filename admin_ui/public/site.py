"""What every public page's template knows (the site's name), and the site's icon.

Browsers ask for ``/favicon.ico`` on every page, logged in or not: answered from the static
folder (a small file, cached for a day) rather than with a 404 in every log.
"""

from __future__ import annotations

from pathlib import Path

from flask import Response, send_from_directory

from admin_ui.public import public

STATIC = Path(__file__).resolve().parent.parent / "static"
ICON_MAX_AGE = 24 * 3600


@public.context_processor
def site() -> dict[str, str]:
    from admin_ui.app import state
    from lms_core.mail.render import site_host

    return {"site_name": site_host(state().settings.public_base_url)}


@public.route("/favicon.ico")
def favicon() -> Response:
    """The site's icon (``admin_ui/static/favicon.ico``)."""
    return send_from_directory(
        STATIC, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=ICON_MAX_AGE
    )
