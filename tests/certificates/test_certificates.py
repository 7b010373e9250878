"""Certificates: eligibility, issue runs, verification, revocation, reissue, export."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from lms_core.catalog import enrollments
from lms_core.certificates import export as certificate_export
from lms_core.certificates import issue, orphans, registry, reissue
from lms_core.certificates import verify as cert_verify
from lms_core.errors import Conflict, PermissionDenied, ValidationError
from lms_core.locks import run_lock
from lms_core.models import AuditEntry, Certificate
from tests.helpers import as_


@pytest.fixture
def course_with(make, operator, session):
    """A published course with two lessons, and learners who completed 0, 1 or 2 of them."""

    def build(*completed: int, names: list[str] | None = None):
        course = make.course(lessons=2, published=True)
        learners = []
        for i, n_done in enumerate(completed):
            learner = make.user(name=names[i] if names else None)
            make.enroll(learner, course)
            for lesson in range(1, n_done + 1):
                enrollments.complete_lesson(
                    session,
                    actor=operator,
                    email=learner.email,
                    course_slug=course.slug,
                    lesson_slug=f"lesson-{lesson}",
                )
            learners.append(learner)
        return course, learners

    return build


def _issue(session_factory, operator, settings, course, **kw):
    return issue.issue_certificates(
        session_factory, actor=operator, course_slug=course.slug, settings=settings, **kw
    )


def test_eligibility_gives_each_learner_a_reason(session, operator, course_with):
    course, (none, half, full) = course_with(0, 1, 2)
    rows = {
        r.enrollment.student.email: r
        for r in registry.eligibility(session, actor=operator, course_slug=course.slug)
    }
    assert (rows[full.email].eligible, rows[full.email].reason) == (
        True,
        "all 2 required lessons complete",
    )
    assert (rows[half.email].eligible, rows[half.email].reason) == (
        False,
        "1 of 2 required lessons complete",
    )
    assert rows[none.email].eligible is False


def test_optional_lessons_do_not_count(session, operator, make, course_with):
    course, (_learner,) = course_with(2)
    make.lesson(course, slug="bonus", is_required=False)
    (row,) = registry.eligibility(session, actor=operator, course_slug=course.slug)
    assert row.eligible is True


def test_a_student_cannot_see_eligibility(session, course_with):
    course, (learner,) = course_with(2)
    with pytest.raises(PermissionDenied):
        registry.eligibility(session, actor=as_(learner), course_slug=course.slug)


def test_issue_gives_certificates_to_the_eligible_only_and_a_rerun_issues_none(
    session, session_factory, operator, settings, course_with
):
    course, (_none, full1, full2) = course_with(0, 2, 2)
    report = _issue(session_factory, operator, settings, course)
    assert sorted(r["email"] for r in report.issued) == sorted([full1.email, full2.email])
    assert (report.not_eligible, report.already, report.uncovered) == (1, 0, [])
    again = _issue(session_factory, operator, settings, course)
    assert (again.issued, again.already) == ([], 2)
    certs = session.scalars(select(Certificate)).all()
    assert len(certs) == 2
    for cert in certs:
        pdf = (settings.files_dir / cert.pdf_path).read_bytes()
        assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == cert.pdf_sha256
        assert cert_verify.verify(session, cert.number, pdf=pdf).file_matches is True
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "certificate.issue")
        )
        == 2
    )


def test_dry_run_writes_nothing(session, session_factory, operator, settings, course_with):
    course, _ = course_with(2, 2)
    report = _issue(session_factory, operator, settings, course, dry_run=True)
    assert len(report.issued) == 2 and all(r["number"] is None for r in report.issued)
    assert session.scalar(select(func.count()).select_from(Certificate)) == 0


def test_names_the_fonts_cannot_draw_are_reported_and_the_others_issued(
    session, session_factory, operator, settings, course_with
):
    course, (ok, bad) = course_with(2, 2, names=["Zoë Ångström", "Linear \U00010000\U00010001 B"])
    report = _issue(session_factory, operator, settings, course)
    assert [r["email"] for r in report.issued] == [ok.email]
    assert report.uncovered == [
        {
            "learner": bad.full_name,
            "email": bad.email,
            "missing": 2,
            "characters": "\U00010000\U00010001",
        }
    ]


def test_batches_and_workers_issue_everyone_once(
    session, session_factory, operator, settings, course_with
):
    course, _learners = course_with(*([2] * 7))
    report = _issue(session_factory, operator, settings, course, batch_size=3, workers=2)
    assert len(report.issued) == 7
    assert len({r["number"] for r in report.issued}) == 7


def test_pdfs_left_by_an_unfinished_batch_are_removed_by_the_next_run(
    session, session_factory, operator, settings, course_with
):
    course, _ = course_with(2)
    folder = issue.certificates_dir(settings, course.id)
    shutil.rmtree(folder, ignore_errors=True)  # ids repeat across rolled-back tests; files do not
    folder.mkdir(parents=True)
    (folder / "LMS-0000-0000-0.pdf").write_bytes(b"%PDF- never committed")
    (folder / ".LMS-0000-0000-1.pdf.123.tmp").write_bytes(b"half")
    old = time.time() - orphans.ORPHAN_GRACE_SECONDS - 60  # a dead run's, not a live one's
    for leftover in folder.iterdir():
        os.utime(leftover, (old, old))
    report = _issue(session_factory, operator, settings, course)
    assert report.orphans_removed == 2
    assert sorted(p.name for p in folder.iterdir()) == [f"{report.issued[0]['number']}.pdf"]


def test_a_run_in_progress_on_the_course_refuses_a_second(
    session_factory, operator, settings, course_with
):
    course, _ = course_with(2)
    with (
        run_lock(session_factory, f"certificates-{course.id}", holder="cli:first"),
        pytest.raises(Conflict, match="lock"),
    ):
        _issue(session_factory, operator, settings, course)


def test_a_reissue_waits_for_an_issue_run_on_the_course_then_refuses(
    session, session_factory, operator, settings, course_with
):
    course, _ = course_with(2)
    number = _issue(session_factory, operator, settings, course).issued[0]["number"]
    folder = issue.certificates_dir(settings, course.id)
    pdfs = sorted(folder.iterdir())
    with run_lock(session_factory, f"certificates-{course.id}", holder="cli:issue run"):
        started = time.monotonic()
        with pytest.raises(Conflict, match=f"an issue run on {course.slug} is in progress") as err:
            reissue.reissue_certificate(
                session_factory, actor=operator, number=number, settings=settings, wait=0.5
            )
        assert 0.4 <= time.monotonic() - started < 5
    assert err.value.field == "lock"
    assert sorted(folder.iterdir()) == pdfs  # no PDF written
    assert session.scalar(select(func.count()).select_from(Certificate)) == 1
    assert registry.get_certificate(session, number).status == "valid"
    row, superseded = reissue.reissue_certificate(
        session_factory, actor=operator, number=number, settings=settings
    )
    assert (superseded, row["version"]) == (number, 2)
    assert (folder / f"{row['number']}.pdf").is_file()


def test_the_certificates_lock_of_a_single_issue(session_factory, operator, settings, course_with):
    """What demo seed holds around its unit of work: the course's lock, or none for a course
    that does not exist yet (nothing can run on it before it commits)."""
    course, _ = course_with(2)
    with reissue.certificates_lock(session_factory, "not-created-yet", holder="demo seed", wait=0):
        pass
    with reissue.certificates_lock(session_factory, course.slug, holder="demo seed", wait=0):
        with pytest.raises(Conflict, match="lock"):
            _issue(session_factory, operator, settings, course)
        with (
            pytest.raises(Conflict, match=f"an issue run on {course.slug} is in progress"),
            reissue.certificates_lock(session_factory, course.slug, holder="again", wait=0),
        ):
            pass
    assert len(_issue(session_factory, operator, settings, course).issued) == 1


def test_an_issue_run_cannot_remove_the_pdf_of_a_reissue_in_flight(
    session, session_factory, operator, settings, course_with
):
    """Between the reissue's PDF write and its commit, an issue run is kept out by the lock;
    once the reissue has committed, the run's orphan clean-up knows the PDF."""
    course, _ = course_with(2)
    number = _issue(session_factory, operator, settings, course).issued[0]["number"]
    folder = issue.certificates_dir(settings, course.id)
    before = {p.name for p in folder.iterdir()}
    seen: list[object] = []

    def meanwhile(_session: object) -> None:
        written = {p.name for p in folder.iterdir()} - before
        if seen or not written:  # only once, when the reissue's PDF exists but has no row yet
            return
        seen.append(written)
        try:
            _issue(session_factory, operator, settings, course)
        except Conflict as exc:
            seen.append(exc)
        seen.append({p.name for p in folder.iterdir()} - before)

    event.listen(Session, "before_commit", meanwhile)
    try:
        row, _ = reissue.reissue_certificate(
            session_factory, actor=operator, number=number, settings=settings
        )
    finally:
        event.remove(Session, "before_commit", meanwhile)
    written, refused, after = seen
    assert written == after == {f"{row['number']}.pdf"}
    assert isinstance(refused, Conflict) and refused.field == "lock"
    report = _issue(session_factory, operator, settings, course)
    assert report.orphans_removed == 0
    assert (folder / f"{row['number']}.pdf").is_file()
    for cert in session.scalars(select(Certificate)):
        assert (settings.files_dir / cert.pdf_path).is_file(), cert.number


def test_verify_says_valid_revoked_superseded_or_unknown(
    session, session_factory, operator, settings, course_with
):
    course, (_learner,) = course_with(2)
    number = _issue(session_factory, operator, settings, course).issued[0]["number"]
    assert cert_verify.verify(session, number.lower().replace("-", "")).status == "valid"
    old, new = reissue.reissue(session, actor=operator, number=number, settings=settings)
    gone = cert_verify.verify(session, number)
    assert (gone.status, gone.superseded_by) == ("superseded", new.number)
    assert (new.version, new.supersedes_id) == (2, old.id)
    registry.revoke(session, actor=operator, number=new.number, reason="issued in error")
    revoked = cert_verify.verify(session, new.number)
    assert (revoked.status, revoked.reason) == ("revoked", "issued in error")
    assert revoked.revoked_at is not None
    assert cert_verify.verify(session, "LMS-0000-0000-0").status == "unknown"
    with pytest.raises(ValidationError, match="mistyped"):
        cert_verify.verify(session, number[:-1] + ("0" if number[-1] != "0" else "1"))


def test_verify_detects_a_different_file(session, session_factory, operator, settings, course_with):
    course, _ = course_with(2)
    number = _issue(session_factory, operator, settings, course).issued[0]["number"]
    assert cert_verify.verify(session, number, pdf=b"%PDF-forged").file_matches is False


def test_verified_means_valid_and_when_a_file_is_given_that_very_pdf(
    session, session_factory, operator, settings, course_with
):
    """The yes-or-no every front door gives (the CLI's exit code) is decided by the service."""
    course, _ = course_with(2)
    number = _issue(session_factory, operator, settings, course).issued[0]["number"]
    cert = registry.get_certificate(session, number)
    pdf = (settings.files_dir / cert.pdf_path).read_bytes()
    assert cert_verify.verify(session, number).verified
    assert cert_verify.verify(session, number, pdf=pdf).verified
    assert not cert_verify.verify(session, number, pdf=b"%PDF-forged").verified
    assert not cert_verify.verify(session, "LMS-0000-0000-0").verified
    _, new = reissue.reissue(session, actor=operator, number=number, settings=settings)
    assert not cert_verify.verify(session, number, pdf=pdf).verified  # superseded
    registry.revoke(session, actor=operator, number=new.number, reason="issued in error")
    assert not cert_verify.verify(session, new.number).verified


def test_reissue_prints_the_new_name(session, session_factory, operator, settings, course_with):
    from lms_core.accounts import users
    from lms_core.accounts.fields import UserUpdate

    course, (learner,) = course_with(2)
    number = _issue(session_factory, operator, settings, course).issued[0]["number"]
    users.update_user(
        session, actor=operator, email=learner.email, data=UserUpdate(full_name="Renamed Person")
    )
    _, new = reissue.reissue(session, actor=operator, number=number, settings=settings)
    assert new.learner_name == "Renamed Person"
    assert cert_verify.public_verification(session, number)["status"] == "superseded"


def test_revoke_rules(session, session_factory, operator, settings, make, course_with):
    course, _ = course_with(2)
    number = _issue(session_factory, operator, settings, course).issued[0]["number"]
    stranger = make.user("instructor")
    with pytest.raises(PermissionDenied):
        registry.revoke(session, actor=as_(stranger), number=number, reason="no")
    with pytest.raises(ValidationError, match="say why"):
        registry.revoke(session, actor=operator, number=number, reason="  ")
    registry.revoke(session, actor=as_(course.instructor), number=number, reason="fraud")
    with pytest.raises(Conflict, match="already revoked"):
        registry.revoke(session, actor=operator, number=number, reason="again")
    with pytest.raises(Conflict, match="only a valid certificate"):
        reissue.reissue(session, actor=operator, number=number, settings=settings)


def test_public_verification_shows_no_email(
    session, session_factory, operator, settings, course_with
):
    course, (learner,) = course_with(2)
    number = _issue(session_factory, operator, settings, course).issued[0]["number"]
    facts = cert_verify.public_verification(session, number)
    assert set(facts) == {
        "number",
        "status",
        "verified",
        "learner",
        "course",
        "issued_on",
        "revoked_on",
        "reason",
        "superseded_by",
        "file_matches",
    }
    assert facts["verified"] is True
    assert learner.email not in str(facts)


def test_list_visibility(session, session_factory, operator, settings, make, course_with):
    course, (learner, _other) = course_with(2, 2)
    _issue(session_factory, operator, settings, course)
    assert len(registry.list_certificates(session, actor=operator)) == 2
    mine = registry.list_certificates(session, actor=as_(learner))
    assert [c.enrollment.student_id for c in mine] == [learner.id]
    assert registry.list_certificates(session, actor=as_(make.user("instructor"))) == []
    assert len(registry.list_certificates(session, actor=as_(course.instructor))) == 2


def test_export_zips_the_valid_pdfs_with_a_formula_safe_manifest(
    session, session_factory, operator, settings, course_with, tmp_path: Path
):
    course, (_learner, _) = course_with(2, 2, names=['=HYPERLINK("x")', "Plain Name"])
    issued = _issue(session_factory, operator, settings, course).issued
    registry.revoke(session, actor=operator, number=issued[1]["number"], reason="test")
    out = tmp_path / "certs.zip"
    assert (
        certificate_export.export_zip(
            session, actor=operator, course_slug=course.slug, settings=settings, out=out
        )
        == 1
    )
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        manifest = archive.read("manifest.csv")
        assert manifest.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, as every CSV file
        rows = list(csv.DictReader(io.StringIO(manifest.decode("utf-8-sig"))))
        pdf = archive.read(f"{issued[0]['number']}.pdf")
    assert sorted(names) == sorted([f"{issued[0]['number']}.pdf", "manifest.csv"])
    assert rows[0]["learner"] == '\'=HYPERLINK("x")'
    assert rows[0]["sha256"] == hashlib.sha256(pdf).hexdigest()


def test_export_refuses_a_tampered_pdf(
    session, session_factory, operator, settings, course_with, tmp_path: Path
):
    course, _ = course_with(2)
    number = _issue(session_factory, operator, settings, course).issued[0]["number"]
    cert = registry.get_certificate(session, number)
    (settings.files_dir / cert.pdf_path).write_bytes(b"%PDF-tampered")
    with pytest.raises(Conflict, match="SHA-256"):
        certificate_export.export_zip(
            session,
            actor=operator,
            course_slug=course.slug,
            settings=settings,
            out=tmp_path / "x.zip",
        )
    assert not (tmp_path / "x.zip").exists()


def test_export_refuses_a_missing_pdf_naming_it(
    session, session_factory, operator, settings, course_with, tmp_path: Path
):
    course, _ = course_with(2)
    number = _issue(session_factory, operator, settings, course).issued[0]["number"]
    cert = registry.get_certificate(session, number)
    (settings.files_dir / cert.pdf_path).unlink()
    with pytest.raises(Conflict, match=f"the stored PDF of {number} is missing; reissue it"):
        certificate_export.export_zip(
            session,
            actor=operator,
            course_slug=course.slug,
            settings=settings,
            out=tmp_path / "x.zip",
        )
    assert not (tmp_path / "x.zip").exists()
