"""What every public page's template knows: the site's name (the host of its public address)."""

from __future__ import annotations

from admin_ui.public import public


@public.context_processor
def site() -> dict[str, str]:
    from admin_ui.app import state
    from lms_core.mail.render import site_host

    return {"site_name": site_host(state().settings.public_base_url)}
