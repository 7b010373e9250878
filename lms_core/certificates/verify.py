"""Verifying a certificate: what a number stands for, and whether a PDF is the one issued.

The answer is one of ``valid``, ``revoked`` (when, why), ``superseded`` (by which number) or
``unknown``; :attr:`Verification.verified` is the one yes-or-no every front door gives (the
CLI's exit code, a web page's verdict), decided here so that they cannot disagree.

A number printed before the current check symbols (``LMS-P758-DXF0-*``, see
``lms_core.certificates.numbers``) verifies as well: it is found by the certificate's
``legacy_number``, and :attr:`Verification.current_number` says the number it carries now.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, aliased

from lms_core.certificates.numbers import parse_number
from lms_core.certificates.registry import mistyped, number_condition
from lms_core.models import Certificate
from lms_core.models.certificates import certificate_status


@dataclass
class Verification:
    number: str
    status: str  # valid, revoked, superseded or unknown
    learner: str | None = None
    course: str | None = None
    issued_at: datetime | None = None
    revoked_at: datetime | None = None
    reason: str | None = None
    sha256: str | None = None
    #: With a file: whether it is the PDF that was issued (None when no file was given).
    file_matches: bool | None = None
    superseded_by: str | None = None
    #: The certificate's number now: ``number`` itself, or, asked by a legacy number, the
    #: number it was given when the check symbols changed (None when unknown).
    current_number: str | None = None

    @property
    def verified(self) -> bool:
        """What a relying party may trust: the certificate is valid and, when a file was
        given, the file is the very PDF issued (a revoked, superseded or unknown number, or
        a PDF whose SHA-256 differs, is not verified)."""
        return self.status == "valid" and self.file_matches is not False

    def as_dict(self) -> dict[str, Any]:
        """The facts, with ``verified`` so that a script reads the verdict, not the rule."""
        return {
            "number": self.number,
            "status": self.status,
            "verified": self.verified,
            "learner": self.learner,
            "course": self.course,
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "reason": self.reason,
            "sha256": self.sha256,
            "file_matches": self.file_matches,
            "superseded_by": self.superseded_by,
            "current_number": self.current_number,
        }


def verify(session: Session, number: str, *, pdf: bytes | None = None) -> Verification:
    """What a certificate number stands for; a mistyped number fails before any query.

    One statement of the columns shown (and the number that replaced it, if any): the
    certificate row came with its enrollment, learner, course and instructor joined, and
    a superseded one took a second query; a public page asks this on every visit.
    """
    parsed = parse_number(number)
    stmt = _facts_statement(parsed.current, parsed.legacy)
    cert = session.connection().execute(stmt, {"number": parsed.number}).first()
    if cert is None:
        if not parsed.current:
            raise mistyped(number)
        return Verification(parsed.number, "unknown")
    result = Verification(
        parsed.number,
        certificate_status(cert.revoked_at, cert.superseded_at),
        cert.learner_name,
        cert.course_title,
        cert.issued_at,
        cert.revoked_at,
        cert.revoked_reason,
        cert.pdf_sha256,
    )
    result.current_number = cert.number
    if pdf is not None:
        result.file_matches = hashlib.sha256(pdf).hexdigest() == cert.pdf_sha256
    if cert.superseded_at is not None:
        result.superseded_by = cert[-1]
    return result


@cache
def _facts_statement(current: bool, legacy: bool) -> Select[Any]:
    """The columns shown and the number that replaced it, per kind of number: made once
    (an alias made per request cost more than running the statement)."""
    successor = aliased(Certificate)
    replaced_by = (
        select(successor.number)
        .where(successor.supersedes_id == Certificate.id)
        .limit(1)
        .scalar_subquery()
    )
    return select(
        Certificate.number,
        Certificate.learner_name,
        Certificate.course_title,
        Certificate.issued_at,
        Certificate.revoked_at,
        Certificate.revoked_reason,
        Certificate.pdf_sha256,
        Certificate.superseded_at,
        replaced_by,
    ).where(number_condition(current, legacy, bindparam("number")))


def public_verification(
    session: Session, number: str, *, pdf: bytes | None = None
) -> dict[str, Any]:
    """The facts a public verification page shows: no personal data beyond name, course, date.

    A revoked certificate says why (a relying party must know), a superseded one which number
    replaced it; with ``pdf``, ``file_matches`` says whether that file is the one issued.
    """
    result = verify(session, number, pdf=pdf)
    return {
        "number": result.number,
        "status": result.status,
        "verified": result.verified,
        "learner": result.learner,
        "course": result.course,
        "issued_on": result.issued_at.date().isoformat() if result.issued_at else None,
        "revoked_on": result.revoked_at.date().isoformat() if result.revoked_at else None,
        "reason": result.reason if result.status == "revoked" else None,
        "superseded_by": result.superseded_by,
        "file_matches": result.file_matches,
    }
