"""Certificates: who is eligible, verification, revocation, listings.

Issuing (rendering PDFs, batches, reissue, export) is in ``issue``; verification in ``verify``.
Eligibility: every required lesson complete (all lessons where none is marked required), and,
in a course with graded work (graded quizzes, assignments), a course grade (the gradebook
total, see ``lms_core.assignments.gradebook``) of at least ``courses.certificate_min_grade``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.certificates.numbers import normalize_number
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
from lms_core.permissions import can_manage_course, require_course_manager


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
    )


class EligibilityRow(TypedDict):
    """A learner's eligibility as ``certificates eligible`` lists it."""

    learner: str
    email: str
    eligible: bool
    reason: str
    certificate: str | None


@dataclass
class Eligibility:
    enrollment: Enrollment
    eligible: bool
    reason: str
    #: The number of the learner's valid certificate, if they already have one.
    certificate: str | None

    def as_row(self) -> EligibilityRow:
        student = self.enrollment.student
        return EligibilityRow(
            learner=student.full_name,
            email=student.email,
            eligible=self.eligible,
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
        rows.append(Eligibility(enrollment, ok, reason, valid.get(enrollment.id)))
    return rows


def get_certificate(session: Session, number: str) -> Certificate:
    canonical = normalize_number(number)
    cert = session.scalars(select(Certificate).where(Certificate.number == canonical)).first()
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
    return cert


def list_certificates(
    session: Session, *, actor: Actor, course_slug: str | None = None, status: str | None = None
) -> list[Certificate]:
    """Certificates the actor may see: admins all, instructors their courses', learners their own."""
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
    if not actor.is_admin:
        if actor.role is Role.instructor:
            stmt = stmt.where(Course.instructor_id == actor.user_id)
        else:
            stmt = stmt.where(Enrollment.student_id == actor.user_id)
    certs = list(session.scalars(stmt).unique())
    if status:
        if status not in {"valid", "revoked", "superseded"}:
            raise ValidationError(
                "must be one of valid, revoked, superseded", field="status", value=status
            )
        certs = [c for c in certs if c.status == status]
    return certs
