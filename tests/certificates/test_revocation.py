"""Revocation stands: issue runs skip a revoked learner until an administrator reinstates the
certificate or issues a new one with ``include_revoked``."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lms_core.catalog import enrollments
from lms_core.certificates import issue, registry
from lms_core.certificates import verify as cert_verify
from lms_core.errors import Conflict, PermissionDenied
from lms_core.models import AuditEntry, Certificate
from tests.helpers import as_


@pytest.fixture
def revoked(make, operator, session, session_factory, settings):
    """A course whose two learners completed it; the first one's certificate revoked."""
    course = make.course(lessons=1, published=True)
    learners = [make.user(), make.user()]
    for learner in learners:
        make.enroll(learner, course)
        enrollments.complete_lesson(
            session,
            actor=operator,
            email=learner.email,
            course_slug=course.slug,
            lesson_slug="lesson-1",
        )
    report = _issue(session_factory, operator, settings, course)
    number = next(r["number"] for r in report.issued if r["email"] == learners[0].email)
    registry.revoke(session, actor=operator, number=number, reason="plagiarism")
    return course, learners[0], number


def _issue(session_factory, actor, settings, course, **kw):
    return issue.issue_certificates(
        session_factory, actor=actor, course_slug=course.slug, settings=settings, **kw
    )


def _count(session, **where):
    stmt = select(func.count()).select_from(Certificate)
    for column, value in where.items():
        stmt = stmt.where(getattr(Certificate, column) == value)
    return session.scalar(stmt)


def test_the_next_run_does_not_issue_a_revoked_learner_a_new_certificate(
    session, session_factory, operator, settings, revoked
):
    course, _learner, number = revoked
    report = _issue(session_factory, operator, settings, course)
    assert (report.issued, report.already, report.revoked, report.not_eligible) == ([], 1, 1, 0)
    assert report.as_dict()["revoked"] == 1
    assert _count(session) == 2
    assert cert_verify.verify(session, number).status == "revoked"


def test_eligibility_shows_revoked(session, operator, revoked):
    course, learner, number = revoked
    rows = {
        r.enrollment.student.email: r
        for r in registry.eligibility(session, actor=operator, course_slug=course.slug)
    }
    row = rows[learner.email]
    assert (row.status, row.certificate, row.certificate_status) == ("revoked", number, "revoked")
    assert row.eligible is True  # the course's rules are met; the revocation stands anyway
    assert row.as_row()["status"] == "revoked" and "revoked" in row.reason
    assert {r.status for email, r in rows.items() if email != learner.email} == {"issued"}


def test_reinstate_is_for_administrators_and_makes_the_same_number_valid_again(
    session, session_factory, operator, settings, revoked
):
    course, learner, number = revoked
    for actor in (as_(course.instructor), as_(learner)):
        with pytest.raises(PermissionDenied, match="administrator"):
            registry.reinstate(session, actor=actor, number=number)
    cert = registry.reinstate(session, actor=operator, number=number, reason="cleared on appeal")
    assert (cert.status, cert.revoked_reason, cert.revoked_by) == ("valid", None, None)
    result = cert_verify.verify(session, number)
    assert (result.status, result.verified) == ("valid", True)
    pdf = (settings.files_dir / cert.pdf_path).read_bytes()
    assert cert_verify.verify(session, number, pdf=pdf).verified  # the very PDF, again valid
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "certificate.reinstate")
    ).one()
    assert entry.before["reason"] == "plagiarism" and entry.before["status"] == "revoked"
    assert entry.after == {"status": "valid", "reason": "cleared on appeal"}
    with pytest.raises(Conflict, match="only a revoked certificate"):
        registry.reinstate(session, actor=operator, number=number)
    again = _issue(session_factory, operator, settings, course)
    assert (again.issued, again.already, again.revoked) == ([], 2, 0)


def test_include_revoked_is_for_administrators(session_factory, settings, revoked):
    course, _, _ = revoked
    with pytest.raises(PermissionDenied, match="administrator"):
        _issue(session_factory, as_(course.instructor), settings, course, include_revoked=True)
    with pytest.raises(PermissionDenied, match="administrator"):
        _issue(
            session_factory,
            as_(course.instructor),
            settings,
            course,
            include_revoked=True,
            dry_run=True,
        )


def test_include_revoked_issues_a_new_certificate_and_the_revoked_one_stays_revoked(
    session, session_factory, operator, settings, revoked
):
    course, learner, number = revoked
    plan = _issue(session_factory, operator, settings, course, include_revoked=True, dry_run=True)
    assert plan.issued == [
        {"number": None, "learner": learner.full_name, "email": learner.email, "replaces": number}
    ]
    report = _issue(session_factory, operator, settings, course, include_revoked=True)
    ((issued),) = report.issued
    assert (issued["email"], issued["replaces"], report.revoked) == (learner.email, number, 0)
    old = registry.get_certificate(session, number)
    new = registry.get_certificate(session, issued["number"])
    assert (old.status, new.status) == ("revoked", "valid")
    assert (new.version, new.supersedes_id) == (old.version + 1, old.id)
    assert cert_verify.verify(session, number).status == "revoked"
    (row,) = [
        r
        for r in registry.eligibility(session, actor=operator, course_slug=course.slug)
        if r.enrollment.student_id == learner.id
    ]
    assert (row.status, row.certificate) == ("issued", new.number)
    # One valid certificate per enrollment: the revoked one cannot come back beside the new one.
    with pytest.raises(Conflict, match=f"holds a valid certificate, {new.number}"):
        registry.reinstate(session, actor=operator, number=number)
    rerun = _issue(session_factory, operator, settings, course, include_revoked=True)
    assert (rerun.issued, rerun.already) == ([], 2)


def test_include_revoked_still_needs_the_course_rules(
    session, session_factory, operator, settings, make, revoked
):
    course, _learner, number = revoked
    make.lesson(course, slug="added-later")
    report = _issue(session_factory, operator, settings, course, include_revoked=True)
    assert (report.issued, report.not_eligible, report.revoked) == ([], 1, 0)
    enrollment_id = registry.get_certificate(session, number).enrollment_id
    assert _count(session, enrollment_id=enrollment_id) == 1


def test_the_demo_seed_does_not_reissue_a_revoked_demo_certificate(
    session, operator, hasher, settings
):
    from lms_core.ops import demo

    demo.seed(session, actor=operator, hasher=hasher, settings=settings)
    (cert,) = session.scalars(select(Certificate)).all()
    assert cert.number == demo.DEMO_CERTIFICATE_NUMBER == "LMS-DEM0-0001-3"
    registry.revoke(session, actor=operator, number=cert.number, reason="demo")
    demo.seed(session, actor=operator, hasher=hasher, settings=settings)
    assert _count(session) == 1
