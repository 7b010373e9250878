"""Users and their one-time tokens (password reset, e-mail verification, invitation)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.models.base import Base, TimestampMixin, utcnow


class Role(StrEnum):
    admin = "admin"
    instructor = "instructor"
    student = "student"


class TokenPurpose(StrEnum):
    password_reset = "password_reset"  # noqa: S105 - a purpose name, not a password
    email_verification = "email_verification"
    invitation = "invitation"


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        # E-mail is unique case-insensitively: services store it lower-cased and this keeps it so.
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint(_in("role", Role), name="role_valid"),
        CheckConstraint("failed_login_attempts >= 0", name="failed_login_attempts_positive"),
        # Reports: learners who logged in during the last 7 and 30 days, from the index alone
        # (migration f6a8b0c2d4e6).
        Index("ix_users_last_login_at_id", "last_login_at", "id"),
        # Reports: learners active in the last 7 and 30 days, one range of this index
        # (migration a76b140908e4; lms_core/accounts/activity.py keeps the time).
        Index("ix_users_role_last_activity_at", "role", "last_activity_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    #: argon2id hash; NULL for users who cannot log in (synthetic, invited, purged).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.student.value)
    is_active: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[datetime | None]
    failed_login_attempts: Mapped[int] = mapped_column(default=0)
    #: Set after too many failed logins; logins are refused until then.
    locked_until: Mapped[datetime | None]
    full_name: Mapped[str] = mapped_column(String(200), default="")
    bio: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    #: The key of this user in a student information system (OneRoster ``sourcedId``).
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    last_login_at: Mapped[datetime | None]
    #: The latest login, lesson completed, quiz attempt started or submitted, or assignment
    #: submitted (lms_core/accounts/activity.py); only ever moves forward.
    last_activity_at: Mapped[datetime | None]
    #: Soft delete: the row stays for the audit trail and enrollments history.
    deleted_at: Mapped[datetime | None]
    #: The TOTP seed, encrypted (AES-GCM, key from the site secret: lms_core/accounts/mfa.py);
    #: never the base32 seed itself. Set by ``mfa enable``, in use once confirmed.
    mfa_secret: Mapped[str | None] = mapped_column(String(255))
    #: When the user proved the seed with a first code; NULL: MFA off (or enrollment pending).
    mfa_enabled_at: Mapped[datetime | None]
    #: The last accepted TOTP time step (unix time // 30): a code is never accepted twice.
    mfa_last_step: Mapped[int | None] = mapped_column(BigInteger)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class OneTimeToken(Base):
    __tablename__ = "one_time_tokens"
    __table_args__ = (
        CheckConstraint(_in("purpose", TokenPurpose), name="purpose_valid"),
        Index("ix_one_time_tokens_user_purpose", "user_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(30))
    #: SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MfaRecoveryCode(Base):
    """A one-use recovery code for a user who lost their authenticator (shown once)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (Index("ix_mfa_recovery_codes_user", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: SHA-256 of the code (50 random bits, normalised): nothing to brute-force offline.
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set when the code logged someone in; it never works again.
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A logged-in browser: the cookie carries the raw id, the table only its SHA-256.

    Server-side, so logging out (or an administrator deactivating the user) ends the session
    everywhere at once, and a new id at each login defeats session fixation.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    user_agent: Mapped[str | None] = mapped_column(String(200))
