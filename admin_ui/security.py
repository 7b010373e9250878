"""Security headers on every response, and a CSP nonce for Flask-Admin's few inline scripts.

The policy allows scripts only from this site and those carrying the request's nonce: no
inline event handlers, no ``eval``, no third-party origin (every asset is served locally).
Frames are refused (``frame-ancestors 'none'``: no click-jacking of a grading form).
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g

_NONCE = "lms_csp_nonce"


def csp_nonce() -> str:
    """This response's nonce (one per request)."""
    nonce: str | None = g.get(_NONCE)
    if nonce is None:
        nonce = secrets.token_urlsafe(16)
        setattr(g, _NONCE, nonce)
    return nonce


def policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", policy(csp_nonce()))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if response.mimetype == "text/html":
        # Pages show personal data: never kept by a shared browser's cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_security_headers(app: Flask, *, https: bool) -> None:
    app.after_request(_headers)
    if https:

        @app.after_request
        def _hsts(response: Response) -> Response:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
            return response

    app.jinja_env.globals["csp_nonce"] = csp_nonce
