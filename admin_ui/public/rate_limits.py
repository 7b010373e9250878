"""Rate limits on the public forms anyone may post to: login, password reset, set password
and e-mail verification; a breach is a 429 page (HTML) with ``Retry-After``.

The forms already cap their bodies (``admin_ui.public.limits``); these cap how often they may
be sent. Each login checks an argon2 hash (deliberately slow) and each reset request may queue
a mail, so a flood would cost CPU and fill a person's inbox. The API's limiter is reused
(``admin_ui.api.limits``): the same storage (Redis with ``LMS_REDIS_URL``, shared by every
gunicorn worker; memory otherwise), its own scopes. Limits apply to POST only: opening a form
is never refused. Per address (one count shared by all these forms), and per account (the form's e-mail) for login and reset: the
address limit stops one client trying many accounts, the account limit stops many addresses
hammering one person. The views are wrapped from the app factory, their modules untouched.

The trade-off of the account limit: anyone who knows an address can fill its bucket (10 wrong
posts a minute) and its owner's login is refused (429) until the window passes -- the same
trade-off as the account lockout (5 wrong passwords lock it), which stops guessing from many
addresses at once. A correct login is never counted (only failed ones fill the bucket), so the
owner's own sign-ins do not refuse them; a bucket already full refuses every post, right or
wrong, since the check comes before the password is read. Keyed per (account, address)
instead, a botnet could guess one password from thousands of addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from flask import Flask, Response, render_template, request
from flask.typing import ResponseReturnValue, RouteCallable
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from admin_ui.public import public

#: Form posts per client address (an office behind one NAT address shares it: generous).
FORM_PER_ADDRESS = "20 per minute"
#: Login or reset posts naming one account, from any address.
FORM_PER_ACCOUNT = "10 per minute"
#: The forms limited per address (their endpoints).
ADDRESS_LIMITED = (
    "public.login",
    "public.reset_request",
    "public.reset_confirm",
    "public.set_password",
    "public.verify_email",
)
#: Those limited per account as well: the forms that name one.
ACCOUNT_LIMITED = frozenset({"public.login", "public.reset_request"})


def _form_account() -> str:
    """The e-mail the form names (lower-cased), else the address: one account, one bucket."""
    email = (request.form.get("email") or "").strip().lower()
    if email:
        return "account:" + email[:320]
    return "address:" + get_remote_address()


def _failed_login(response: Response) -> bool:
    """Whether a login post counts against its account: anything but the sign-in's redirect."""
    return response.status_code != 302


def limit_public_forms(app: Flask, limiter: Limiter) -> None:
    """Wrap the public forms' views with their limits (call after their routes exist).

    The address limit is one shared limit (one bucket per address for all the forms, as
    documented): a per-view limit would give each form its own 20, five times the budget."""
    per_address = limiter.shared_limit(FORM_PER_ADDRESS, scope="form-address", methods=["POST"])
    for endpoint in ADDRESS_LIMITED:
        view: Callable[..., Any] = app.view_functions[endpoint]
        if endpoint in ACCOUNT_LIMITED:
            view = limiter.limit(
                FORM_PER_ACCOUNT,
                key_func=_form_account,
                scope="form-account",
                methods=["POST"],
                # A login that signs in redirects (302): not counted. Every reset request
                # counts (its answer is the same whether or not the account exists).
                deduct_when=_failed_login if endpoint == "public.login" else None,
            )(view)
        view = per_address(view)
        app.view_functions[endpoint] = cast(RouteCallable, view)


@public.errorhandler(RateLimitExceeded)
def too_many(_exc: RateLimitExceeded) -> ResponseReturnValue:
    """429 with words a visitor can act on; the limiter adds ``Retry-After`` (seconds) to
    the answer, as it does to the API's."""
    message = (
        "Too many attempts from here, or for this account, in a short time. "
        "Wait a minute, then send the form again."
    )
    return render_template("public/refused.html", message=message), 429
