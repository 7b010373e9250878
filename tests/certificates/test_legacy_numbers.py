"""Numbers from before the current check symbols (``LMS-P758-DXF0-*``): renumbered by the
migration, still verified by their old number (printed on the PDF and in its QR code), and
their PDFs renamed after the new number; the new numbers are safe in file names."""

from __future__ import annotations

import hashlib
import os
import re
import time
import zipfile
from pathlib import Path

import pytest

from lms_core.catalog import enrollments
from lms_core.certificates import export as certificate_export
from lms_core.certificates import issue, orphans, registry, renumber
from lms_core.certificates import verify as cert_verify
from lms_core.certificates.numbers import SYMBOLS
from lms_core.errors import Conflict, ValidationError
from lms_core.locks import run_lock

OLD, NEW = "LMS-P758-DXF0-*", "LMS-P758-DXF0-8"
FILE_SAFE = re.compile(r"^LMS-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]\.pdf$")


@pytest.fixture
def issued(make, operator, session, session_factory, settings):
    """One learner's certificate, issued by a run; returns (course, certificate)."""
    course = make.course(lessons=1, published=True)
    learner = make.user()
    make.enroll(learner, course)
    enrollments.complete_lesson(
        session,
        actor=operator,
        email=learner.email,
        course_slug=course.slug,
        lesson_slug="lesson-1",
    )
    report = issue.issue_certificates(
        session_factory, actor=operator, course_slug=course.slug, settings=settings
    )
    return course, registry.get_certificate(session, report.issued[0]["number"])


@pytest.fixture
def migrated(issued, session, settings):
    """The certificate as the migration leaves one issued with ``OLD``: renumbered ``NEW``,
    ``OLD`` kept, its PDF still named after ``OLD`` (``lmsctl db upgrade`` renames it)."""
    course, cert = issued
    old_path = settings.files_dir / cert.pdf_path
    legacy_path = old_path.with_name(f"{OLD}.pdf")
    old_path.rename(legacy_path)
    cert.number, cert.legacy_number = NEW, OLD
    cert.pdf_path = str(legacy_path.relative_to(settings.files_dir))
    session.flush()
    return course, cert, legacy_path


def test_issued_pdfs_and_zip_entries_are_named_safely(
    issued, session, operator, settings, tmp_path: Path
):
    course, cert = issued
    assert FILE_SAFE.match(Path(cert.pdf_path).name), cert.pdf_path
    out = tmp_path / "c.zip"
    certificate_export.export_zip(
        session, actor=operator, course_slug=course.slug, settings=settings, out=out
    )
    with zipfile.ZipFile(out) as archive:
        assert [n for n in archive.namelist() if n != "manifest.csv"] == [f"{cert.number}.pdf"]


def test_the_old_number_still_verifies_and_says_the_new_one(migrated, session, operator):
    _, cert, legacy_path = migrated
    pdf = legacy_path.read_bytes()
    for typed in (OLD, "lms p758 dxf0 *", "LMSP758DXFO*"):
        result = cert_verify.verify(session, typed, pdf=pdf)
        assert (result.number, result.status, result.verified) == (OLD, "valid", True)
        assert result.current_number == NEW and result.as_dict()["current_number"] == NEW
    assert cert_verify.verify(session, NEW).current_number == NEW
    # The QR code of the old PDF points at /verify/<old number>: the public page answers.
    assert cert_verify.public_verification(session, OLD)["verified"] is True
    assert registry.certificate_row(cert)["legacy_number"] == OLD
    with pytest.raises(ValidationError, match="mistyped"):
        cert_verify.verify(session, "LMS-P758-DXF1-*")
    registry.revoke(session, actor=operator, number=OLD, reason="by the old number")
    assert cert_verify.verify(session, NEW).status == "revoked"


def test_rename_legacy_pdfs_names_them_after_the_new_number_once(
    migrated, session, session_factory, settings
):
    _, cert, legacy_path = migrated
    content = legacy_path.read_bytes()
    report = renumber.rename_legacy_pdfs(session_factory, settings)
    assert (report.renamed, report.missing) == (1, [])
    session.refresh(cert)
    new_path = settings.files_dir / cert.pdf_path
    assert new_path.name == f"{NEW}.pdf" and new_path.read_bytes() == content
    assert hashlib.sha256(content).hexdigest() == cert.pdf_sha256
    assert not legacy_path.exists()
    assert not any("*" in p.name for p in new_path.parent.iterdir())
    assert renumber.rename_legacy_pdfs(session_factory, settings).renamed == 0
    assert cert_verify.verify(session, OLD, pdf=content).verified


def test_a_rename_killed_before_its_commit_is_finished_by_the_next(
    migrated, session, session_factory, settings
):
    """Killed after linking the new name, before the commit: the row still names the old file
    and the next run replaces whatever is under the new name."""
    _, cert, legacy_path = migrated
    content = legacy_path.read_bytes()
    legacy_path.with_name(f"{NEW}.pdf").write_bytes(b"half-written")
    assert renumber.rename_legacy_pdfs(session_factory, settings).renamed == 1
    session.refresh(cert)
    assert (settings.files_dir / cert.pdf_path).read_bytes() == content
    assert not legacy_path.exists()


def test_an_old_name_left_after_the_commit_is_removed_by_the_next_issue_run(
    migrated, session, session_factory, operator, settings
):
    course, cert, legacy_path = migrated
    content = legacy_path.read_bytes()
    new_path = legacy_path.with_name(f"{NEW}.pdf")
    new_path.write_bytes(content)
    cert.pdf_path = str(new_path.relative_to(settings.files_dir))
    session.flush()
    old = time.time() - orphans.ORPHAN_GRACE_SECONDS - 60  # left by a rename long done
    os.utime(legacy_path, (old, old))
    report = issue.issue_certificates(
        session_factory, actor=operator, course_slug=course.slug, settings=settings
    )
    assert (report.orphans_removed, report.already) == (1, 1)
    assert not legacy_path.exists() and new_path.read_bytes() == content


def test_a_missing_pdf_is_reported_not_invented(migrated, session, session_factory, settings):
    _, cert, legacy_path = migrated
    legacy_path.unlink()
    legacy_path.with_name(f"{NEW}.pdf").unlink(missing_ok=True)  # another test's, rolled back
    report = renumber.rename_legacy_pdfs(session_factory, settings)
    assert (report.renamed, report.missing) == (0, [NEW])
    session.refresh(cert)
    assert cert.pdf_path.endswith(f"{OLD}.pdf")


def test_every_single_character_typo_of_an_issued_number_is_refused_as_mistyped(issued, session):
    """Also the 1 in 37 typos that pass the old mod-37 check: they are no legacy number."""
    _, cert = issued
    word = cert.number.replace("-", "")[3:]
    typos = [
        word[:i] + new + word[i + 1 :]
        for i in range(len(word))
        for new in SYMBOLS
        if new != word[i]
    ]
    assert len(typos) == 9 * 31
    for typo in typos:
        with pytest.raises(ValidationError, match="mistyped"):
            cert_verify.verify(session, typo)


def test_renaming_waits_for_an_issue_run_on_the_course(
    migrated, session, session_factory, settings
):
    """An issue run removes PDFs no row names: renaming under its nose could lose one."""
    course, _cert, legacy_path = migrated
    with (
        run_lock(session_factory, f"certificates-{course.id}", holder="cli:issue run"),
        pytest.raises(Conflict, match="lock"),
    ):
        renumber.rename_legacy_pdfs(session_factory, settings, wait=0)
    assert legacy_path.exists()
    assert renumber.rename_legacy_pdfs(session_factory, settings, wait=0).renamed == 1
