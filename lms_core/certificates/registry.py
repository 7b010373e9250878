"""Certificates: who is eligible, verification, revocation, listings.

Issuing (rendering PDFs, batches, reissue, export) is in ``issue``; verification in ``verify``.
Eligibility: every required lesson complete (all lessons where none is marked required), and,
in a course with graded work (graded quizzes, assignments), a course grade (the gradebook
total, see ``lms_core.assignments.gradebook``) of at least ``courses.certificate_min_grade``.

Revocation stands: a learner whose certificate was revoked (and who holds no valid one) is
listed as ``revoked`` and issue runs skip them, until an administrator reinstates the
certificate (:func:`reinstate`) or issues a new one (``issue_certificates(include_revoked=True)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from lms_core import events, scopes
from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.certificates.numbers import parse_number
from lms_core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from lms_core.models import (
    Certificate,
    Course,
    Enrollment,
    EnrollmentStatus,
    Lesson,
    LessonProgress,
    Role,
    User,
    utcnow,
)
from lms_core.permissions import can_manage_course, require_admin, require_course_manager


class CertificateRow(TypedDict):
    """A certificate as listings, ``--json`` and the export manifest show it, keys in order."""

    number: str
    learner: str
    email: str
    course: str
    status: str
    issued_at: str
    version: int
    revoked_at: str | None
    reason: str | None
    sha256: str
    #: The number it was issued with under the legacy check symbols, if it was renumbered.
    legacy_number: str | None


def certificate_row(cert: Certificate) -> CertificateRow:
    """A certificate as listings, --json and the export manifest show it."""
    return CertificateRow(
        number=cert.number,
        learner=cert.learner_name,
        email=cert.enrollment.student.email,
        course=cert.enrollment.course.slug,
        status=cert.status,
        issued_at=cert.issued_at.isoformat(),
        version=cert.version,
        revoked_at=cert.revoked_at.isoformat() if cert.revoked_at else None,
        reason=cert.revoked_reason,
        sha256=cert.pdf_sha256,
        legacy_number=cert.legacy_number,
    )


class EligibilityRow(TypedDict):
    """A learner's eligibility as ``certificates eligible`` lists it."""

    learner: str
    email: str
    eligible: bool
    status: str
    reason: str
    certificate: str | None


@dataclass
class Eligibility:
    enrollment: Enrollment
    #: The course's rules (lessons, grade) are met; says nothing about certificates held.
    eligible: bool
    reason: str
    #: The number of the learner's valid certificate, or else of their revoked one.
    certificate: str | None
    #: ``valid`` or ``revoked``: the status of :attr:`certificate` (None without one).
    certificate_status: str | None = None

    @property
    def status(self) -> str:
        """``issued``, ``revoked`` (issue runs skip them), ``eligible`` or ``not eligible``."""
        if self.certificate_status == "valid":
            return "issued"
        if self.certificate_status == "revoked":
            return "revoked"
        return "eligible" if self.eligible else "not eligible"

    def as_row(self) -> EligibilityRow:
        student = self.enrollment.student
        return EligibilityRow(
            learner=student.full_name,
            email=student.email,
            eligible=self.eligible,
            status=self.status,
            reason=self.reason,
            certificate=self.certificate,
        )


def eligibility(session: Session, *, actor: Actor, course_slug: str) -> list[Eligibility]:
    """Every learner of the course (dropped ones excluded), eligible or not, with the reason.

    Set-based: a few queries for the whole course (grades IN-chunked), never one per learner.
    """
    from lms_core.assignments.gradebook import course_grades, has_graded_items

    course = get_course(session, course_slug)
    require_course_manager(actor, course, "see certificate eligibility")
    lessons = list(
        session.execute(select(Lesson.id, Lesson.is_required).where(Lesson.course_id == course.id))
    )
    counted = {lid for lid, required in lessons if required} or {lid for lid, _ in lessons}
    enrollments = list(
        session.scalars(
            select(Enrollment)
            .join(Enrollment.student)
            .where(
                Enrollment.course_id == course.id,
                Enrollment.status != EnrollmentStatus.dropped.value,
            )
            .order_by(User.full_name, User.email)
        )
    )
    done: dict[int, set[int]] = {}
    for enrollment_id, lesson_id in session.execute(
        select(LessonProgress.enrollment_id, LessonProgress.lesson_id)
        .join(Enrollment, Enrollment.id == LessonProgress.enrollment_id)
        .where(Enrollment.course_id == course.id)
    ):
        done.setdefault(enrollment_id, set()).add(lesson_id)
    # A comprehension, not dict(result): a Result has keys() and dict() would take it for a mapping.
    valid = {
        enrollment_id: number
        for enrollment_id, number in session.execute(
            select(Certificate.enrollment_id, Certificate.number)
            .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
            .where(
                Enrollment.course_id == course.id,
                Certificate.revoked_at.is_(None),
                Certificate.superseded_at.is_(None),
            )
        )
    }
    # The latest revoked certificate of each learner (ordered by id: the last one wins).
    revoked = {
        enrollment_id: number
        for enrollment_id, number in session.execute(
            select(Certificate.enrollment_id, Certificate.number)
            .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
            .where(Enrollment.course_id == course.id, Certificate.revoked_at.is_not(None))
            .order_by(Certificate.id)
        )
    }
    grades = (
        course_grades(session, course.id, [e.id for e in enrollments])
        if has_graded_items(session, course.id)
        else {}
    )
    minimum = course.certificate_min_grade
    rows = []
    for enrollment in enrollments:
        have = len(counted & done.get(enrollment.id, set()))
        if not counted:
            ok, reason = False, "the course has no lessons"
        elif have == len(counted):
            ok, reason = True, f"all {len(counted)} required lessons complete"
        else:
            ok, reason = False, f"{have} of {len(counted)} required lessons complete"
        grade = grades.get(enrollment.id)
        if grade is not None:
            if grade < minimum:
                ok = False
                reason += f"; course grade {grade:.2f} below the {minimum:.2f} needed"
            else:
                reason += f"; course grade {grade:.2f} (needs {minimum:.2f})"
        if enrollment.id in valid:
            rows.append(Eligibility(enrollment, ok, reason, valid[enrollment.id], "valid"))
        elif enrollment.id in revoked:
            number = revoked[enrollment.id]
            reason += f"; certificate {number} revoked (an administrator may reinstate it)"
            rows.append(Eligibility(enrollment, ok, reason, number, "revoked"))
        else:
            rows.append(Eligibility(enrollment, ok, reason, None))
    return rows


def find_certificate(session: Session, number: str) -> tuple[str, Certificate | None]:
    """The canonical form of a typed number and its certificate (None when there is none).

    A number valid in the current scheme is looked up in ``number``; one valid in the legacy
    mod-37 scheme (printed on PDFs issued before it) in ``legacy_number``. A mistyped number
    is refused (ValidationError) before any query; so is a number that passes only the
    legacy check and is no legacy number: no new legacy numbers are ever made, so it is one
    of the typos of a current number (1 in 37) that happen to pass the old check.
    """
    parsed = parse_number(number)
    where = number_condition(parsed.current, parsed.legacy, parsed.number)
    cert = session.scalars(select(Certificate).where(where)).first()
    if cert is None and not parsed.current:
        raise mistyped(number)
    return parsed.number, cert


def number_condition(current: bool, legacy: bool, number: Any) -> ColumnElement[bool]:
    """The condition that finds a parsed number's certificate (``number`` a value or a bound
    parameter): find_certificate's rule, for a query that reads columns, not the row."""
    columns = []
    if current:
        columns.append(Certificate.number == number)
    if legacy:
        columns.append(Certificate.legacy_number == number)
        # Not yet renumbered (an offline ``alembic upgrade --sql``, or a row the migration
        # left as it was because its new number was taken): still in ``number``.
        columns.append(Certificate.number == number)
    return or_(*columns)


def mistyped(number: str) -> ValidationError:
    """A number found nowhere that passes only the legacy check: a typo (see find_certificate)."""
    return ValidationError(
        "is mistyped: its check character does not match", field="number", value=number
    )


def get_certificate(session: Session, number: str) -> Certificate:
    canonical, cert = find_certificate(session, number)
    if cert is None:
        raise NotFound(f"no certificate {canonical}", field="number", value=number)
    return cert


def revoke(session: Session, *, actor: Actor, number: str, reason: str) -> Certificate:
    """Revoke a valid certificate; it stays verifiable, as revoked, with when and why."""
    cert = get_certificate(session, number)
    require_course_manager(actor, cert.enrollment.course, "revoke its certificates")
    text = (reason or "").strip()
    if not text:
        raise ValidationError("is required: say why the certificate is revoked", field="reason")
    if cert.status != "valid":
        raise Conflict(f"{cert.number} is already {cert.status}", field="number", value=number)
    before = {"status": cert.status}
    cert.revoked_at = utcnow()
    cert.revoked_reason = text[:2000]
    cert.revoked_by = actor.label
    session.flush()
    audit.record(
        session,
        actor,
        "certificate.revoke",
        cert,
        before=before,
        after={"status": "revoked", "reason": cert.revoked_reason},
    )
    events.certificate_event(session, "certificate.revoked", cert)
    return cert


def reinstate(
    session: Session, *, actor: Actor, number: str, reason: str | None = None
) -> Certificate:
    """Undo a revocation (administrators only): the same number and PDF verify as valid again.

    Refused when the certificate is not revoked, or when the learner has since been issued
    another valid certificate (``issue --include-revoked``): one valid certificate per
    enrollment. The revocation (when, by whom, why) stays in the audit log.
    """
    cert = get_certificate(session, number)
    require_admin(actor, "reinstate a revoked certificate")
    if cert.status != "revoked":
        raise Conflict(
            f"{cert.number} is {cert.status}; only a revoked certificate can be reinstated",
            field="number",
            value=number,
        )
    other = session.scalar(
        select(Certificate.number).where(
            Certificate.enrollment_id == cert.enrollment_id,
            Certificate.revoked_at.is_(None),
            Certificate.superseded_at.is_(None),
        )
    )
    if other is not None:
        raise Conflict(
            f"the learner holds a valid certificate, {other}, issued after {cert.number} was "
            f"revoked; revoke that one first",
            field="number",
            value=number,
        )
    before = {
        "status": "revoked",
        "revoked_at": cert.revoked_at.isoformat() if cert.revoked_at else None,
        "revoked_by": cert.revoked_by,
        "reason": cert.revoked_reason,
    }
    cert.revoked_at = None
    cert.revoked_reason = None
    cert.revoked_by = None
    session.flush()
    text = (reason or "").strip()[:2000] or None
    audit.record(
        session,
        actor,
        "certificate.reinstate",
        cert,
        before=before,
        after={"status": "valid", "reason": text},
    )
    return cert


def certificates_query(
    session: Session, *, actor: Actor, course_slug: str | None = None, status: str | None = None
) -> Select[Certificate]:
    """The query behind ``list_certificates``, for a list or a stream (``pagination.iter_rows``)."""
    stmt = (
        select(Certificate)
        .join(Certificate.enrollment)
        .join(Enrollment.course)
        .order_by(Course.slug, Certificate.issued_at, Certificate.id)
    )
    if course_slug:
        course = get_course(session, course_slug)
        if not can_manage_course(actor, course) and actor.role is not Role.student:
            raise PermissionDenied(
                f"only the course's instructor or an administrator may list "
                f"its certificates (acting as {actor.label})"
            )
        stmt = stmt.where(Enrollment.course_id == course.id)
    visible = scopes.certificates(actor)  # the one rule the back office filters by too
    if visible is not None:
        stmt = stmt.where(visible)
    if status:
        # As Certificate.status reads them: revoked first, then superseded, else valid.
        revoked = Certificate.revoked_at.is_not(None)
        superseded = Certificate.revoked_at.is_(None) & Certificate.superseded_at.is_not(None)
        valid = Certificate.revoked_at.is_(None) & Certificate.superseded_at.is_(None)
        wanted = {"valid": valid, "revoked": revoked, "superseded": superseded}.get(status)
        if wanted is None:
            raise ValidationError(
                "must be one of valid, revoked, superseded", field="status", value=status
            )
        stmt = stmt.where(wanted)
    return stmt


def list_certificates(
    session: Session, *, actor: Actor, course_slug: str | None = None, status: str | None = None
) -> list[Certificate]:
    """Certificates the actor may see: admins all, instructors their courses', learners their own."""
    stmt = certificates_query(session, actor=actor, course_slug=course_slug, status=status)
    return list(session.scalars(stmt).unique())
