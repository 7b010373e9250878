"""Sending: one outbox row (the ``mail.send`` job), and ``lmsctl email test``.

A row goes ``queued`` -> ``sending`` -> ``sent`` (or ``failed``, refused for good), each step
committed on its own so the SMTP conversation holds no database lock:

1. one transaction takes the row (locked), skips it when it is already ``sent``, ``failed``
   or ``cancelled`` (a job run twice sends nothing twice), cancels it when the link it
   carries no longer works (the token was used, replaced or expired, or its user removed:
   ``users invite`` run twice mails one working link, not two), else marks it ``sending``;
2. the message goes to the server, with the row's Message-ID;
3. one transaction records the answer: ``sent`` with ``sent_at``; ``failed`` with the
   server's answer for a 5xx refusal (the job then succeeds: there is nothing to retry);
   back to ``queued`` with the reason for anything a retry may fix, and the job raises so
   the ledger retries it with backoff.

A row that is ``sent``, ``failed`` or ``cancelled`` loses its bodies in the same step (the
subject, template, address and Message-ID stay): a set-password or reset link must not
outlive its mail in the database and in every backup (tokens are stored hashed for that
reason). With mail not configured the job succeeds without touching the row
(:data:`LEFT_QUEUED`); :mod:`lms_core.mail.sweep` queues it again once SMTP is configured.

A worker killed between the server's "250 OK" and step 3 leaves the row ``sending``; the job
runs again when its lease expires and sends the mail again, with the same Message-ID. That
window cannot be closed from our side (SMTP has no two-phase commit); docs/email.md says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import make_msgid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.db import SessionFactory, unit_of_work
from lms_core.errors import LmsError
from lms_core.mail.render import render, site_host
from lms_core.mail.smtp import (
    NOT_CONFIGURED,
    MailDeferred,
    MailRefused,
    build_message,
    send,
    smtp_config,
)
from lms_core.models import MailStatus, OneTimeToken, OutboxMail, utcnow
from lms_core.permissions import require_admin
from lms_core.settings import Settings
from lms_core.validation import normalize_email

#: Statuses nothing more is done for.
DONE = (MailStatus.sent.value, MailStatus.failed.value, MailStatus.cancelled.value)
#: A job's result when mail is not configured: it succeeds without touching the row, which
#: the sweep (``mail.sweep``) queues again once SMTP is configured.
LEFT_QUEUED = "not configured: left queued"
#: What a finished row keeps of its bodies: nothing (they may hold a working link).
BLANK_BODIES: dict[str, Any] = {"body_text": "", "body_html": None}
LINK_GONE = "not sent: its link no longer works (used, replaced by a newer one, or expired)"


def link_works(session: Session, token_hash: str) -> bool:
    """Whether the one-time token ``token_hash`` still exists, unused and unexpired."""
    stmt = select(OneTimeToken.id).where(
        OneTimeToken.token_hash == token_hash,
        OneTimeToken.used_at.is_(None),
        OneTimeToken.expires_at > utcnow(),
    )
    return session.scalars(stmt).first() is not None


def deliver(factory: SessionFactory, settings: Settings, outbox_id: int) -> dict[str, Any]:
    """Send outbox row ``outbox_id`` once (see the module docstring); a summary for the job.

    Raises :class:`MailDeferred` when a later attempt may succeed (the row is ``queued``
    again, ``last_error`` says why). Mail not configured is not a failure of the job: the row
    stays queued, untouched, and the result says so (:data:`LEFT_QUEUED`); retrying would
    only kill the job after a day and make every ``run-due`` exit 1 meanwhile.
    """
    config = smtp_config(settings)
    if config is None:
        return {"outbox_id": outbox_id, "skipped": LEFT_QUEUED}
    with unit_of_work(factory) as session:
        stmt = select(OutboxMail).where(OutboxMail.id == outbox_id).with_for_update()
        mail = session.scalars(stmt).one_or_none()
        if mail is None:
            return {"outbox_id": outbox_id, "skipped": "no such mail"}
        if mail.status in DONE:
            return {"outbox_id": outbox_id, "skipped": f"already {mail.status}"}
        if mail.token_hash is not None and not link_works(session, mail.token_hash):
            mail.status = MailStatus.cancelled.value
            mail.last_error = LINK_GONE
            mail.body_text, mail.body_html = "", None
            return {"outbox_id": outbox_id, "status": "cancelled"}
        attachment = _attachment(mail.attachment_path)
        if isinstance(attachment, str):
            mail.status = MailStatus.failed.value
            mail.last_error = attachment
            mail.body_text, mail.body_html = "", None
            return {"outbox_id": outbox_id, "status": "failed", "error": attachment}
        mail.status = MailStatus.sending.value
        mail.attempts += 1
        message = build_message(
            sender=config.sender,
            to=mail.to_address,
            subject=mail.subject,
            text=mail.body_text,
            html=mail.body_html,
            message_id=mail.message_id,
            attachment=attachment,
        )
    try:
        send(config, message)
    except MailRefused as exc:
        _record(factory, outbox_id, MailStatus.failed, error=str(exc))
        return {"outbox_id": outbox_id, "status": "failed", "error": str(exc)}
    except MailDeferred as exc:
        _record(factory, outbox_id, MailStatus.queued, error=str(exc))
        raise
    _record(factory, outbox_id, MailStatus.sent, error=None)
    return {"outbox_id": outbox_id, "status": "sent", "message_id": str(message["Message-ID"])}


def _attachment(path: str | None) -> tuple[str, bytes] | str | None:
    """The attached file's name and bytes; a text saying why when it cannot be read (the
    mail then fails for good: the file is gone, a retry would not bring it back).

    A symbolic link is refused, as retention (``own_files``) ignores one: whoever can write
    the schedule's folder must not get any file the worker can read mailed out. The file is
    opened with ``O_NOFOLLOW`` where the system has it, so a link swapped in after a check
    is refused too."""
    if path is None:
        return None
    import errno
    import os
    import stat
    from pathlib import Path

    file = Path(path)
    refused = f"not sent: its attachment {path} is a symbolic link (only a regular file is sent)"
    if file.is_symlink():
        return refused
    try:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(file, flags)  # non-blocking: a FIFO in its place must not hang the job
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return f"not sent: its attachment {path} is not a regular file"
            return file.name, handle.read()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return refused
        return f"not sent: its attachment {path} cannot be read ({exc.strerror or exc})"


def _record(
    factory: SessionFactory, outbox_id: int, status: MailStatus, *, error: str | None
) -> None:
    values: dict[str, Any] = {"status": status.value, "last_error": error}
    if status is MailStatus.sent:
        values["sent_at"] = utcnow()
    if status.value in DONE:  # its links must not outlive it in the database and backups
        values.update(BLANK_BODIES)
    with unit_of_work(factory) as session:
        session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == outbox_id, OutboxMail.status == MailStatus.sending.value)
            .values(**values)
        )


# --- lmsctl email test -----------------------------------------------------------------------


@dataclass(frozen=True)
class TestSent:
    to: str
    server: str
    message_id: str

    def as_dict(self) -> dict[str, str]:
        return {"to": self.to, "server": self.server, "message_id": self.message_id}


def send_test(settings: Settings, *, actor: Actor, to: str) -> TestSent:
    """Send one test mail to ``to`` now, synchronously, bypassing the outbox: what an
    administrator runs to check the SMTP settings. Refused (LmsError, field ``smtp``) with
    the reason when mail is not configured, the server is unreachable or it refuses."""
    require_admin(actor, "send a test mail")
    address = normalize_email(to, field="to")
    config = smtp_config(settings)
    if config is None:
        raise LmsError(NOT_CONFIGURED, field="smtp_host")
    rendered = render("test", {"email": address}, base_url=settings.public_base_url)
    message = build_message(
        sender=config.sender,
        to=address,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=make_msgid("test", domain=site_host(settings.public_base_url)),
    )
    try:
        send(config, message)
    except MailRefused as exc:
        raise LmsError(f"{config.describe()} refused the mail: {exc}", field="smtp") from exc
    except MailDeferred as exc:
        raise LmsError(f"not sent through {config.describe()}: {exc}", field="smtp") from exc
    return TestSent(address, config.describe(), str(message["Message-ID"]))
