"""Rate limits on the API: strict on login and on token refresh (Flask-Limiter), a ceiling
on everything else (:mod:`admin_ui.api.ceiling`, counted in the same storage); a breach is
a 429 problem with ``Retry-After``.

Counts live in Redis when ``redis_url`` is set (every gunicorn worker shares them), in the
worker's memory otherwise (:mod:`admin_ui.api.limit_storage`: no thread per request). Logins
are limited per address *and* per account: the lockout
already stops guessing one account's password, the address limit stops one client trying a
list of accounts, the account limit stops many addresses guessing one account in a burst.
Its trade-off: anyone who knows an e-mail can fill that account's bucket (10 wrong logins a
minute) and its owner is refused (429) until the window passes -- as the lockout (5 wrong
passwords: 423) already lets anyone lock an account; keyed per (account, address) instead, a
botnet could guess from thousands of addresses. A successful login is not counted
(``deduct_when``), so the owner's own logins never fill it; a full bucket refuses every login.
Each app gets its own limiter (tests build many apps; counts must not leak between them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from flask import Flask, Response, request
from flask.typing import RouteCallable
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

#: Where the app keeps its API limiter (``app.extensions[EXTENSION]``).
EXTENSION = "lms_api_limiter"
#: Every API request, per address and endpoint (the ``api_rate_limit`` setting's default).
DEFAULT = "600 per minute"
#: Logging in, refreshing, asking for a reset and using a one-time token, per address and
#: per account (the e-mail the body names; a token's request: the address again).
LOGIN_PER_ADDRESS = "10 per minute"
LOGIN_PER_ACCOUNT = "10 per minute"
#: The endpoints the strict limits guard (their view function's endpoint name).
STRICT_ENDPOINTS = (
    "api.login",
    "api.refresh",
    "api.password_reset",
    "api.password_reset_confirm",
    "api.accept_invitation",
    "api.verify_email",
)


def _account() -> str:
    """The e-mail a login names (lower-cased), else the address: one account, one bucket."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    if isinstance(email, str) and email.strip():
        return "account:" + email.strip().lower()[:320]
    return "address:" + get_remote_address()


def _failed(response: Response) -> bool:
    """Whether a login counts against its account: a successful one (2xx) does not."""
    return response.status_code >= 300


def init_limits(app: Flask, *, storage_uri: str | None, default: str = DEFAULT) -> Limiter:
    from admin_ui.api.ceiling import init_ceiling
    from admin_ui.api.limit_storage import SCHEME
    from admin_ui.public.rate_limits import ADDRESS_LIMITED as FORM_ENDPOINTS

    limiter = Limiter(
        get_remote_address,
        app=app,
        # Without Redis: limits' memory storage, its expiry swept inline (no thread a request).
        storage_uri=storage_uri or f"{SCHEME}://",
        headers_enabled=True,
        strategy="moving-window",
        key_prefix="lms-api",
    )
    # Flask-Limiter lets every other request by at its first check, before working out
    # which limits apply: the ceiling is counted by admin_ui.api.ceiling.
    guarded = frozenset(STRICT_ENDPOINTS) | frozenset(FORM_ENDPOINTS)
    limiter.request_filter(lambda: request.endpoint not in guarded)
    init_ceiling(app, default, limiter.storage, apart=frozenset(STRICT_ENDPOINTS))
    for endpoint in STRICT_ENDPOINTS:
        view: Callable[..., Any] = app.view_functions[endpoint]
        view = limiter.limit(
            LOGIN_PER_ACCOUNT,
            key_func=_account,
            scope="login-account",
            deduct_when=_failed if endpoint == "api.login" else None,
        )(view)
        view = limiter.limit(LOGIN_PER_ADDRESS, scope="login-address")(view)
        app.view_functions[endpoint] = cast(RouteCallable, view)
    app.extensions[EXTENSION] = limiter
    return limiter
