"""A files folder belongs to one database: its stamp, refusals, and what the orphan clean-up
may delete (see ``lms_core.files_identity`` and ``certificates.orphans``)."""

from __future__ import annotations

import os
import stat
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, func, select

from lms_core.assignments import files
from lms_core.assignments.files import Upload
from lms_core.catalog import enrollments
from lms_core.certificates import issue, orphans
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.errors import Conflict, HintCode
from lms_core.files_identity import (
    STAMP_NAME,
    claim_files_dir,
    read_stamp,
    safe_database_url,
    stored_identity,
)
from lms_core.models import Base, Certificate, DatabaseIdentity, StoredFile
from lms_core.ops import health
from tests.conftest import reset_schema
from tests.helpers import as_

OTHER = "0b6f3c1e-5d2a-4f7e-9a8b-123456789abc"
OLD = time.time() - orphans.ORPHAN_GRACE_SECONDS - 60


@pytest.fixture
def fsettings(settings, tmp_path):
    """The test database with a files folder of the test's own (the session's is shared)."""
    return settings.model_copy(update={"files_dir": tmp_path / "files"})


@pytest.fixture
def done(make, session, operator):
    """A published course whose two learners completed it."""
    course = make.course(lessons=1, published=True)
    for _ in range(2):
        learner = make.user()
        make.enroll(learner, course)
        enrollments.complete_lesson(
            session,
            actor=operator,
            email=learner.email,
            course_slug=course.slug,
            lesson_slug="lesson-1",
        )
    return course


def _foreign(folder: Path, identity: str = OTHER) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STAMP_NAME).write_text(
        f"identity: {identity}\ndatabase: sqlite:///elsewhere.db\n", encoding="utf-8"
    )


def _aged(path: Path, data: bytes = b"%PDF-") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


def test_every_migrated_database_has_an_identity(session):
    identity = stored_identity(session)
    assert identity is not None and str(uuid.UUID(identity)) == identity
    assert session.scalar(select(func.count()).select_from(DatabaseIdentity)) == 1


def test_claim_stamps_a_new_folder_for_its_owner_only(session, fsettings):
    claim_files_dir(session, fsettings)
    stamp = fsettings.files_dir / STAMP_NAME
    found = read_stamp(fsettings.files_dir)
    assert found is not None and found.identity == stored_identity(session)
    assert found.database == safe_database_url(session.get_bind())
    assert stat.S_IMODE(stamp.stat().st_mode) == 0o600
    assert stat.S_IMODE(fsettings.files_dir.stat().st_mode) == 0o700
    assert [p.name for p in fsettings.files_dir.iterdir()] == [STAMP_NAME]  # no temp left
    claim_files_dir(session, fsettings)  # its own stamp: fine, and unchanged
    assert read_stamp(fsettings.files_dir) == found


def test_the_stamp_names_the_database_without_its_password():
    engine = create_engine("postgresql+psycopg2://lms:s3cret@db.example/lms")
    assert safe_database_url(engine) == "postgresql+psycopg2://lms:***@db.example/lms"
    engine.dispose()


def test_a_folder_of_another_database_is_refused_and_a_changed_stamp_is_seen(session, fsettings):
    claim_files_dir(session, fsettings)
    mine = (fsettings.files_dir / STAMP_NAME).read_text(encoding="utf-8")
    _foreign(fsettings.files_dir)
    with pytest.raises(Conflict) as caught:
        claim_files_dir(session, fsettings)
    error = caught.value
    assert (error.field, error.value) == ("files_dir", str(fsettings.files_dir))
    assert error.message.startswith(
        f"files folder {fsettings.files_dir} belongs to another database "
        f"(identity {OTHER}, sqlite:///elsewhere.db); set LMS_FILES_DIR to a folder of its own"
    )
    with pytest.raises(Conflict):
        claim_files_dir(session, fsettings, stamp=False)  # a dry run checks too
    (fsettings.files_dir / STAMP_NAME).write_text(mine, encoding="utf-8")
    claim_files_dir(session, fsettings)


@pytest.mark.parametrize("content", ["", "hello\n", "identity: not-a-uuid\n", "x" * 5000])
def test_a_stamp_that_is_not_ours_is_refused(session, fsettings, content):
    fsettings.files_dir.mkdir()
    (fsettings.files_dir / STAMP_NAME).write_text(content, encoding="utf-8")
    with pytest.raises(Conflict, match="not a stamp this toolkit wrote"):
        claim_files_dir(session, fsettings)


def test_an_issue_run_into_another_databases_folder_deletes_and_issues_nothing(
    session, session_factory, operator, fsettings, done
):
    _foreign(fsettings.files_dir)
    theirs = _aged(issue.certificates_dir(fsettings, done.id) / "LMS-0000-0000-0.pdf")
    with pytest.raises(Conflict, match="belongs to another database"):
        issue.issue_certificates(
            session_factory, actor=operator, course_slug=done.slug, settings=fsettings
        )
    with pytest.raises(Conflict, match="belongs to another database"):
        orphans.remove_orphans(session, fsettings, done.id)
    assert theirs.read_bytes() == b"%PDF-"
    assert session.scalar(select(func.count()).select_from(Certificate)) == 0


def test_orphans_go_only_when_ours_by_name_and_old_enough(
    session, session_factory, operator, fsettings, done
):
    report = issue.issue_certificates(
        session_factory, actor=operator, course_slug=done.slug, settings=fsettings
    )
    folder = issue.certificates_dir(fsettings, done.id)
    named = sorted(p.name for p in folder.iterdir())
    assert len(named) == 2 and report.orphans_removed == 0
    for name in named:  # rows name them: never orphans, however old
        os.utime(folder / name, (OLD, OLD))
    old_pdf = _aged(folder / "LMS-0000-0000-0.pdf")
    old_tmp = _aged(folder / ".LMS-0000-0000-1.pdf.0a1b2c3d.tmp")
    fresh_pdf = folder / "LMS-1111-1111-1.pdf"
    fresh_pdf.write_bytes(b"%PDF- a run of another process, not committed yet")
    fresh_tmp = folder / ".LMS-1111-1111-2.pdf.deadbeef.tmp"
    fresh_tmp.write_bytes(b"half")
    unrelated = [
        _aged(folder / name)
        for name in ("notes.txt", "LMS-0000-0000-0.pdf.bak", "backup.pdf", ".keep")
    ]
    assert orphans.remove_orphans(session, fsettings, done.id) == 2
    assert not old_pdf.exists() and not old_tmp.exists()
    assert fresh_pdf.exists() and fresh_tmp.exists()
    assert all(p.exists() for p in unrelated)
    assert sorted(p.name for p in folder.iterdir() if p.name in named) == named
    # Once old enough, the next clean-up takes the leftovers of a run that died.
    for path in (fresh_pdf, fresh_tmp):
        os.utime(path, (OLD, OLD))
    assert orphans.remove_orphans(session, fsettings, done.id) == 2
    assert all(p.exists() for p in unrelated)


def test_uploads_and_deletes_are_refused_in_another_databases_folder(
    session, fsettings, learner, operator
):
    stored = files.upload_file(
        session, actor=as_(learner), settings=fsettings, upload=Upload("a.txt", b"hi")
    )
    blob = files.blob_path(fsettings, stored)
    _foreign(fsettings.files_dir)
    with pytest.raises(Conflict, match="belongs to another database"):
        files.upload_file(
            session, actor=operator, settings=fsettings, upload=Upload("b.txt", b"other")
        )
    with pytest.raises(Conflict, match="belongs to another database"):
        files.delete_file(session, actor=operator, settings=fsettings, file_id=stored.id)
    assert blob.read_bytes() == b"hi"
    assert session.scalar(select(func.count()).select_from(StoredFile)) == 1


def test_a_database_without_an_identity_is_refused_and_nothing_stamped(session, fsettings):
    session.execute(delete(DatabaseIdentity))
    for stamp in (True, False):  # a dry run is refused too
        with pytest.raises(Conflict) as caught:
            claim_files_dir(session, fsettings, stamp=stamp)
        error = caught.value
        assert error.field == "database_url"
        assert "has no identity (the database_identity table is empty)" in error.message
        assert error.hint is not None and error.hint.code is HintCode.run_migrations
    assert not fsettings.files_dir.exists()
    assert session.scalar(select(func.count()).select_from(DatabaseIdentity)) == 0


@pytest.mark.scratch
@pytest.mark.parametrize("schema_by", ["migrations, row deleted", "create_all"])
def test_a_write_unit_of_work_without_an_identity_is_refused_at_once(
    settings, scratch_url, tmp_path, schema_by
):
    """Every caller claims inside a write unit of work (SQLite: BEGIN IMMEDIATE held): the
    claim must not need a second writer, which would wait for its own process."""
    busy = settings.model_copy(
        update={"sqlite_busy_timeout_ms": 400, "files_dir": tmp_path / "files"}
    )
    engine = make_engine(busy, url=scratch_url)
    try:
        if schema_by == "create_all":
            Base.metadata.create_all(engine)
        else:
            reset_schema(engine)
            with engine.begin() as conn:
                conn.execute(delete(DatabaseIdentity))
        factory = make_session_factory(engine)
        started = time.monotonic()
        with (
            pytest.raises(Conflict, match="has no identity"),
            unit_of_work(factory, write=True) as session,
        ):
            claim_files_dir(session, busy)
        with (
            pytest.raises(Conflict, match="has no identity"),
            unit_of_work(factory, write=True) as session,
        ):
            orphans.remove_orphans(session, busy, 1)
        assert time.monotonic() - started < 0.3  # no wait for a lock
        with unit_of_work(factory, write=False) as session:
            assert session.scalar(select(func.count()).select_from(DatabaseIdentity)) == 0
        assert not busy.files_dir.exists()
    finally:
        engine.dispose()


def test_a_stamp_of_this_database_url_with_another_identity_says_it_was_remade(session, fsettings):
    fsettings.files_dir.mkdir()
    url = safe_database_url(session.get_bind())
    (fsettings.files_dir / STAMP_NAME).write_text(
        f"identity: {OTHER}\ndatabase: {url}\n", encoding="utf-8"
    )
    with pytest.raises(Conflict) as caught:
        claim_files_dir(session, fsettings)
    assert caught.value.message.startswith(
        f"files folder {fsettings.files_dir} is stamped for another identity ({OTHER}) of "
        f"this same database URL ({url}): it looks like this database was re-created, or "
        "downgraded and upgraded again"
    )
    assert f"remove {fsettings.files_dir / STAMP_NAME}" in caught.value.message


def _plant(folder: Path, kind: str, ours: str) -> Path:
    folder.mkdir(parents=True)
    stamp = folder / STAMP_NAME
    target = folder.parent / "elsewhere"
    if kind == "dangling symlink":
        stamp.symlink_to(target)
    elif kind == "symlink to a stamp of ours":
        target.write_text(f"identity: {ours}\ndatabase: x\n", encoding="utf-8")
        stamp.symlink_to(target)
    elif kind == "fifo":
        os.mkfifo(stamp)
    else:
        stamp.mkdir()
    return target


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("dangling symlink", "a symbolic link"),
        ("symlink to a stamp of ours", "a symbolic link"),
        ("fifo", "a FIFO"),
        ("folder", "a folder"),
    ],
)
def test_a_stamp_that_is_not_a_regular_file_is_refused_without_waiting(
    session, fsettings, kind, said
):
    target = _plant(fsettings.files_dir, kind, stored_identity(session) or "")
    before = target.read_bytes() if target.exists() else None
    outcome: list[BaseException | None] = []

    def claim() -> None:
        try:
            claim_files_dir(session, fsettings)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=claim, daemon=True)
    worker.start()
    worker.join(3)
    hung = worker.is_alive()
    if hung:  # a reader blocked on the FIFO: give it a writer so that it ends
        os.close(os.open(fsettings.files_dir / STAMP_NAME, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(3)
    assert not hung, "reading the stamp waited on a FIFO"
    (error,) = outcome
    assert isinstance(error, Conflict), error
    assert error.field == "files_dir"
    assert error.message.startswith(
        f"{fsettings.files_dir / STAMP_NAME} is not a stamp this toolkit wrote ({said}, not a "
        "regular file)"
    )
    assert (target.read_bytes() if target.exists() else None) == before  # nothing followed


def test_doctor_says_whether_the_folder_is_this_databases(session, engine, fsettings):
    assert health.check_files_owner(fsettings, engine) is None  # no folder yet
    fsettings.files_dir.mkdir()
    check = health.check_files_owner(fsettings, engine)
    assert check is not None and (check.name, check.ok) == ("files_owner", True)
    assert "not stamped yet" in check.detail
    claim_files_dir(session, fsettings)
    check = health.check_files_owner(fsettings, engine)
    assert check is not None and check.ok and stored_identity(session) in check.detail
    _foreign(fsettings.files_dir)
    check = health.check_files_owner(fsettings, engine)
    assert check is not None and not check.ok
    assert "belongs to another database (identity " + OTHER in check.detail
    names = [c.name for c in health.run_checks(fsettings, engine)]
    assert names[names.index("files_dir") : names.index("files_dir") + 2] == [
        "files_dir",
        "files_owner",
    ]
