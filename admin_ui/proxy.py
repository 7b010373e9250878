"""The client's address behind the reverse proxy, trusted only from the proxies named.

gunicorn's ``forwarded_allow_ips`` makes it trust a proxy's ``X-Forwarded-Proto`` but leaves
``REMOTE_ADDR`` the proxy's own address, so rate limits keyed on it would count every client
as one. Werkzeug's ProxyFix takes the client's address from ``X-Forwarded-For``; it is applied
only to requests whose peer is one of the proxies named in ``LMS_FORWARDED_ALLOW_IPS`` (the
same setting gunicorn reads): unset, no header is trusted, as anyone could forge one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

ENV = "LMS_FORWARDED_ALLOW_IPS"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxyFix:
    """ProxyFix(x_for=1, x_proto=1) for requests from a trusted proxy; others pass as they are."""

    def __init__(self, app: Any, trusted: Iterable[Network] | None) -> None:
        self.plain = app
        self.fixed = ProxyFix(app, x_for=1, x_proto=1)
        #: None: any peer ("*": only the proxy can reach the server).
        self.trusted = None if trusted is None else tuple(trusted)

    def _from_proxy(self, peer: str | None) -> bool:
        if self.trusted is None:
            return True
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._from_proxy(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.plain(environ, start_response)


def trust_proxies(app: Any, setting: str | None) -> Any:
    """``app`` wrapped to read the client's address from the proxies in ``setting`` (a comma
    list of addresses or networks, or "*"); unchanged when the setting is empty."""
    names = [part.strip() for part in (setting or "").split(",") if part.strip()]
    if not names:
        return app
    if "*" in names:
        return TrustedProxyFix(app, None)
    return TrustedProxyFix(app, [ipaddress.ip_network(name, strict=False) for name in names])
