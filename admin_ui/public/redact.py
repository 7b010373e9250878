"""One-time tokens kept out of access logs.

The invitation, reset and verification links carry their token in the path, and every asset
the page loads sends that URL as its ``Referer``: a plain access log would hand whoever reads
it working links to set someone's password. Both servers' request logs pass through
:func:`redact` (gunicorn's logger class in ``gunicorn.conf.py``; ``lmsctl serve``'s filter).
"""

from __future__ import annotations

import logging
import re

#: The paths whose last segment is a one-time token (as lms_core.mail.render builds them).
TOKEN_PATH = re.compile(r"(/(?:set-password|reset-password|verify-email)/)[^/?#\s\"]+")
REDACTED = "[token]"


def redact(text: str) -> str:
    """``text`` with the token of every token link replaced by ``[token]``."""
    return TOKEN_PATH.sub(rf"\g<1>{REDACTED}", text)


class RedactTokens(logging.Filter):
    """A logging filter that redacts token links in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True
