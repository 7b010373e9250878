"""Stored e-mail addresses whose domain mixes scripts: ``lmsctl doctor`` warns about them.

New addresses with a Latin label that borrows Cyrillic or Greek letters are refused
(:func:`lms_core.validation.mixed_script_label`), but a database filled before that rule, or
by hand, may still hold some: a look-alike of the school's domain that mail would go to.
Only the distinct domains are read (one set-based query), so the check stays cheap on a
million users.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy import Connection, func, select
from sqlalchemy.sql.elements import ColumnElement

from lms_core.models import User
from lms_core.validation import mixed_script_label


@dataclass(frozen=True)
class MixedDomain:
    domain: str
    users: int
    reason: str


def _domain(conn: Connection) -> ColumnElement[str]:
    """The part after the ``@``, computed by the database (SQLite and PostgreSQL differ)."""
    if conn.dialect.name == "postgresql":
        return func.substring(User.email, "[^@]*$")
    # SQLite has no "last index of": rtrim strips every trailing character that is not an @,
    # leaving the address up to its last @, whose length is where the domain starts.
    upto_at = func.rtrim(User.email, func.replace(User.email, "@", ""))
    return func.substr(User.email, func.length(upto_at) + 1)


def shown(domain: str) -> str:
    """The domain as doctor prints it: invisible or control characters written as escapes,
    so a stored bidi override cannot reorder the rest of the report."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in domain)


def _unicode(domain: str) -> str:
    """``xn--`` labels decoded, so a look-alike stored in ASCII (punycode) is seen too."""
    labels = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            with suppress(UnicodeError):  # not valid punycode: checked as it is
                label = label.encode("ascii").decode("idna")
        labels.append(label)
    return ".".join(labels)


def mixed_script_domains(conn: Connection) -> list[MixedDomain]:
    """Each stored domain (soft-deleted users included) that mixes Latin with look-alikes."""
    domain = _domain(conn).label("domain")
    rows = conn.execute(select(domain, func.count()).group_by(domain).order_by(domain))
    found = []
    for name, users in rows:
        text = _unicode(name or "")
        if text.isascii():
            continue
        reason = mixed_script_label(text)
        if reason is not None:
            found.append(MixedDomain(shown(name), int(users), reason))
    return found
