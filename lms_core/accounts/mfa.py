"""Multi-factor login for staff: TOTP (RFC 6238) codes and one-use recovery codes.

Enrollment is two steps, as GitHub, GitLab and Django's two-factor apps do it: ``enable``
stores a new seed and shows it (otpauth:// URI, QR, recovery codes) once; ``confirm`` with a
first code from the app turns MFA on. A seed nobody proved to have scanned never locks its
user out, and until the confirmation the login does not ask for a code.

The seed is encrypted at rest (AES-256-GCM, the user's id as associated data so a ciphertext
copied onto another row does not decrypt). The key is derived from the site secret
(``LMS_SECRET_KEY``) with HKDF-SHA256 and a purpose label: no second secret to deploy and lose,
and the key is not the one that signs session cookies, so neither use weakens the other. A
database dump or backup alone no longer yields the seeds. Changing ``LMS_SECRET_KEY`` makes
the stored seeds unreadable: those users log in with a recovery code or are re-enrolled.

Turning MFA on (``confirm``) or off (``disable``) ends the user's logins made without it or
with it: their back-office sessions and their API logins (access and refresh tokens), as a
password change does. Personal access tokens are kept, as GitHub keeps them: they are made on
purpose for an integration, not by a login, and revoking them would break it silently;
``lmsctl tokens revoke`` ends one.

Recovery codes are 50 random bits each and stored as SHA-256 (like API tokens): nothing to
brute-force offline, and each works once.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.accounts.mfa_policy import forget as forget  # disable and purge call it
from lms_core.accounts.mfa_policy import is_enabled as is_enabled  # the doors call mfa.is_enabled
from lms_core.accounts.users import get_user
from lms_core.actor import Actor
from lms_core.errors import Conflict, PermissionDenied, ValidationError
from lms_core.models import MfaRecoveryCode, User, utcnow
from lms_core.security import token_hash
from lms_core.settings import Settings

#: Seconds per TOTP step, and digits per code: the values every authenticator app assumes.
STEP_SECONDS = 30
DIGITS = 6
#: Steps accepted either side of now (RFC 6238 section 5.2: one step of clock drift).
DRIFT_STEPS = 1
RECOVERY_CODES = 10
ISSUER = "LMS"
_PREFIX = "v1:"
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without doubt


def _key(settings: Settings) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"lms users.mfa_secret"
    ).derive(settings.secret_key.get_secret_value().encode("utf-8"))


def encrypt_secret(settings: Settings, user_id: int, secret: str) -> str:
    """The stored form of a base32 seed: ``v1:`` + base64(nonce + AES-GCM ciphertext)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(settings)).encrypt(nonce, secret.encode("ascii"), _aad(user_id))
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def decrypt_secret(settings: Settings, user_id: int, stored: str) -> str | None:
    """The base32 seed, or None when it cannot be read (another secret key, a copied row)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not stored.startswith(_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(stored[len(_PREFIX) :])
        plain = AESGCM(_key(settings)).decrypt(raw[:12], raw[12:], _aad(user_id))
    except (InvalidTag, ValueError):
        return None
    return plain.decode("ascii")


def _aad(user_id: int) -> bytes:
    return f"users.mfa_secret:{user_id}".encode("ascii")


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


@dataclass(frozen=True)
class Enrollment:
    """What ``enable`` shows once: the seed, its otpauth:// URI and the recovery codes."""

    email: str
    secret: str
    uri: str
    recovery_codes: list[str]


def _state(user: User) -> dict[str, str]:
    """What the audit log keeps of a change: the state, never the seed."""
    return {"mfa": "on" if is_enabled(user) else ("pending" if user.mfa_secret else "off")}


def _require_self_or_admin(actor: Actor, user: User, what: str) -> None:
    if not (actor.is_admin or actor.is_user(user.id)):
        raise PermissionDenied(
            f"only an administrator or the user may {what} (acting as {actor.label})"
        )


def enable(session: Session, *, actor: Actor, email: str, settings: Settings) -> Enrollment:
    """Start an enrollment: a new seed and new recovery codes (the old ones stop working).

    MFA is on only after :func:`confirm`. Refused while MFA is on: disable it first, so a
    stolen shell session cannot silently swap the seed of a working enrollment.
    """
    import pyotp

    user = get_user(session, email)
    _require_self_or_admin(actor, user, "set up MFA")
    if is_enabled(user):
        raise Conflict(
            f"MFA is already on for {user.email}; disable it first to enroll a new device",
            field="email",
            value=user.email,
        )
    before = _state(user)
    secret = pyotp.random_base32()
    user.mfa_secret = encrypt_secret(settings, user.id, secret)
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    session.add_all(
        MfaRecoveryCode(user_id=user.id, code_hash=token_hash(normalise_recovery_code(c)))
        for c in codes
    )
    session.flush()
    audit.record(session, actor, "user.mfa.enroll", user, before=before, after=_state(user))
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=ISSUER
    )
    return Enrollment(email=user.email, secret=secret, uri=uri, recovery_codes=codes)


def _step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def check_totp(settings: Settings, user: User, code: str, now: datetime) -> int | None:
    """The time step ``code`` belongs to (within the drift window, after the last used step),
    or None. Comparisons are constant-time."""
    import pyotp

    code = code.strip().replace(" ", "")
    if user.mfa_secret is None or len(code) != DIGITS or not code.isdigit():
        return None
    secret = decrypt_secret(settings, user.id, user.mfa_secret)
    if secret is None:
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = _step(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    if found is None or (user.mfa_last_step is not None and found <= user.mfa_last_step):
        return None
    return found


def use_recovery_code(session: Session, user: User, code: str, now: datetime) -> bool:
    """Spend a recovery code: True once per code (a conditional UPDATE: two logins racing
    with one code, one wins)."""
    normal = normalise_recovery_code(code)
    if len(normal) != 10:
        return False
    result = session.execute(
        update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == user.id,
            MfaRecoveryCode.code_hash == token_hash(normal),
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _claim_step(session: Session, user: User, step: int) -> bool:
    """Store ``step`` as the last used one unless another login stored it (or a later one)
    first: a conditional UPDATE, so two logins racing with one code cannot both win."""
    from sqlalchemy.orm.attributes import set_committed_value

    session.flush()
    result = session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.mfa_last_step.is_(None), User.mfa_last_step < step),
        )
        .values(mfa_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return False
    set_committed_value(user, "mfa_last_step", step)
    return True


def verify_second_factor(
    session: Session, *, settings: Settings, user: User, code: str, now: datetime
) -> str | None:
    """Check a TOTP or recovery code at login; ``"totp"``/``"recovery_code"`` or None.

    A TOTP code's step is stored so the same code (or an older one) is refused next time.
    """
    step = check_totp(settings, user, code, now)
    if step is not None and _claim_step(session, user, step):
        return "totp"
    if use_recovery_code(session, user, code, now):
        session.flush()
        audit.record(session, Actor.system("auth"), "user.mfa.recovery_code_used", user)
        return "recovery_code"
    return None


def confirm(
    session: Session,
    *,
    actor: Actor,
    email: str,
    code: str,
    settings: Settings,
    now: datetime | None = None,
) -> User:
    """Turn MFA on once the user proves the new seed with a code from their app."""
    now = now or utcnow()
    user = get_user(session, email)
    _require_self_or_admin(actor, user, "set up MFA")
    if is_enabled(user):
        raise Conflict(f"MFA is already on for {user.email}", field="email", value=user.email)
    if user.mfa_secret is None:
        raise Conflict(
            f"no MFA enrollment to confirm for {user.email}; run `mfa enable` first",
            field="email",
            value=user.email,
        )
    step = check_totp(settings, user, code, now)
    if step is None:
        raise ValidationError(
            "wrong code: type the 6 digits the authenticator app shows now", field="code"
        )
    before = _state(user)
    user.mfa_last_step = step
    user.mfa_enabled_at = now
    session.flush()
    _end_logins(session, user)
    audit.record(session, actor, "user.mfa.enable", user, before=before, after=_state(user))
    return user


def disable(session: Session, *, actor: Actor, email: str) -> User:
    """Turn MFA off and forget the seed and recovery codes (a lost phone: an administrator
    does this, then the user enrolls again)."""
    user = get_user(session, email)
    _require_self_or_admin(actor, user, "turn off MFA")
    if user.mfa_secret is None:
        raise Conflict(f"MFA is not set up for {user.email}", field="email", value=user.email)
    before = _state(user)
    forget(session, user)
    _end_logins(session, user)
    audit.record(session, actor, "user.mfa.disable", user, before=before, after=_state(user))
    return user


def _end_logins(session: Session, user: User) -> None:
    """End the back-office sessions and API logins (not the personal tokens) of ``user``:
    a login made under the other MFA state must log in again, as after a password change."""
    from lms_core.accounts.api_tokens import revoke_user_tokens
    from lms_core.accounts.web_sessions import close_user_sessions

    close_user_sessions(session, user.id)
    revoke_user_tokens(session, user.id, personal=False)


def status(session: Session, *, actor: Actor, email: str, settings: Settings) -> dict[str, object]:
    """MFA state for one user: on, pending, off; recovery codes left; required by the role."""
    user = get_user(session, email)
    _require_self_or_admin(actor, user, "see MFA status")
    left = len(
        session.scalars(
            select(MfaRecoveryCode.id).where(
                MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None)
            )
        ).all()
    )
    state = _state(user)["mfa"]
    return {
        "email": user.email,
        "mfa": state,
        "enabled_at": user.mfa_enabled_at.isoformat() if user.mfa_enabled_at else None,
        "recovery_codes_left": left if state != "off" else 0,
        "required": user.role in settings.mfa_roles,
    }
