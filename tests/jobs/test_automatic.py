"""Automatic work through the ledger: certificates on completion, overdue attempts closed on
the schedule, expired tokens cleaned, orphaned uploads reconciled, progress after lessons."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.automation.housekeeping import clean_expired_tokens, reconcile_files
from lms_core.catalog import enrollments
from lms_core.models import (
    Attempt,
    Certificate,
    Enrollment,
    Job,
    OneTimeToken,
    StoredFile,
    TokenPurpose,
    utcnow,
)
from lms_core.security import new_token, token_hash
from lms_core.settings import Settings
from tests.cli.helpers import ok, ok_json
from tests.conftest import Cli
from tests.quizzes.quizkit import all_types, make_quiz

Factory = Callable[[], Session]


@pytest.fixture
def jobs_cli(settings: Settings, session_factory: Factory, tmp_path: Path) -> Cli:
    own = settings.model_copy(
        update={
            "huey_url": f"sqlite:///{tmp_path / 'huey.db'}",
            "files_dir": tmp_path / "files",
            "jobs_backoff_base_seconds": 0.0,
        }
    )
    return Cli(own, session_factory)


def _jobs(session: Session, kind: str) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id)))


def _complete_all(session: Session, operator: Actor, enrollment: Enrollment) -> None:
    course = enrollment.course
    for lesson in course.lessons:
        enrollments.complete_lesson(
            session,
            actor=operator,
            email=enrollment.student.email,
            course_slug=course.slug,
            lesson_slug=lesson.slug,
        )


def test_auto_certificate_is_issued_on_completion_by_run_due(
    jobs_cli: Cli, session: Session, make, operator: Actor
) -> None:
    course = make.course(lessons=2, published=True)
    plain = make.course(lessons=1, published=True)
    row = ok_json(jobs_cli("courses", "update", course.slug, "--auto-certificate", "--json"))
    assert row["auto_certificate"] is True
    assert ok_json(jobs_cli("courses", "show", plain.slug, "--json"))["auto_certificate"] is False
    enrollment = make.enroll(course=course)
    other = make.enroll(course=plain)
    _complete_all(session, operator, enrollment)
    _complete_all(session, operator, other)
    session.refresh(enrollment)
    assert enrollment.status == "completed"
    queued = _jobs(session, "certificates.issue_one")
    assert [(j.key, j.args) for j in queued] == [
        (f"cert:{enrollment.id}", {"enrollment_id": enrollment.id})
    ]  # the course without the flag queues nothing
    report = ok_json(jobs_cli("jobs", "run-due", "--json"))
    assert any(j["kind"] == "certificates.issue_one" for j in report["jobs"]), report
    certs = list(
        session.scalars(select(Certificate).where(Certificate.enrollment_id == enrollment.id))
    )
    assert len(certs) == 1
    assert (jobs_cli.settings.files_dir / certs[0].pdf_path).is_file()
    assert (
        session.scalar(
            select(func.count())
            .select_from(Certificate)
            .where(Certificate.enrollment_id == other.id)
        )
        == 0
    )
    # Run again (as after a lost lease): the learner has a certificate, nothing more is issued.
    from lms_core.jobs.registry import JobContext, get_handler

    job = _jobs(session, "certificates.issue_one")[0]
    context = JobContext(jobs_cli.factory, jobs_cli.settings, job.id, 2, job.key)
    again = get_handler("certificates.issue_one").fn(context, dict(job.args))
    assert again is not None and again["issued"] is None
    assert "valid certificate" in again["reason"]
    assert (
        session.scalar(
            select(func.count())
            .select_from(Certificate)
            .where(Certificate.enrollment_id == enrollment.id)
        )
        == 1
    )


def test_close_overdue_runs_on_the_schedule(
    jobs_cli: Cli, session: Session, make, operator: Actor
) -> None:
    setup = make_quiz(session, make, operator, questions=all_types()[:2], time_limit_minutes=10)
    from lms_core.quizzes import attempts

    past = datetime.now(UTC) - timedelta(hours=1)
    attempt = attempts.start_attempt(
        session, actor=operator, quiz_ref=setup.ref, email=setup.student.email, now=past
    ).attempt
    report = ok_json(jobs_cli("jobs", "run-due", "--json"))
    assert "close-overdue-attempts" in report["periodic"]
    closing = [j for j in report["jobs"] if j["kind"] == "quizzes.close_overdue"]
    assert [j["status"] for j in closing] == ["succeeded"]
    session.expire_all()
    closed = session.get(Attempt, attempt.id)
    assert closed is not None and closed.status == "graded"
    assert closed.submitted_at == attempt.deadline_at


def test_expired_tokens_are_cleaned(jobs_cli: Cli, session: Session, make, operator: Actor) -> None:
    user = make.user("student")
    now = utcnow()

    def token(expires: datetime, used: datetime | None = None) -> str:
        digest = token_hash(new_token())
        session.add(
            OneTimeToken(
                user_id=user.id,
                purpose=TokenPurpose.password_reset.value,
                token_hash=digest,
                expires_at=expires,
                used_at=used,
            )
        )
        session.flush()
        return digest

    expired = token(now - timedelta(minutes=1))
    live = token(now + timedelta(hours=1))
    used_long_ago = token(now + timedelta(hours=1), used=now - timedelta(days=8))
    used_lately = token(now + timedelta(hours=1), used=now - timedelta(days=1))
    assert clean_expired_tokens(session, actor=operator, now=now) == 2
    left = set(
        session.scalars(select(OneTimeToken.token_hash).where(OneTimeToken.user_id == user.id))
    )
    assert left == {live, used_lately}
    assert expired not in left and used_long_ago not in left
    # The job the schedule queues nightly runs the same service.
    from lms_core.db import unit_of_work
    from lms_core.jobs import ledger

    token(now - timedelta(days=2))
    with unit_of_work(jobs_cli.factory) as s:
        job_id = ledger.enqueue(s, "accounts.clean_tokens", {}, key="test:clean").id
    ok(jobs_cli("jobs", "run-due"))
    done = session.get(Job, job_id)
    session.refresh(done)
    assert (
        done is not None
        and done.status == "succeeded"
        and done.result == {"deleted": 1, "web_sessions": 0, "api_tokens": 0}
    )


def _blob(files_dir: Path, content: bytes, *, age_seconds: float) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    path = files_dir / digest[:2] / digest[2:4] / f"{digest}.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    moment = time.time() - age_seconds
    os.utime(path, (moment, moment))
    return path


def test_orphaned_uploads_are_removed_after_the_grace_period(
    jobs_cli: Cli, session: Session, operator: Actor
) -> None:
    files = jobs_cli.settings.files_dir
    named = _blob(files, b"named", age_seconds=7200)
    relative = named.relative_to(files).as_posix()
    session.add(
        StoredFile(
            original_filename="a.pdf",
            stored_filename=named.name,
            file_path=relative,
            file_size=5,
            mime_type="application/pdf",
            sha256=named.stem,
        )
    )
    session.add(
        StoredFile(
            original_filename="gone.pdf",
            stored_filename="f" * 64 + ".pdf",
            file_path=f"ff/ff/{'f' * 64}.pdf",
            file_size=5,
            mime_type="application/pdf",
            sha256="f" * 64,
        )
    )
    session.flush()
    old_orphan = _blob(files, b"old orphan", age_seconds=7200)
    young_orphan = _blob(files, b"young orphan", age_seconds=60)
    certificate = files / "certificates" / "1" / "LMS-X.pdf"  # not an upload: never looked at
    certificate.parent.mkdir(parents=True)
    certificate.write_bytes(b"%PDF")
    os.utime(certificate, (time.time() - 7200,) * 2)
    report = reconcile_files(session, actor=operator, files_dir=files, dry_run=True)
    assert report.removed == [old_orphan.relative_to(files).as_posix()] and old_orphan.exists()
    # The nightly slot (caught up by run-due, like any missed slot) runs the reconcile.
    data = ok_json(jobs_cli("jobs", "run-due", "--json"))
    assert "reconcile-files" in data["periodic"]
    (job_id,) = [j["id"] for j in data["jobs"] if j["kind"] == "files.reconcile"]
    job = session.get(Job, job_id)
    session.refresh(job)
    assert job is not None and job.result is not None
    assert job.result["removed"] == 1 and job.result["young"] == 1
    assert job.result["missing"] == 1 and job.result["missing_rows"][0]["file_path"].startswith(
        "ff/"
    )
    assert not old_orphan.exists() and young_orphan.exists() and named.exists()
    assert certificate.exists()
    assert session.scalar(select(func.count()).select_from(StoredFile)) == 2  # rows never deleted


def test_lesson_changes_queue_a_progress_recompute_per_course_and_minute(
    jobs_cli: Cli, session: Session, make, operator: Actor
) -> None:
    course = make.course(lessons=2, published=True)
    enrollment = make.enroll(course=course)
    enrollments.complete_lesson(
        session,
        actor=operator,
        email=enrollment.student.email,
        course_slug=course.slug,
        lesson_slug="lesson-1",
    )
    before = len(_jobs(session, "catalog.recompute_progress"))
    ok(jobs_cli("lessons", "add", course.slug, "lesson-3", "--title", "Three"))
    ok(jobs_cli("lessons", "delete", course.slug, "lesson-3"))
    queued = _jobs(session, "catalog.recompute_progress")
    ours = [j for j in queued if j.args == {"course_id": course.id}]
    assert 1 <= len(ours) <= 2 and len(queued) - before <= 2  # one per course and minute
    assert all(j.key.startswith(f"progress:{course.id}:") for j in ours)
    # The job fixes progress that went stale (as a concurrent change could leave it).
    session.execute(
        Enrollment.__table__.update()  # type: ignore[attr-defined]
        .where(Enrollment.__table__.c.id == enrollment.id)  # type: ignore[attr-defined]
        .values(progress_percentage=0)
    )
    ok(jobs_cli("jobs", "run-due"))
    session.expire_all()
    assert str(enrollment.progress_percentage) == "50.00"
    assert {j.status for j in _jobs(session, "catalog.recompute_progress")} == {"succeeded"}


def test_a_blob_reused_by_a_new_upload_is_touched(
    jobs_cli: Cli, session: Session, operator: Actor, make
) -> None:
    """store() reuses an existing blob for the same bytes: it touches it, so a reconcile
    that looked at the rows before the upload committed sees a young blob, not an orphan."""
    from lms_core.assignments.files import Upload, store
    from tests import samples

    files = jobs_cli.settings.files_dir
    blob = _blob(files, samples.PDF, age_seconds=7200)  # an orphan: its last row was deleted
    stored = store(
        session,
        actor=Actor.for_user(make.user("student")),
        settings=jobs_cli.settings,
        upload=Upload("again.pdf", samples.PDF),
    )
    assert stored.file_path == blob.relative_to(files).as_posix()
    assert blob.stat().st_mtime > time.time() - 60


def test_the_reconcile_checks_the_rows_again_before_removing_a_blob(
    jobs_cli: Cli, session: Session, operator: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row naming the blob committed after the reconcile read the rows (an upload of the
    same bytes): the blob is not removed under it."""
    from lms_core.automation import housekeeping

    files = jobs_cli.settings.files_dir
    blob = _blob(files, b"late row", age_seconds=7200)
    orphan = _blob(files, b"true orphan", age_seconds=7200)
    real = housekeeping._blobs

    def upload_meanwhile(files_dir: Path, *, repair: bool) -> list[Path]:
        session.add(  # the upload's transaction commits after the reconcile read the rows
            StoredFile(
                original_filename="late.pdf",
                stored_filename=blob.name,
                file_path=blob.relative_to(files).as_posix(),
                file_size=8,
                mime_type="application/pdf",
                sha256=blob.stem,
            )
        )
        session.flush()
        return real(files_dir, repair=repair)

    monkeypatch.setattr(housekeeping, "_blobs", upload_meanwhile)
    report = reconcile_files(session, actor=operator, files_dir=files)
    assert report.removed == [orphan.relative_to(files).as_posix()]
    assert blob.exists() and not orphan.exists()
    assert not list(files.rglob(f"*{housekeeping.ASIDE}"))


def test_a_blob_left_aside_by_a_killed_reconcile_is_put_back(
    jobs_cli: Cli, session: Session, operator: Actor
) -> None:
    from lms_core.automation import housekeeping

    files = jobs_cli.settings.files_dir
    blob = _blob(files, b"kept", age_seconds=60)
    aside = blob.with_name(f".{blob.name}{housekeeping.ASIDE}")
    os.replace(blob, aside)  # the kill landed between the rename and the re-check
    report = reconcile_files(session, actor=operator, files_dir=files)
    assert report.young == 1 and blob.exists() and not aside.exists()


def test_a_lesson_change_after_that_minutes_job_ran_queues_another(
    jobs_cli: Cli, session: Session, make
) -> None:
    from lms_core.automation.queue import queue_recompute
    from lms_core.db import unit_of_work

    course = make.course(lessons=1, published=True)
    ok(jobs_cli("jobs", "run-due"))  # whatever making the course queued
    before = {j.id for j in _jobs(session, "catalog.recompute_progress")}

    def ours() -> list[Job]:
        session.expire_all()
        return [j for j in _jobs(session, "catalog.recompute_progress") if j.id not in before]

    minute = datetime(2026, 9, 1, 10, 15, 5, tzinfo=UTC)
    with unit_of_work(jobs_cli.factory) as s:
        queue_recompute(s, course.id, now=minute)
        queue_recompute(s, course.id, now=minute + timedelta(seconds=10))  # shares the job
    assert len(ours()) == 1
    ok(jobs_cli("jobs", "run-due"))
    with unit_of_work(jobs_cli.factory) as s:  # same minute, after its job ran
        queue_recompute(s, course.id, now=minute + timedelta(seconds=40))
    assert [j.status for j in ours()] == ["succeeded", "queued"]


def test_a_certificate_job_that_found_nothing_is_queued_again_by_a_later_grade(
    jobs_cli: Cli, session: Session, make, operator: Actor
) -> None:
    from lms_core.automation.queue import queue_certificate_after_grade
    from lms_core.db import unit_of_work

    course = make.course(lessons=1, published=True)
    ok(jobs_cli("courses", "update", course.slug, "--auto-certificate"))
    enrollment = make.enroll(course=course)
    _complete_all(session, operator, enrollment)
    (first,) = _jobs(session, "certificates.issue_one")
    first.status = "dead"  # it gave up (or found the grade not in yet)
    session.flush()
    graded = datetime(2026, 9, 2, 8, 0, tzinfo=UTC)
    for _ in range(2):  # the same grade event twice: one job
        with unit_of_work(jobs_cli.factory) as s:
            queue_certificate_after_grade(s, enrollment.id, graded)
    jobs = _jobs(session, "certificates.issue_one")
    assert [j.key for j in jobs] == [
        f"cert:{enrollment.id}",
        f"cert:{enrollment.id}:grade:20260902T080000.000000",
    ]
    ok(jobs_cli("jobs", "run-due"))
    session.expire_all()
    count = select(func.count()).select_from(Certificate)
    assert session.scalar(count.where(Certificate.enrollment_id == enrollment.id)) == 1
    with unit_of_work(jobs_cli.factory) as s:  # a later grade: a certificate is held already
        queue_certificate_after_grade(s, enrollment.id, graded + timedelta(days=1))
    assert len(_jobs(session, "certificates.issue_one")) == 2


def test_a_completion_redone_after_a_not_eligible_job_queues_another(
    jobs_cli: Cli, session: Session, make, operator: Actor
) -> None:
    from lms_core.catalog.progress import recompute

    course = make.course(lessons=1, published=True)
    ok(jobs_cli("courses", "update", course.slug, "--auto-certificate"))
    enrollment = make.enroll(course=course)
    _complete_all(session, operator, enrollment)
    (first,) = _jobs(session, "certificates.issue_one")
    first.status, first.result = "succeeded", {"issued": None, "reason": "not eligible: grade"}
    session.refresh(enrollment)
    enrollment.status = "active"  # the completion undone (say, a required lesson added)
    session.flush()
    recompute(session, enrollment)  # ... and redone
    jobs = _jobs(session, "certificates.issue_one")
    assert len(jobs) == 2 and jobs[1].key.startswith(f"cert:{enrollment.id}:completed:")
    ok(jobs_cli("jobs", "run-due"))
    count = select(func.count()).select_from(Certificate)
    assert session.scalar(count.where(Certificate.enrollment_id == enrollment.id)) == 1


def test_grading_through_the_service_looks_at_the_certificate_again(
    jobs_cli: Cli, session: Session, make, operator: Actor
) -> None:
    """The grading service calls the hook: a completed learner whose certificate job gave up
    (the grade was not in) gets another job when the grade arrives, and one certificate."""
    course = make.course(lessons=1, published=True)
    ok(jobs_cli("courses", "update", course.slug, "--auto-certificate"))
    created = ok_json(jobs_cli("assignments", "create", course.slug, "--title", "Essay", "--json"))
    enrollment = make.enroll(course=course)
    _complete_all(session, operator, enrollment)
    (first,) = _jobs(session, "certificates.issue_one")
    first.status = "dead"
    session.flush()
    email = enrollment.student.email
    ok(jobs_cli("submissions", "submit", str(created["id"]), email, "--text", "Done"))
    ok(jobs_cli("submissions", "grade", str(created["id"]), email, "--grade", "9"))
    keys = [j.key for j in _jobs(session, "certificates.issue_one")]
    assert keys[0] == f"cert:{enrollment.id}" and len(keys) == 2
    assert keys[1].startswith(f"cert:{enrollment.id}:grade:")
    ok(jobs_cli("jobs", "run-due"))
    session.expire_all()
    count = select(func.count()).select_from(Certificate)
    assert session.scalar(count.where(Certificate.enrollment_id == enrollment.id)) == 1
