"""The account's one-time links as JSON: ask for a password reset, set a password from a
reset or an invitation token, verify an e-mail address.

The same services as the public pages (:mod:`admin_ui.public.passwords`): a reset request
answers the same whatever the address (202), a token works once and expires, a new password
ends every session of its user.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from admin_ui.api.blueprint import api
from admin_ui.api.caller import PUBLIC
from admin_ui.api.endpoint import Answer, commit, endpoint
from lms_core.models import TokenPurpose


class ResetRequest(BaseModel):
    email: str = Field(max_length=320)


class TokenPassword(BaseModel):
    token: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class TokenOnly(BaseModel):
    token: str = Field(max_length=200)


class Accepted(BaseModel):
    detail: str


class AccountDone(BaseModel):
    email: str


@api.post("/auth/password-reset")
@endpoint(scope=PUBLIC, tag="auth", ok=Accepted, status=202, json=ResetRequest)
def password_reset(json: ResetRequest) -> Answer:
    """Mail a reset link to the account's address; the answer never says whether it exists."""
    from admin_ui.public.passwords import RESET_SENT, _queue_reset_mail

    if "@" in json.email:
        _queue_reset_mail(json.email.strip())
    return Accepted(detail=RESET_SENT), 202


def _set_password(token: str, password: str, purpose: TokenPurpose) -> AccountDone:
    from admin_ui.app import state
    from admin_ui.db import request_session
    from lms_core.accounts.tokens import reset_password_with_token
    from lms_core.security import PasswordHasher

    user = reset_password_with_token(
        request_session(),
        raw=token,
        password=password,
        hasher=PasswordHasher.from_settings(state().settings),
        purpose=purpose,
    )
    done = AccountDone(email=user.email)
    commit()
    return done


@api.post("/auth/password-reset/confirm")
@endpoint(scope=PUBLIC, tag="auth", ok=AccountDone, json=TokenPassword)
def password_reset_confirm(json: TokenPassword) -> Answer:
    """Choose a new password with the token of a reset mail (once; every session ends)."""
    return _set_password(json.token, json.password, TokenPurpose.password_reset)


@api.post("/auth/invitation")
@endpoint(scope=PUBLIC, tag="auth", ok=AccountDone, json=TokenPassword)
def accept_invitation(json: TokenPassword) -> Answer:
    """Choose the first password with the token of an invitation mail; then log in."""
    return _set_password(json.token, json.password, TokenPurpose.invitation)


@api.post("/auth/email-verification")
@endpoint(scope=PUBLIC, tag="auth", ok=AccountDone, json=TokenOnly)
def verify_email(json: TokenOnly) -> Answer:
    """Confirm an e-mail address with the token of a verification mail."""
    from admin_ui.db import request_session
    from lms_core.accounts.tokens import consume_token

    user = consume_token(request_session(), raw=json.token, purpose=TokenPurpose.email_verification)
    done = AccountDone(email=user.email)
    commit()
    return done
