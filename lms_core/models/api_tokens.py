"""API tokens: a login's access and refresh tokens, and personal access tokens (PATs).

Like every token here the raw value is shown once and only its SHA-256 is kept. A login
makes one *family*: its access and refresh tokens share ``family``; a refresh uses its
refresh token once and gets a new pair in the same family, so a refresh token presented a
second time means a copy is in someone else's hands, and the whole family is revoked.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.models.base import Base, utcnow


class ApiTokenKind(StrEnum):
    access = "access"
    refresh = "refresh"
    #: A personal access token for an integration: long-lived, scoped, revoked by hand.
    personal = "personal"


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('access', 'refresh', 'personal')", name="kind_valid"),
        Index("ix_api_tokens_user", "user_id"),
        Index("ix_api_tokens_family", "family"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    #: SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The login an access/refresh pair belongs to (random); a PAT is its own family.
    family: Mapped[str] = mapped_column(String(32))
    #: A PAT's label, shown by ``tokens list`` (never the token).
    name: Mapped[str | None] = mapped_column(String(100))
    #: Space-separated scopes; NULL for a login's tokens, which carry the user's own rights.
    scopes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    #: A refresh token's one use (its rotation); a second use is the theft signal.
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def scope_list(self) -> list[str] | None:
        return None if self.scopes is None else self.scopes.split()
