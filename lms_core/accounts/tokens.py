"""One-time tokens: password reset, e-mail verification and invitations.

The raw token is returned once to be sent to the user; only its SHA-256 is stored, it
expires, and it works once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.errors import ValidationError
from lms_core.models import OneTimeToken, TokenPurpose, User, utcnow
from lms_core.security import PasswordHasher, new_token, token_hash

DEFAULT_TTL = {
    TokenPurpose.password_reset: timedelta(hours=2),
    TokenPurpose.email_verification: timedelta(days=3),
    TokenPurpose.invitation: timedelta(days=14),
}


def issue_token(
    session: Session,
    *,
    actor: Actor,
    user: User,
    purpose: TokenPurpose,
    ttl: timedelta | None = None,
) -> str:
    """Issue a token for ``user``; earlier unused tokens of the same purpose stop working."""
    now = utcnow()
    session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == purpose.value,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    raw = new_token()
    token = OneTimeToken(
        user_id=user.id,
        purpose=purpose.value,
        token_hash=token_hash(raw),
        expires_at=now + (ttl or DEFAULT_TTL[purpose]),
    )
    session.add(token)
    session.flush()
    audit.record(session, actor, f"token.issue.{purpose.value}", user)
    return raw


def request_password_reset(
    session: Session, *, actor: Actor, email: str, mail_base_url: str | None = None
) -> tuple[User, str]:
    """A password-reset token for a user, asked for by an administrator or the user.

    With ``mail_base_url`` (the site's public address) the reset link is also mailed to the
    user: the mail is queued in this transaction, so it exists exactly when the token does.
    """
    from lms_core.accounts.users import get_user
    from lms_core.errors import PermissionDenied

    user = get_user(session, email)
    if not (actor.is_admin or actor.is_user(user.id)):
        raise PermissionDenied(
            f"only an administrator or the user may ask for a reset token (acting as {actor.label})"
        )
    purpose = TokenPurpose.password_reset
    raw = issue_token(session, actor=actor, user=user, purpose=purpose)
    if mail_base_url is not None:
        from lms_core.mail.outbox import queue_mail
        from lms_core.mail.render import reset_password_link

        queue_mail(
            session,
            template="password_reset",
            to=user.email,
            context={
                "full_name": user.full_name,
                "link": reset_password_link(mail_base_url, raw),
                "valid_hours": int(DEFAULT_TTL[purpose].total_seconds() // 3600),
            },
            key=f"reset:{user.id}:{token_hash(raw)[:16]}",
            base_url=mail_base_url,
            token_hash=token_hash(raw),
        )
    return user, raw


def _live_token(
    session: Session, *, raw: str, purpose: TokenPurpose, now: datetime
) -> tuple[OneTimeToken, User]:
    """The token and its user when the token may be used now; refuses unknown, used, expired."""
    token = session.scalars(
        select(OneTimeToken).where(OneTimeToken.token_hash == token_hash(raw.strip()))
    ).first()
    if token is None or token.purpose != purpose.value:
        raise ValidationError("this link or code is not valid", field="token")
    if token.used_at is not None:
        raise ValidationError("this link or code was already used", field="token")
    if token.expires_at <= now:
        raise ValidationError("this link or code has expired; ask for a new one", field="token")
    user = session.get(User, token.user_id)
    if user is None or user.deleted_at is not None or not user.is_active:
        raise ValidationError("this link or code is not valid", field="token")
    return token, user


def check_token(
    session: Session, *, raw: str, purpose: TokenPurpose, now: datetime | None = None
) -> User:
    """The token's user, leaving the token unused: a page asks for a new password only on a
    link that still works (and says why one does not before anything is typed)."""
    return _live_token(session, raw=raw, purpose=purpose, now=now or utcnow())[1]


def consume_token(
    session: Session, *, raw: str, purpose: TokenPurpose, now: datetime | None = None
) -> User:
    """The token's user, marking the token used; refuses unknown, used or expired tokens."""
    now = now or utcnow()
    token, user = _live_token(session, raw=raw, purpose=purpose, now=now)
    token.used_at = now
    if purpose is TokenPurpose.email_verification:
        user.email_verified_at = now
        session.flush()
        audit.record(
            session,
            Actor.for_user(user),
            "user.verify_email",
            user,
            after={"email_verified_at": now.isoformat()},
        )
    session.flush()
    return user


#: The tokens that let their holder choose a password: a reset, or an invitation's first one.
PASSWORD_PURPOSES = frozenset({TokenPurpose.password_reset, TokenPurpose.invitation})


def reset_password_with_token(
    session: Session,
    *,
    raw: str,
    password: str,
    hasher: PasswordHasher,
    purpose: TokenPurpose = TokenPurpose.password_reset,
) -> User:
    """Set the password of a reset (or invitation) token's user; every session of theirs
    ends, so a thief logged in with the old password is out too. It clears a lockout, except
    for a user with MFA on (their lock also counts wrong codes)."""
    from lms_core.accounts import mfa
    from lms_core.accounts.api_tokens import revoke_user_tokens
    from lms_core.accounts.web_sessions import close_user_sessions

    if purpose not in PASSWORD_PURPOSES:
        raise ValueError(f"a {purpose.value} token sets no password")  # a programming error
    user = consume_token(session, raw=raw, purpose=purpose)
    hasher.check_strength(password, email=user.email)
    user.password_hash = hasher.hash(password)
    if not mfa.is_enabled(user):
        # With MFA on the lock guards the code too, and a reset proves the mailbox, not the
        # phone: clearing it would hand a code guesser new attempts. `users unlock` clears it.
        user.failed_login_attempts = 0
        user.locked_until = None
    session.flush()
    close_user_sessions(session, user.id)
    revoke_user_tokens(session, user.id, personal=False)  # the API's logins end too
    audit.record(session, Actor.for_user(user), "user.reset_password", user)
    return user
