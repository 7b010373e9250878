"""Logging in: argon2id verification, rehash on new parameters, lockout with backoff, MFA.

A failed login must be *recorded* (the counter, the lock) even though it is refused, so
:func:`authenticate` returns an outcome instead of raising: the entry point commits, then
reports the outcome's error.

No account enumeration: an unknown or inactive e-mail, a wrong password, and a wrong password
on a locked account all get the same answer (:data:`GENERIC`, field ``password``, 401) after
the same work (one argon2 verification against a real or a dummy hash). Only someone who
typed the right password learns more: that the account is locked (until when), that a
second factor is needed, or that their role requires MFA. The attempt that locks an account
answers like any other failure; the lock is audited (``user.lock``).

The failure counter is reset only by a complete login: a right password without its code
does not reset it, or the code could be guessed without ever locking the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.accounts.activity import note_activity
from lms_core.accounts.mfa_policy import mfa_missing as mfa_missing  # the doors' name
from lms_core.accounts.mfa_policy import mfa_required_message as mfa_required_message
from lms_core.accounts.users import find_user
from lms_core.actor import Actor
from lms_core.errors import AccountLocked, AuthenticationFailed, LmsError, PermissionDenied
from lms_core.models import User, utcnow
from lms_core.security import PasswordHasher
from lms_core.settings import Settings

#: The one answer to every failed password check, whatever the cause.
GENERIC = "wrong e-mail or password"

_dummy_hashes: dict[str, str] = {}


@dataclass
class LoginOutcome:
    user: User | None
    error: LmsError | None = None
    #: How the second factor was given (``totp``, ``recovery_code``), None without MFA.
    second_factor: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def lock_minutes(settings: Settings, failed_attempts: int) -> int:
    """Minutes of lock after ``failed_attempts``: base, then doubling, capped."""
    over = failed_attempts - settings.lockout_threshold
    return int(min(settings.lockout_base_minutes * 2 ** max(over, 0), settings.lockout_max_minutes))


def _locked_message(locked_until: datetime, attempts: int, now: datetime) -> str:
    minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
    return (
        f"account locked after {attempts} failed logins until {locked_until:%Y-%m-%d %H:%M} UTC "
        f"(about {minutes} min); try again then or ask an administrator to unlock it"
    )


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash with the hasher's own cost, made once per cost: checking a password against it
    takes as long as a real check (hashing it at each call would take twice as long)."""
    key = repr(hasher.context.to_dict())
    if key not in _dummy_hashes:
        _dummy_hashes[key] = hasher.hash("not-a-real-password-0")
    return _dummy_hashes[key]


def _failed(user: User | None) -> LoginOutcome:
    return LoginOutcome(user, AuthenticationFailed(GENERIC, field="password"))


def _count_failure(
    session: Session, user: User, settings: Settings, now: datetime
) -> datetime | None:
    """One more failed attempt; the lock's end when this one locks the account.

    Counted in the database (``SET n = n + 1 ... RETURNING n``), not as read-add-write in
    Python: parallel wrong passwords or codes on PostgreSQL each read the same count, and all
    but one increment would be lost, so guessing in parallel would never lock. The row stays
    locked to the others until commit, so each attempt sees its own number. A lock only ever
    lengthens: a slower attempt with a lower number does not shorten a later one's lock.
    """
    from sqlalchemy.orm.attributes import set_committed_value

    session.flush()
    count = session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_login_attempts=User.failed_login_attempts + 1)
        .returning(User.failed_login_attempts)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    set_committed_value(user, "failed_login_attempts", count)
    if count < settings.lockout_threshold:
        return None
    until = now + timedelta(minutes=lock_minutes(settings, count))
    session.execute(
        update(User)
        .where(User.id == user.id, or_(User.locked_until.is_(None), User.locked_until < until))
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(user, "locked_until", until)
    audit.record(
        session,
        Actor.system("auth"),
        "user.lock",
        user,
        after={"failed_login_attempts": count, "locked_until": until.isoformat()},
    )
    return until


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    hasher: PasswordHasher,
    settings: Settings,
    totp: str | None = None,
    roles: frozenset[str] | None = None,
    now: datetime | None = None,
) -> LoginOutcome:
    """Check a login: password, lock, the door's ``roles``, then (for users with MFA on)
    ``totp``, which may be a TOTP code or a recovery code. Missing code: refused (field
    ``totp``) and not counted, the client asks for it; wrong code: counted like a wrong
    password. A role the door does not take (a learner at the back office) is refused
    (403, field ``email``) before the code is checked, so no recovery code is spent on a
    login that cannot succeed."""
    from lms_core.accounts import mfa

    now = now or utcnow()
    user = find_user(session, email)
    if user is None or not user.is_active or not user.password_hash:
        hasher.verify(password, _dummy_hash(hasher))
        return _failed(None)
    ok, new_hash = hasher.verify(password, user.password_hash)
    locked = user.locked_until is not None and user.locked_until > now
    if not ok:
        if not locked:
            _count_failure(session, user, settings, now)
        return _failed(user)
    if locked:
        assert user.locked_until is not None
        return LoginOutcome(
            user,
            AccountLocked(
                _locked_message(user.locked_until, user.failed_login_attempts, now),
                field="password",
            ),
        )
    if roles is not None and user.role not in roles:
        return LoginOutcome(
            user, PermissionDenied(f"this login is not for the role {user.role}", field="email")
        )
    second = None
    if mfa.is_enabled(user):
        if not (totp or "").strip():
            return LoginOutcome(
                user,
                AuthenticationFailed(
                    "enter the 6-digit code from your authenticator app (or a recovery code)",
                    field="totp",
                ),
            )
        second = mfa.verify_second_factor(
            session, settings=settings, user=user, code=totp or "", now=now
        )
        if second is None:
            until = _count_failure(session, user, settings, now)
            if until is not None:
                return LoginOutcome(
                    user,
                    AccountLocked(
                        _locked_message(until, user.failed_login_attempts, now), field="totp"
                    ),
                )
            return LoginOutcome(
                user,
                AuthenticationFailed(
                    "wrong or already used code; wait for the next one or use a recovery code",
                    field="totp",
                ),
            )
    elif (missing := mfa_missing(user, settings)) is not None:
        return LoginOutcome(user, missing)
    if new_hash is not None:
        user.password_hash = new_hash
    user.failed_login_attempts = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    note_activity(session, user.id, now)
    return LoginOutcome(user, second_factor=second)
