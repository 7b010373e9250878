"""API tokens: a login's access/refresh pair (rotated on refresh) and personal tokens.

Every token is opaque (random, prefixed by its kind so a leaked one is recognisable in a
log or a secret scanner) and stored as its SHA-256 only. An access token is short-lived; a
refresh token works once: it gives a new pair in the same family and is marked used. A used
refresh token presented again was copied, so the whole family (every access and refresh
token of that login) is revoked and the holder must log in again. Reading a token never
writes: a request made with one does not queue behind SQLite's write lock.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.accounts.api_scopes import check_scopes
from lms_core.accounts.mfa_policy import mfa_missing
from lms_core.accounts.token_lookup import find_identity
from lms_core.accounts.token_lookup import find_with_user as _find_with_user
from lms_core.actor import Actor
from lms_core.catalog.stamp import vouched
from lms_core.errors import AuthenticationFailed, NotFound, PermissionDenied, ValidationError
from lms_core.models import ApiToken, ApiTokenKind, Role, User, utcnow
from lms_core.security import token_hash

if TYPE_CHECKING:
    from lms_core.settings import Settings

ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=30)
#: A personal token's default and longest life: an integration's token is renewed on purpose.
PERSONAL_TTL = timedelta(days=90)
PERSONAL_MAX = timedelta(days=366)

_PREFIX = {
    ApiTokenKind.access: "lms_at_",
    ApiTokenKind.refresh: "lms_rt_",
    ApiTokenKind.personal: "lms_pat_",
}


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class TokenIdentity:
    """Who a presented token acts as, and with what scopes (None: the user's full rights)."""

    actor: Actor
    scopes: frozenset[str] | None
    token_id: int
    family: str
    #: The catalog's stamp, read with the token (``lms_core.catalog.stamp``); None when it
    #: vouches for nothing.
    catalog_stamp: str | None = None

    def allows(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


@dataclass
class RefreshOutcome:
    """A refresh's result; a refused one may still have written (a family revoked), so the
    entry point commits and then reports ``error`` (as for a failed login)."""

    pair: TokenPair | None
    error: AuthenticationFailed | PermissionDenied | None = None


def _new(
    session: Session,
    *,
    user: User,
    kind: ApiTokenKind,
    family: str,
    expires_at: datetime,
    now: datetime,
    name: str | None = None,
    scopes: list[str] | None = None,
) -> tuple[ApiToken, str]:
    raw = _PREFIX[kind] + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        kind=kind.value,
        token_hash=token_hash(raw),
        family=family,
        name=name,
        scopes=" ".join(scopes) if scopes is not None else None,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    return row, raw


def _pair(session: Session, user: User, family: str, now: datetime) -> TokenPair:
    _, access = _new(
        session,
        user=user,
        kind=ApiTokenKind.access,
        family=family,
        expires_at=now + ACCESS_TTL,
        now=now,
    )
    _, refresh = _new(
        session,
        user=user,
        kind=ApiTokenKind.refresh,
        family=family,
        expires_at=now + REFRESH_TTL,
        now=now,
    )
    session.flush()
    return TokenPair(access, refresh, int(ACCESS_TTL.total_seconds()))


def issue_login_tokens(session: Session, *, user: User, now: datetime | None = None) -> TokenPair:
    """A new family for a user who just authenticated (``authenticate`` said ok)."""
    now = now or utcnow()
    pair = _pair(session, user, secrets.token_hex(16), now)
    audit.record(session, Actor.for_user(user), "user.login", user, after={"via": "api"})
    return pair


def revoke_family(session: Session, family: str, *, now: datetime | None = None) -> int:
    """Revoke every live token of a login; how many were live."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.family == family, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def revoke_user_tokens(
    session: Session, user_id: int, *, personal: bool, now: datetime | None = None
) -> int:
    """Revoke a user's live login tokens (access and refresh), and with ``personal`` their
    personal tokens too; how many. Called wherever web sessions end (password reset or set,
    deactivation): a token issued against the old password or before the deactivation must
    not outlive it, and reactivating an account must not bring old tokens back."""
    kinds = [ApiTokenKind.access.value, ApiTokenKind.refresh.value]
    if personal:
        kinds.append(ApiTokenKind.personal.value)
    result = session.execute(
        update(ApiToken)
        .where(
            ApiToken.user_id == user_id,
            ApiToken.kind.in_(kinds),
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _usable_user(session: Session, row: ApiToken, user: User | None = None) -> User | None:
    user = user or session.get(User, row.user_id)
    if user is None or not user.is_active or user.deleted_at is not None:
        return None
    return user


def _reused(session: Session, row: ApiToken, now: datetime) -> RefreshOutcome:
    """A refresh token presented after it was used: a copy is in other hands, so the whole
    login is revoked and the event audited."""
    revoke_family(session, row.family, now=now)
    user = session.get(User, row.user_id)
    if user is not None:
        audit.record(
            session,
            Actor.system("auth"),
            "api_token.reuse",
            user,
            after={"family": row.family, "token_id": row.id},
        )
    return RefreshOutcome(
        None,
        AuthenticationFailed(
            "this refresh token was already used: every token of this login is revoked; "
            "log in again",
            field="refresh_token",
        ),
    )


def refresh_tokens(
    session: Session, *, raw: str, settings: Settings, now: datetime | None = None
) -> RefreshOutcome:
    """Rotate a refresh token: a new pair, the old refresh token used, the old access ones
    revoked. A refresh token used before revokes its whole family (a copy is in other hands).
    A user whose role must use MFA and has not set it up is refused as at login (403, field
    ``totp``): a login made before ``LMS_MFA_REQUIRED_ROLES`` does not outlive it."""
    now = now or utcnow()
    row = (_find_with_user(session, raw) or (None, None))[0]
    refused = AuthenticationFailed(
        "this refresh token is not valid; log in again", field="refresh_token"
    )
    if row is None or row.kind != ApiTokenKind.refresh.value:
        return RefreshOutcome(None, refused)
    if row.used_at is not None and row.revoked_at is None:
        return _reused(session, row, now)
    if row.revoked_at is not None or row.used_at is not None or row.expires_at <= now:
        return RefreshOutcome(None, refused)
    user = _usable_user(session, row)
    if user is None:
        return RefreshOutcome(None, refused)
    if (missing := mfa_missing(user, settings)) is not None:
        return RefreshOutcome(None, missing)
    # The read above takes no lock: two refreshes with the same token may both get here.
    # Marking it used only if still unused makes exactly one win; the other is a reuse.
    claimed = session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == row.id,
            ApiToken.used_at.is_(None),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        return _reused(session, row, now)
    row.used_at = now
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.family == row.family,
            ApiToken.kind == ApiTokenKind.access.value,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return RefreshOutcome(_pair(session, user, row.family, now))


def token_identity(
    session: Session, raw: str, *, now: datetime | None = None
) -> TokenIdentity | None:
    """Who an access or personal token acts as, or None (unknown, revoked, expired, a
    refresh token, or its user deactivated). Reads only: one kept statement, plain columns
    (``token_lookup.find_identity``; every API request makes this check)."""
    now = now or utcnow()
    row = find_identity(session, raw)
    if row is None or row.kind == ApiTokenKind.refresh.value:
        return None
    if row.revoked_at is not None or row.expires_at <= now:
        return None
    if not row.is_active or row.deleted_at is not None:  # as _usable_user
        return None
    actor = Actor(label=row.email, role=Role(row.role), user_id=row.user_id)
    scopes = None if row.scopes is None else frozenset(row.scopes.split())
    stamp = vouched(row.catalog_stamp, row.catalog_stamp_clean)
    return TokenIdentity(actor, scopes, row.token_id, row.family, stamp)


def end_login(session: Session, *, actor: Actor, family: str) -> int:
    """Log out: revoke the family a token belongs to (a personal token: that token alone)."""
    count = revoke_family(session, family)
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is not None:
        audit.record(session, actor, "user.logout", user, after={"via": "api"})
    return count


_DURATION = re.compile(r"^(\d{1,4})\s*([dhw])$")


def parse_expiry(text: str, *, now: datetime | None = None) -> datetime:
    """``90d``, ``12w``, ``48h`` or a date ``2027-03-01`` → when a personal token expires."""
    now = now or utcnow()
    value = text.strip().lower()
    found = _DURATION.match(value)
    if found:
        unit = {"d": "days", "h": "hours", "w": "weeks"}[found.group(2)]
        expires = now + timedelta(**{unit: int(found.group(1))})
    else:
        try:
            day = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(
                "give a duration (90d, 12w, 48h) or a date (2027-03-01)",
                field="expires",
                value=text,
            ) from None
        expires = day if day.tzinfo else day.replace(tzinfo=now.tzinfo)
    if expires <= now:
        raise ValidationError("the expiry is in the past", field="expires", value=text)
    if expires - now > PERSONAL_MAX:
        raise ValidationError(
            f"a token lives {PERSONAL_MAX.days} days at most; create a new one when it ends",
            field="expires",
            value=text,
        )
    return expires


def create_personal_token(
    session: Session,
    *,
    actor: Actor,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A personal access token acting as ``actor``'s user with ``scopes``; the raw token once."""
    if actor.user_id is None:
        raise PermissionDenied(
            f"a token acts as a user: act as the user it is for (acting as {actor.label})"
        )
    user = session.get(User, actor.user_id)
    if user is None or not user.is_active or user.deleted_at is not None:
        raise NotFound(f"no active user {actor.label}", field="as", value=actor.label)
    label = name.strip()
    if not label or len(label) > 100:
        raise ValidationError(
            "give the token a name of 1 to 100 characters", field="name", value=name
        )
    now = utcnow()
    row, raw = _new(
        session,
        user=user,
        kind=ApiTokenKind.personal,
        family=secrets.token_hex(16),
        expires_at=expires_at or now + PERSONAL_TTL,
        now=now,
        name=label,
        scopes=check_scopes(scopes),
    )
    session.flush()
    audit.record(
        session,
        actor,
        "api_token.create",
        row,
        after={"name": label, "scopes": row.scopes, "expires_at": row.expires_at.isoformat()},
    )
    return row, raw


def list_personal_tokens(session: Session, *, actor: Actor) -> list[tuple[ApiToken, User]]:
    """Personal tokens: an administrator sees everyone's, a user their own."""
    stmt = (
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.kind == ApiTokenKind.personal.value)
        .order_by(ApiToken.id)
    )
    if not actor.is_admin:
        stmt = stmt.where(ApiToken.user_id == (actor.user_id or -1))
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def revoke_personal_token(session: Session, *, actor: Actor, token_id: int) -> ApiToken:
    """Revoke one personal token (its owner or an administrator)."""
    row = session.get(ApiToken, token_id)
    if (
        row is None
        or row.kind != ApiTokenKind.personal.value
        or not (actor.is_admin or actor.is_user(row.user_id))
    ):
        raise NotFound(f"no personal token {token_id}", field="id", value=token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        audit.record(session, actor, "api_token.revoke", row, after={"name": row.name})
    return row


def token_row(token: ApiToken, user: User, *, now: datetime | None = None) -> dict[str, object]:
    """A personal token as ``tokens list`` shows it: never the token, only what it can do."""
    now = now or utcnow()
    status = (
        "revoked"
        if token.revoked_at is not None
        else "expired"
        if token.expires_at <= now
        else "active"
    )
    return {
        "id": token.id,
        "email": user.email,
        "name": token.name,
        "scopes": token.scopes,
        "status": status,
        "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat(),
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }
