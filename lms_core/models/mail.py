"""The mail outbox: every e-mail the toolkit sends, written in the transaction that causes it.

A row is rendered when it is queued (a later change of a name or a course title does not
alter a mail already decided) and sent by a ``mail.send`` job (``lms_core.mail.jobs``).
Its ``key`` makes queueing idempotent; its ``message_id`` is derived from the key, so a mail
sent twice after a crash carries the same Message-ID both times (docs/email.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.models.base import Base, utcnow
from lms_core.models.users import _in


class MailStatus(StrEnum):
    #: Waiting for the job worker (or for SMTP to be configured, or to come back).
    queued = "queued"
    #: Handed to the SMTP server by a job that has not recorded the answer yet; a job killed
    #: there leaves it so, and its retry sends it again with the same Message-ID.
    sending = "sending"
    sent = "sent"
    #: Refused for good by the server (a 5xx answer): never retried; ``last_error`` says why.
    failed = "failed"
    #: Not sent: the link it carries stopped working before it went out (the token was used,
    #: replaced by a newer one, expired, or its user removed).
    cancelled = "cancelled"


class OutboxMail(Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (
        CheckConstraint(_in("status", MailStatus), name="status_valid"),
        CheckConstraint("attempts >= 0", name="attempts_positive"),
        Index("ix_mail_outbox_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What the mail is about, unique: queueing the same key twice gives the first row back
    #: (``invite:<user id>:<token>``, ``reset:...``, ``test:...``).
    key: Mapped[str] = mapped_column(String(200), unique=True)
    #: The template it was rendered from (``invitation``, ``password_reset``...).
    template: Mapped[str] = mapped_column(String(50))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(998))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=MailStatus.queued.value)
    #: Times the job handed it to a server (a retry after a refused connection counts too).
    attempts: Mapped[int] = mapped_column(default=0)
    #: The last server answer or connection error, for ``lmsctl email outbox``.
    last_error: Mapped[str | None] = mapped_column(Text)
    #: ``<sha256(site, key)@host>``: the same for every attempt, so receivers see one message.
    message_id: Mapped[str] = mapped_column(String(255))
    #: The one-time token whose link the mail carries (its SHA-256, as ``one_time_tokens``
    #: stores it): the mail is cancelled, not sent, once that link no longer works.
    token_hash: Mapped[str | None] = mapped_column(String(64))
    #: A file the mail carries (a scheduled report's, in its schedule's folder), read when the
    #: mail is sent: a file gone by then fails the mail, naming it.
    attachment_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
