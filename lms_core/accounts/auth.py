"""Logging in: argon2id verification, rehash on new parameters, lockout with backoff.

A failed login must be *recorded* (the counter, the lock) even though it is refused, so
:func:`authenticate` returns an outcome instead of raising: the entry point commits, then
reports the outcome's error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.accounts.users import find_user
from lms_core.actor import Actor
from lms_core.errors import AccountLocked, AuthenticationFailed, LmsError
from lms_core.models import User, utcnow
from lms_core.security import PasswordHasher
from lms_core.settings import Settings

_GENERIC = "wrong e-mail or password"


@dataclass
class LoginOutcome:
    user: User | None
    error: LmsError | None = None

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


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    hasher: PasswordHasher,
    settings: Settings,
    now: datetime | None = None,
) -> LoginOutcome:
    now = now or utcnow()
    user = find_user(session, email)
    if user is None or not user.is_active:
        # Spend the same time as a real check, so timing does not reveal who exists.
        hasher.verify(password, hasher.hash("not-a-real-password-0"))
        return LoginOutcome(None, AuthenticationFailed(_GENERIC, field="email"))
    if user.locked_until is not None and user.locked_until > now:
        return LoginOutcome(
            user,
            AccountLocked(
                _locked_message(user.locked_until, user.failed_login_attempts, now), field="email"
            ),
        )
    ok, new_hash = hasher.verify(password, user.password_hash)
    if not ok:
        user.failed_login_attempts += 1
        if user.failed_login_attempts >= settings.lockout_threshold:
            user.locked_until = now + timedelta(
                minutes=lock_minutes(settings, user.failed_login_attempts)
            )
            session.flush()
            audit.record(
                session,
                Actor.system("auth"),
                "user.lock",
                user,
                after={
                    "failed_login_attempts": user.failed_login_attempts,
                    "locked_until": user.locked_until.isoformat(),
                },
            )
            return LoginOutcome(
                user,
                AccountLocked(
                    _locked_message(user.locked_until, user.failed_login_attempts, now),
                    field="email",
                ),
            )
        session.flush()
        left = settings.lockout_threshold - user.failed_login_attempts
        return LoginOutcome(
            user,
            AuthenticationFailed(
                f"{_GENERIC} ({left} attempt{'s' if left != 1 else ''} left before the account locks)",
                field="password",
            ),
        )
    if new_hash is not None:
        user.password_hash = new_hash
    user.failed_login_attempts = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    return LoginOutcome(user)
