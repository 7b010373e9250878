"""Who is calling: a bearer token (access or personal) or the back office's session cookie.

A token's scopes narrow what it may call; the services' role rules still decide what its
user may do. A cookie caller (a browser client of the same site) has the user's full rights
and, on unsafe methods, must send the CSRF token (``X-CSRFToken``), as a form would.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, request

from admin_ui.api.problems import ApiProblem, error_entry
from lms_core.actor import Actor

#: The ``scope`` of an endpoint anyone may call, logged in or not.
PUBLIC = "public"
#: The ``scope`` of an endpoint any logged-in caller may call, whatever its token's scopes.
ANY = "any"


@dataclass(frozen=True)
class Caller:
    actor: Actor
    #: None: the user's full rights (a login's tokens, the cookie).
    scopes: frozenset[str] | None
    #: The presented token's family (None for the cookie): what logout ends.
    token_family: str | None = None
    #: The catalog's stamp, read with the token (None for the cookie: read apart).
    catalog_stamp: str | None = None

    @property
    def user_id(self) -> int | None:
        return self.actor.user_id


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header; '' when the header is malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def _unauthorized(message: str) -> ApiProblem:
    return ApiProblem(401, message, [error_entry("Authorization", None, message)])


def resolve_caller(*, public: bool = False) -> Caller | None:
    """This request's caller, or None (anonymous). A bad token is refused outright (401),
    except on a public endpoint: there it counts as anonymous, since a client whose access
    token expired must still be able to refresh, log in again or verify a certificate. It
    does not fall back to the session cookie: a request with a bearer header skips the CSRF
    check, so the cookie must not speak for it."""
    from admin_ui.db import request_session
    from lms_core.accounts.api_tokens import token_identity

    token = bearer_token()
    if token is not None:
        identity = token_identity(request_session(), token) if token else None
        if identity is None:
            if public:
                return None
            raise _unauthorized("the bearer token is not valid (unknown, expired or revoked)")
        return Caller(identity.actor, identity.scopes, identity.family, identity.catalog_stamp)
    from flask_login import current_user

    from admin_ui.auth import LoginUser

    user = current_user._get_current_object()
    if isinstance(user, LoginUser):
        return Caller(user.actor, None)
    return None


def authorize(scope: str) -> Caller | None:
    """The caller, checked against the endpoint's scope; None only for a public endpoint."""
    caller = resolve_caller(public=scope == PUBLIC)
    if caller is not None:
        g.api_caller = caller
    if scope == PUBLIC:
        return caller
    if caller is None:
        raise _unauthorized("log in first: send Authorization: Bearer <access token>")
    if scope != ANY and caller.scopes is not None and scope not in caller.scopes:
        message = f"this token lacks the scope {scope} (it has: {', '.join(sorted(caller.scopes))})"
        raise ApiProblem(403, message, [error_entry("scope", scope, message)])
    return caller


def caller() -> Caller:
    """The authorized caller of this request (an endpoint that is not public)."""
    found: Caller | None = g.get("api_caller")
    if found is None:
        raise _unauthorized("log in first: send Authorization: Bearer <access token>")
    return found
