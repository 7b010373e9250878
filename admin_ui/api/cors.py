"""CORS for the API: an allow-list of origins (``cors_origins``), nothing for anyone else.

A page of a listed origin may call the API with a bearer token; no credentials are allowed
across origins (the session cookie is for same-site pages, which need no CORS), so a listed
origin still cannot ride a visitor's cookie. An unlisted origin gets no CORS header at all,
and its browser keeps the answer from the page.
"""

from __future__ import annotations

from flask import Response, request

#: The request headers a cross-origin caller may send.
ALLOW_HEADERS = "Authorization, Content-Type, X-Request-ID"
#: The answer headers its script may read.
EXPOSE_HEADERS = "X-Request-ID, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining"
#: How long a browser may keep a preflight's answer (seconds).
MAX_AGE = "600"


def allowed_origins(setting: str | None) -> frozenset[str]:
    return frozenset(o.strip().rstrip("/") for o in (setting or "").split(",") if o.strip())


def add_cors_headers(response: Response, origins: frozenset[str]) -> Response:
    origin = request.headers.get("Origin", "")
    if not origin or origin not in origins:
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers.add("Vary", "Origin")
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
        response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", "")
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = MAX_AGE
    return response
