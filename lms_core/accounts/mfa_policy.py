"""Whether a user's role must use MFA and whether they have it: the rule every door checks
(the password login, the refresh of an API login, each back-office request of a session);
and forgetting a user's MFA (disable, and a user's purge in ``users``).

Apart from :mod:`lms_core.accounts.mfa` (which revokes tokens when MFA changes, so it imports
``api_tokens``, and reads users through ``users``) so that ``api_tokens`` and ``users`` can
use these without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.orm import Session

from lms_core.errors import PermissionDenied
from lms_core.models import MfaRecoveryCode, User

if TYPE_CHECKING:
    from lms_core.settings import Settings


def is_enabled(user: User) -> bool:
    """MFA is on: a seed is stored and a first code confirmed it."""
    return user.mfa_enabled_at is not None and user.mfa_secret is not None


def mfa_required_message(user: User) -> str:
    """The refusal's words. No CLI command in them: the back office and the API show it to
    people without a shell; docs/back-office.md and README name the commands."""
    return (
        f"your role ({user.role}) must log in with MFA and {user.email} has not set it up; "
        f"ask an administrator to enroll {user.email} in MFA, then confirm it with a code "
        "from your authenticator app"
    )


def mfa_missing(user: User, settings: Settings) -> PermissionDenied | None:
    """The refusal for a user whose role must use MFA (``LMS_MFA_REQUIRED_ROLES``) and who
    has not turned it on; None otherwise. Every door checks it: the password login, the
    refresh of an API login, and each back-office request of an existing session."""
    if user.role in settings.mfa_roles and not is_enabled(user):
        return PermissionDenied(mfa_required_message(user), field="totp")
    return None


def forget(session: Session, user: User) -> None:
    """Drop the seed, its state and the recovery codes (disable, and a user's purge)."""
    user.mfa_secret = None
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    session.flush()
