"""Passwords (argon2id through passlib) and one-time tokens (only their hash is stored)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lms_core.errors import ValidationError

if TYPE_CHECKING:
    from passlib.context import CryptContext

    from lms_core.settings import Settings

#: The most common passwords of breach lists; a real deployment can add its own.
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "iloveyou",
        "letmein123",
        "welcome123",
        "admin12345",
        "changeme123",
        "passw0rd123",
    }
)


@dataclass
class PasswordHasher:
    """argon2id hashing with the cost from settings, and the strength policy."""

    context: CryptContext
    min_length: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        from passlib.context import CryptContext

        context = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__time_cost=settings.password_time_cost,
            argon2__memory_cost=settings.password_memory_cost,
            argon2__parallelism=settings.password_parallelism,
        )
        return cls(context=context, min_length=settings.password_min_length)

    def check_strength(self, password: str, *, email: str | None = None) -> None:
        """Refuse a weak password with a message that says what to change."""
        problems = []
        if len(password) < self.min_length:
            problems.append(f"must be at least {self.min_length} characters")
        if not any(c.isalpha() for c in password) or not any(not c.isalpha() for c in password):
            problems.append("must mix letters with digits or symbols")
        if password.lower() in COMMON_PASSWORDS:
            problems.append("is one of the most common passwords")
        name = (email or "").replace("\u00a0", " ").strip().split("@")[0].lower()
        # Names of one or two letters (j@x.org) would forbid half the alphabet; skip those.
        if len(name) >= 3 and name in password.lower():
            problems.append("must not contain the e-mail name")
        if problems:
            raise ValidationError("password " + " and ".join(problems), field="password")

    def hash(self, password: str) -> str:
        return str(self.context.hash(password))

    def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Check ``password``; the second value is a new hash when the cost has changed."""
        if not password_hash:
            return False, None
        ok, new_hash = self.context.verify_and_update(password, password_hash)
        return bool(ok), new_hash


def new_token() -> str:
    """A URL-safe random token for the user; only :func:`token_hash` of it is stored."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # A fast hash is right here: tokens are 256-bit random, so there is nothing to brute-force.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
