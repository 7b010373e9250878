"""Files service: refusals, storage by content hash, dedupe, delete with shared blobs, roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lms_core.assignments import files
from lms_core.assignments.fields import AssignmentCreate, SubmissionCreate
from lms_core.assignments.files import Upload
from lms_core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from lms_core.models import StoredFile
from lms_core.settings import Settings
from tests import samples
from tests.helpers import as_, audit_log


@pytest.fixture
def fsettings(settings: Settings, tmp_path: Path) -> Settings:
    """Settings with a files directory of the test's own (blobs are checked on disk)."""
    return settings.model_copy(update={"files_dir": tmp_path / "files", "max_upload_mb": 1})


def _upload(
    session: Any, fsettings: Settings, actor: Any, name: str, data: bytes, **kw: Any
) -> StoredFile:
    return files.upload_file(
        session, actor=actor, settings=fsettings, upload=Upload(name, data), **kw
    )


def test_stored_by_content_hash(session: Any, fsettings: Settings, learner: Any) -> None:
    stored = _upload(session, fsettings, as_(learner), "My Report.pdf", samples.PDF)
    import hashlib

    digest = hashlib.sha256(samples.PDF).hexdigest()
    assert stored.file_path == f"{digest[:2]}/{digest[2:4]}/{digest}.pdf"
    assert (fsettings.files_dir / stored.file_path).read_bytes() == samples.PDF
    assert (stored.mime_type, stored.original_filename) == ("application/pdf", "My Report.pdf")
    assert stored.uploaded_by_id == learner.id
    assert audit_log(session, "file.upload")[-1].after["sha256"] == digest
    leftovers = [p for p in fsettings.files_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\x\\..\\y.pdf", "y.pdf"),
        ("..", "file"),
        ("/abs/path/notes.txt", "notes.txt"),
        ("bad\x00name\n.txt", "badname.txt"),
    ],
)
def test_path_tricks_are_display_names_only(
    session: Any, fsettings: Settings, operator: Any, name: str, shown: str
) -> None:
    data = samples.PDF if shown.endswith(".pdf") else samples.TEXT
    stored = _upload(session, fsettings, operator, name, data)
    assert stored.original_filename == shown
    assert ".." not in stored.file_path and not stored.file_path.startswith("/")
    root = fsettings.files_dir.resolve()
    assert root in files.blob_path(fsettings, stored).parents
    assert not (fsettings.files_dir.parent / "etc").exists()


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("empty.txt", b"", "empty"),
        ("invoice.pdf", samples.EXE, "windows executable"),
        ("thesis.pdf", samples.ZIP, "zip archive"),
        ("thesis.pdf", samples.HTML, "markup"),
        ("essay.docx", samples.ZIP, "not an office document"),
        ("essay.pdf", samples.TEXT, "named .pdf but the content is plain text"),
        ("photo.png", samples.JPEG, "named .png but the content is JPEG"),
    ],
)
def test_refusals_write_nothing(
    session: Any, fsettings: Settings, operator: Any, name: str, data: bytes, says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _upload(session, fsettings, operator, name, data)
    assert caught.value.field == "file" and says.lower() in caught.value.message.lower()
    assert session.query(StoredFile).count() == 0
    assert not fsettings.files_dir.exists() or not any(fsettings.files_dir.rglob("*.*"))


def test_oversize_is_refused_before_reading(
    session: Any, fsettings: Settings, operator: Any, tmp_path: Path
) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (1024 * 1024 + 1))
    with pytest.raises(ValidationError, match="more than the 1 MB allowed"):
        files.read_upload(big, fsettings)
    with pytest.raises(ValidationError, match="more than the 1 MB allowed"):
        _upload(session, fsettings, operator, "big.txt", b"a" * (1024 * 1024 + 1))
    ok = tmp_path / "ok.txt"
    ok.write_bytes(b"a" * 1024 * 1024)
    assert files.read_upload(ok, fsettings).filename == "ok.txt"


def test_same_content_shares_one_blob_and_delete_keeps_it_while_referenced(
    session: Any, fsettings: Settings, learner: Any, make: Any
) -> None:
    other = make.user()
    first = _upload(session, fsettings, as_(learner), "a.pdf", samples.PDF)
    second = _upload(session, fsettings, as_(other), "b.pdf", samples.PDF)
    assert first.id != second.id and first.file_path == second.file_path
    blob = fsettings.files_dir / first.file_path
    files.delete_file(session, actor=as_(learner), settings=fsettings, file_id=first.id)
    session.commit()
    assert blob.is_file()  # the other row still names it
    files.delete_file(session, actor=as_(other), settings=fsettings, file_id=second.id)
    assert blob.is_file()  # not before the commit
    session.commit()
    assert not blob.exists()
    assert session.query(StoredFile).count() == 0


def test_a_rolled_back_delete_keeps_the_blob(
    session: Any, fsettings: Settings, learner: Any
) -> None:
    stored = _upload(session, fsettings, as_(learner), "a.pdf", samples.PDF)
    session.commit()
    blob = fsettings.files_dir / stored.file_path
    files.delete_file(session, actor=as_(learner), settings=fsettings, file_id=stored.id)
    session.rollback()
    session.commit()
    assert blob.is_file() and session.get(StoredFile, stored.id) is not None


def test_course_material_roles(session: Any, fsettings: Settings, make: Any, teacher: Any) -> None:
    course = make.course(instructor=teacher, lessons=1, published=True)
    enrolled, stranger = make.user(), make.user()
    make.enroll(enrolled, course)
    with pytest.raises(PermissionDenied):
        _upload(session, fsettings, as_(enrolled), "x.pdf", samples.PDF, course_slug=course.slug)
    material = _upload(
        session, fsettings, as_(teacher), "syllabus.pdf", samples.PDF, course_slug=course.slug
    )
    for who in (teacher, enrolled, make.user("admin")):
        got = files.download(session, actor=as_(who), settings=fsettings, file_id=material.id)
        assert got.filename == "syllabus.pdf" and got.path.read_bytes() == samples.PDF
    with pytest.raises(NotFound):
        files.download(session, actor=as_(stranger), settings=fsettings, file_id=material.id)
    assert material in files.list_files(session, actor=as_(enrolled))
    assert material not in files.list_files(session, actor=as_(stranger))
    with pytest.raises(PermissionDenied):
        files.delete_file(session, actor=as_(enrolled), settings=fsettings, file_id=material.id)
    with pytest.raises(NotFound):
        files.delete_file(session, actor=as_(stranger), settings=fsettings, file_id=material.id)
    files.delete_file(session, actor=as_(teacher), settings=fsettings, file_id=material.id)


def test_own_files_and_submission_files(
    session: Any, fsettings: Settings, make: Any, teacher: Any
) -> None:
    from lms_core.assignments import assignments, submissions

    course = make.course(instructor=teacher, lessons=1, published=True)
    student, classmate = make.user(), make.user()
    make.enroll(student, course)
    make.enroll(classmate, course)
    a = assignments.create_assignment(
        session, actor=as_(teacher), course_slug=course.slug, data=AssignmentCreate(title="Work")
    )
    sub = submissions.submit(
        session,
        actor=as_(student),
        settings=fsettings,
        assignment=str(a.id),
        email=student.email,
        data=SubmissionCreate(files=[Upload("work.pdf", samples.PDF)]),
    ).submission
    attached = sub.files[0]
    for who in (student, teacher):
        files.download(session, actor=as_(who), settings=fsettings, file_id=attached.id)
    with pytest.raises(NotFound):
        files.download(session, actor=as_(classmate), settings=fsettings, file_id=attached.id)
    with pytest.raises(Conflict, match="part of submission"):
        files.delete_file(session, actor=as_(student), settings=fsettings, file_id=attached.id)


def test_missing_blob_is_a_clean_error(session: Any, fsettings: Settings, learner: Any) -> None:
    stored = _upload(session, fsettings, as_(learner), "a.txt", samples.TEXT)
    (fsettings.files_dir / stored.file_path).unlink()
    with pytest.raises(Conflict, match="missing"):
        files.download(session, actor=as_(learner), settings=fsettings, file_id=stored.id)
