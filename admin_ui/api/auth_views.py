"""``/auth/login``, ``/auth/refresh``, ``/auth/logout`` and ``/auth/csrf``.

A login is checked by :func:`lms_core.accounts.auth.authenticate` (the CLI's and the back
office's lockout); a refused one is committed first (the counter must count), then answered.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from admin_ui.api.blueprint import api
from admin_ui.api.caller import ANY, PUBLIC, caller
from admin_ui.api.endpoint import Answer, commit, endpoint


class LoginBody(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    #: For users with MFA on: the 6-digit code of their authenticator app, or a recovery code.
    totp: str | None = Field(default=None, max_length=32)


class RefreshBody(BaseModel):
    refresh_token: str = Field(max_length=200)


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    #: Seconds the access token lives.
    expires_in: int


class LoggedOut(BaseModel):
    revoked: int


class CsrfToken(BaseModel):
    csrf_token: str


def _tokens(pair: object) -> Tokens:
    from lms_core.accounts.api_tokens import TokenPair

    assert isinstance(pair, TokenPair)
    return Tokens(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@api.post("/auth/login")
@endpoint(scope=PUBLIC, tag="auth", ok=Tokens, json=LoginBody)
def login(json: LoginBody) -> Answer:
    """Log in: an access token (short-lived) and a refresh token (used once).

    Users with MFA on send ``totp`` too (a code from their app, or a recovery code); without
    it the answer is 401 with the field ``totp``. A wrong e-mail or password is one answer
    (401, field ``password``) whether the account exists or not.
    """
    from admin_ui.app import state
    from admin_ui.db import request_session
    from lms_core.accounts.api_tokens import issue_login_tokens
    from lms_core.accounts.auth import authenticate
    from lms_core.security import PasswordHasher

    settings = state().settings
    db = request_session()
    outcome = authenticate(
        db,
        email=json.email,
        password=json.password,
        hasher=PasswordHasher.from_settings(settings),
        settings=settings,
        totp=json.totp,
    )
    if not outcome.ok or outcome.user is None:
        db.commit()  # the failed attempt and any lock are kept
        assert outcome.error is not None
        raise outcome.error
    pair = issue_login_tokens(db, user=outcome.user)
    commit()
    return _tokens(pair)


@api.post("/auth/refresh")
@endpoint(scope=PUBLIC, tag="auth", ok=Tokens, json=RefreshBody)
def refresh(json: RefreshBody) -> Answer:
    """A new pair for a refresh token; a refresh token used twice ends its whole login."""
    from admin_ui.app import state
    from admin_ui.db import request_session
    from lms_core.accounts.api_tokens import refresh_tokens

    db = request_session()
    outcome = refresh_tokens(db, raw=json.refresh_token, settings=state().settings)
    db.commit()  # a revoked family stays revoked even though this request is refused
    if outcome.error is not None or outcome.pair is None:
        assert outcome.error is not None
        raise outcome.error
    return _tokens(outcome.pair)


@api.post("/auth/logout")
@endpoint(scope=ANY, tag="auth", ok=LoggedOut)
def logout() -> Answer:
    """End this token's login: its access and refresh tokens (a personal token: itself)."""
    from admin_ui.db import request_session
    from lms_core.accounts.api_tokens import end_login

    who = caller()
    if who.token_family is None:
        from lms_core.errors import ValidationError

        raise ValidationError(
            "this request used the session cookie; log out of the site with POST /logout",
            field="Authorization",
        )
    count = end_login(request_session(), actor=who.actor, family=who.token_family)
    commit()
    return LoggedOut(revoked=count)


@api.get("/auth/csrf")
@endpoint(scope=PUBLIC, tag="auth", ok=CsrfToken)
def csrf() -> Answer:
    """The CSRF token a cookie client sends as ``X-CSRFToken`` on unsafe requests."""
    from flask_wtf.csrf import generate_csrf

    return CsrfToken(csrf_token=generate_csrf())
