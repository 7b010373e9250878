"""Sending one message through the SMTP server the settings name (smtplib).

The answer is sorted into what a retry can fix and what it cannot:

* :class:`MailRefused`: the server refused *this message* for good (a 5xx answer to the
  sender, a recipient or the data): sending it again gets the same answer.
* :class:`MailDeferred`: anything else - no SMTP configured, server down or unreachable,
  a timeout, TLS failing, a 4xx answer ("try again later"), a refused login or a server
  that wants STARTTLS or a login first (settings to fix, not a fault of the message: 530,
  534, 535, 538): the job is retried with backoff.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from functools import lru_cache

from lms_core.mail.render import site_host
from lms_core.settings import Settings, SmtpSecurity

STANDARD_PORTS = {SmtpSecurity.none: 25, SmtpSecurity.starttls: 587, SmtpSecurity.tls: 465}
#: 5xx answers about our settings, not the message (RFC 4954, RFC 3207): "STARTTLS first",
#: "authentication required", "credentials invalid", "encryption required". Fixing the
#: settings makes the same mail go: retried, never failed for good.
SETTINGS_CODES = frozenset({530, 534, 535, 538})
#: Longest server answer kept in ``last_error`` and in messages.
MAX_ANSWER = 500


class MailDeferred(Exception):
    """Not sent this time; a later attempt may succeed."""


class MailRefused(Exception):
    """Refused for good by the server; ``code`` is its SMTP reply code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: SmtpSecurity
    user: str | None
    password: str | None
    timeout: float
    sender: str

    def describe(self) -> str:
        login = f", login {self.user}" if self.user else ""
        return f"{self.host}:{self.port} ({self.security.value}{login})"


def smtp_config(settings: Settings) -> SmtpConfig | None:
    """The SMTP server of ``settings``, or None when mail is not configured (no host)."""
    host = (settings.smtp_host or "").strip()
    if not host:
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpConfig(
        host=host,
        port=settings.smtp_port or STANDARD_PORTS[settings.smtp_security],
        security=settings.smtp_security,
        user=settings.smtp_user or None,
        password=password,
        timeout=float(settings.smtp_timeout_seconds),
        sender=mail_from(settings),
    )


def mail_from(settings: Settings) -> str:
    return settings.mail_from or f"no-reply@{site_host(settings.public_base_url)}"


NOT_CONFIGURED = (
    "mail is not configured (no LMS_SMTP_HOST): mails stay queued until it is (docs/email.md)"
)


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text first, HTML preferred by clients that show it),
    with ``attachment`` (its file name and bytes) as a multipart/mixed part when given."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if attachment is not None:
        name, data = attachment
        maintype, subtype = attachment_type(name).split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


#: The type each attached file is sent as, by its extension (the report formats).
ATTACHMENT_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def attachment_type(name: str) -> str:
    return ATTACHMENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def _answer(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(words.split())}"[:MAX_ANSWER]


def send(config: SmtpConfig, message: EmailMessage) -> None:
    """Hand ``message`` to the server; :class:`MailRefused` or :class:`MailDeferred` if not."""
    try:
        _send(config, message)
    except smtplib.SMTPRecipientsRefused as exc:
        answers = list(exc.recipients.values())
        code, text = answers[0] if answers else (550, b"recipient refused")
        if all(c >= 500 and c not in SETTINGS_CODES for c, _ in answers):
            raise MailRefused(code, _answer(code, text)) from exc
        raise MailDeferred(_answer(code, text)) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise MailDeferred(f"login refused: {_answer(exc.smtp_code, exc.smtp_error)}") from exc
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        if exc.smtp_code >= 500 and exc.smtp_code not in SETTINGS_CODES:
            raise MailRefused(exc.smtp_code, _answer(exc.smtp_code, exc.smtp_error)) from exc
        raise MailDeferred(_answer(exc.smtp_code, exc.smtp_error)) from exc
    except smtplib.SMTPResponseException as exc:  # greeting, HELO, STARTTLS answers
        raise MailDeferred(_answer(exc.smtp_code, exc.smtp_error)) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise MailDeferred(f"the server does not support it: {exc}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, TLS
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MailDeferred(
            f"cannot reach {config.host}:{config.port}: {reason or type(exc).__name__}"
        ) from exc


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """Certificates checked against the system's roots; built once (loading the roots took
    most of the time of a mail to a local server, measured)."""
    return ssl.create_default_context()


def _send(config: SmtpConfig, message: EmailMessage) -> None:
    client: smtplib.SMTP
    if config.security is SmtpSecurity.tls:
        client = smtplib.SMTP_SSL(
            config.host, config.port, timeout=config.timeout, context=tls_context()
        )
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with client:
        client.ehlo_or_helo_if_needed()
        if config.security is SmtpSecurity.starttls:
            client.starttls(context=tls_context())
            client.ehlo()
        if config.user:
            client.login(config.user, config.password or "")
        envelope_from = parseaddr(config.sender)[1] or config.sender
        client.send_message(message, from_addr=envelope_from, to_addrs=[str(message["To"])])
