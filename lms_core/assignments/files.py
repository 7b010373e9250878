"""Uploaded files: course material and submission attachments, stored by content hash.

A blob lives at ``<files_dir>/ab/cd/<sha256>.<ext>``: the name comes from the content (and its
type, decided by :mod:`lms_core.assignments.file_types`), never from the uploader, so no filename can
reach outside the files directory or overwrite another file. The same content uploaded twice
makes two rows sharing one blob. Blobs are written atomically before the row is flushed; a
deleted row's blob is removed only after the transaction commits, and only when no other row
names it, so a rolled-back delete never loses a file.

Who may do what: anyone may upload for themselves; course material (``--course``) only the
course's instructor or an admin. Download: the uploader, admins, the instructor of the course
the file belongs to (as material or through a submission), and learners enrolled in the course
for its material. Delete: the uploader, the course's instructor for material, admins; a file
attached to a submission is deleted with the submission's content, not on its own.
"""

from __future__ import annotations

import errno
import hashlib
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy import Select, event, func, or_, select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.assignments.file_types import FileType, check_name, detect
from lms_core.catalog.courses import get_course
from lms_core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from lms_core.files_identity import claim_files_dir
from lms_core.models import (
    Assignment,
    Course,
    Enrollment,
    EnrollmentStatus,
    Role,
    StoredFile,
    Submission,
    submission_files,
)
from lms_core.permissions import can_manage_course, require_course_manager
from lms_core.private_paths import make_private_dirs
from lms_core.settings import Settings

_PENDING = "lms_files_unlink"


@dataclass(frozen=True)
class Upload:
    """A file as received: the name the uploader gave (display only) and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str
    mime_type: str
    size: int


def max_upload_bytes(settings: Settings) -> int:
    return settings.max_upload_mb * 1024 * 1024


def _too_big(settings: Settings, size: int, name: str) -> ValidationError:
    return ValidationError(
        f"{name} is {size / 1024 / 1024:.1f} MB, more than the {settings.max_upload_mb} MB "
        "allowed (LMS_MAX_UPLOAD_MB)",
        field="file",
        value=name,
    )


def _symlink_refused(path: Path) -> ValidationError:
    return ValidationError(
        f"{path} is a symbolic link: upload the file itself, not a link to it",
        field="file",
        value=str(path),
    )


def read_upload(path: Path, settings: Settings) -> Upload:
    """Read a local file for upload; an oversize file is refused before it is read.

    A symbolic link is refused, not followed (a link to ``/etc/shadow`` must not be stored):
    checked with ``lstat`` for the message, and opened with ``O_NOFOLLOW`` so a link swapped
    in meanwhile is refused too.
    """
    limit = max_upload_bytes(settings)
    if path.is_symlink():
        raise _symlink_refused(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise _symlink_refused(path) from None
        raise
    with open(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise _too_big(settings, size, str(path))
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise _too_big(settings, len(data), str(path))
    return Upload(path.name, data)


def sanitize_filename(name: str) -> str:
    """A display name: the last path component (``/`` or ``\\``), no control characters.

    ``../../etc/passwd`` becomes ``passwd`` and ``C:\\x\\..\\y.pdf`` becomes ``y.pdf``. It is
    only ever shown and offered as a download name; the blob's path comes from its hash.
    """
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").split("/")[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    # No leading dot (hidden files, "..") or dash (read as an option by shell tools).
    text = text.lstrip(" .-\u00a0").rstrip(" .\u00a0")
    if not text:
        text = "file"
    if len(text) > 255:
        stem, dot, ext = text.rpartition(".")
        text = (stem[: 254 - len(ext)] + dot + ext) if dot and len(ext) <= 16 else text[:255]
    return text


def blob_path(settings: Settings, stored: StoredFile) -> Path:
    """The blob on disk; a row whose path escapes the files directory is refused."""
    root = settings.files_dir.resolve()
    path = (root / stored.file_path).resolve()
    if root not in path.parents:
        raise Conflict(f"file {stored.id} has an invalid stored path", field="file_id")
    return path


def _unlink_after_commit(session: Session, path: Path) -> None:
    pending: set[Path] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = set()

        @event.listens_for(session, "after_commit")
        def _unlink(sess: Session) -> None:
            for blob in sess.info.get(_PENDING, set()):
                blob.unlink(missing_ok=True)
            sess.info.get(_PENDING, set()).clear()

        @event.listens_for(session, "after_soft_rollback")
        def _forget(sess: Session, previous: Any) -> None:
            if previous.parent is None:
                sess.info.get(_PENDING, set()).clear()

    pending.add(path)


def check_upload(settings: Settings, upload: Upload) -> tuple[str, FileType]:
    """The display name and the type of an acceptable upload, or the refusal (nothing written).

    Callers storing several files check them all first, so one bad file writes no blob.
    """
    name = sanitize_filename(upload.filename)
    if len(upload.data) > max_upload_bytes(settings):
        raise _too_big(settings, len(upload.data), name)
    try:
        kind = detect(upload.data)
    except ValidationError as exc:
        # Name the file: a submission may carry several, and "is empty" alone says not which.
        raise ValidationError(f"{name} {exc.message}", field="file", value=name) from None
    check_name(kind, name)
    return name, kind


def store(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    upload: Upload,
    course_id: int | None = None,
) -> StoredFile:
    """Check and store one upload (no permission check: callers do theirs)."""
    from lms_core.formats.atomic import atomic_binary

    name, kind = check_upload(settings, upload)
    claim_files_dir(session, settings)  # never into another database's folder
    digest = hashlib.sha256(upload.data).hexdigest()
    stored_name = f"{digest}.{kind.ext}"
    relative = f"{digest[:2]}/{digest[2:4]}/{stored_name}"
    path = settings.files_dir / relative
    try:
        # A reused blob is touched before its new row exists: the orphan clean-up
        # (automation/housekeeping.py) spares a young blob and re-checks the blob it set
        # aside, so it never deletes one this row is about to name (gone: written again).
        os.utime(path)
        reuse = path.is_file() and path.stat().st_size == len(upload.data)
    except FileNotFoundError:
        reuse = False
    if not reuse:
        make_private_dirs(path.parent)  # the files folder and all under it: owner only
        with atomic_binary(path, private=True) as stream:
            stream.write(upload.data)
    stored = StoredFile(
        original_filename=name,
        stored_filename=stored_name,
        file_path=relative,
        file_size=len(upload.data),
        mime_type=kind.mime,
        sha256=digest,
        uploaded_by_id=actor.user_id,
        course_id=course_id,
    )
    session.add(stored)
    session.flush()
    audit.record(
        session,
        actor,
        "file.upload",
        stored,
        after={"name": name, "sha256": digest, "size": len(upload.data), "course_id": course_id},
    )
    return stored


def upload_file(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    upload: Upload,
    course_slug: str | None = None,
) -> StoredFile:
    """Upload a file for oneself, or as course material (``course_slug``: course managers)."""
    course_id = None
    if course_slug:
        course = get_course(session, course_slug)
        require_course_manager(actor, course, "add course material")
        course_id = course.id
    return store(session, actor=actor, settings=settings, upload=upload, course_id=course_id)


def get_file(session: Session, file_id: int) -> StoredFile:
    stored = session.get(StoredFile, file_id)
    if stored is None:
        raise NotFound(f"no file {file_id}", field="file_id", value=file_id)
    return stored


class FileRow(TypedDict):
    """A file as listings and ``--json`` show it: its course by slug, its uploader by e-mail."""

    id: int
    original_filename: str
    mime_type: str
    file_size: int
    sha256: str
    course: str | None
    uploaded_by: str | None
    created_at: str


def file_row(session: Session, stored: StoredFile) -> FileRow:
    from lms_core.models import User

    course = stored.course_id and session.scalar(
        select(Course.slug).where(Course.id == stored.course_id)
    )
    uploader = stored.uploaded_by_id and session.scalar(
        select(User.email).where(User.id == stored.uploaded_by_id)
    )
    return FileRow(
        id=stored.id,
        original_filename=stored.original_filename,
        mime_type=stored.mime_type,
        file_size=stored.file_size,
        sha256=stored.sha256,
        course=course or None,
        uploaded_by=uploader or None,
        created_at=stored.created_at.isoformat(),
    )


def _submission_courses(session: Session, file_id: int) -> list[tuple[Course, int]]:
    """Courses (and the learner) of the submissions a file is attached to."""
    rows = session.execute(
        select(Course, Submission.student_id)
        .join(Assignment, Assignment.course_id == Course.id)
        .join(Submission, Submission.assignment_id == Assignment.id)
        .join(submission_files, submission_files.c.submission_id == Submission.id)
        .where(submission_files.c.file_id == file_id)
    ).all()
    return [(course, student_id) for course, student_id in rows]


def _is_enrolled(session: Session, actor: Actor, course_id: int) -> bool:
    if actor.user_id is None:
        return False
    return (
        session.scalar(
            select(Enrollment.id).where(
                Enrollment.course_id == course_id,
                Enrollment.student_id == actor.user_id,
                Enrollment.status != EnrollmentStatus.dropped.value,
            )
        )
        is not None
    )


def can_download(session: Session, actor: Actor, stored: StoredFile) -> bool:
    if actor.is_admin or actor.is_user(stored.uploaded_by_id):
        return True
    if stored.course_id is not None:
        course = session.get(Course, stored.course_id)
        if course is not None and (
            can_manage_course(actor, course) or _is_enrolled(session, actor, course.id)
        ):
            return True
    return any(
        can_manage_course(actor, course) or actor.is_user(student_id)
        for course, student_id in _submission_courses(session, stored.id)
    )


def download(session: Session, *, actor: Actor, settings: Settings, file_id: int) -> Download:
    """Where the file's bytes are and the name to offer, after the role check."""
    stored = get_file(session, file_id)
    if not can_download(session, actor, stored):
        # Not found, not forbidden: whether a file id exists is not for everyone to learn.
        raise NotFound(f"no file {file_id}", field="file_id", value=file_id)
    path = blob_path(settings, stored)
    if not path.is_file():
        raise Conflict(
            f"file {file_id}'s content is missing from the files directory ({stored.file_path})",
            field="file_id",
            value=file_id,
        )
    return Download(path, stored.original_filename, stored.mime_type, stored.file_size)


def discard(session: Session, *, settings: Settings, stored: StoredFile) -> None:
    """Delete the row; its blob goes after the commit if no other row names it."""
    claim_files_dir(session, settings)  # never from another database's folder
    others = session.scalar(
        select(func.count())
        .select_from(StoredFile)
        .where(StoredFile.file_path == stored.file_path, StoredFile.id != stored.id)
    )
    path = blob_path(settings, stored)
    session.delete(stored)
    session.flush()
    if not others:
        _unlink_after_commit(session, path)


def delete_file(session: Session, *, actor: Actor, settings: Settings, file_id: int) -> StoredFile:
    stored = get_file(session, file_id)
    course = session.get(Course, stored.course_id) if stored.course_id else None
    allowed = (
        actor.is_admin
        or actor.is_user(stored.uploaded_by_id)
        or (course is not None and can_manage_course(actor, course))
    )
    if not allowed:
        if not can_download(session, actor, stored):
            raise NotFound(f"no file {file_id}", field="file_id", value=file_id)
        raise PermissionDenied(
            f"only the uploader, the course's instructor or an administrator may delete "
            f"file {file_id} (acting as {actor.label})"
        )
    attached = session.scalar(
        select(submission_files.c.submission_id).where(submission_files.c.file_id == file_id)
    )
    if attached is not None:
        raise Conflict(
            f"file {file_id} is part of submission {attached}; it goes when the learner resubmits",
            field="file_id",
            value=file_id,
        )
    before = audit.snapshot(stored, ("original_filename", "sha256", "file_size", "course_id"))
    audit.record(session, actor, "file.delete", stored, before=before)
    discard(session, settings=settings, stored=stored)
    return stored


def files_query(
    session: Session, *, actor: Actor, course_slug: str | None = None
) -> Select[StoredFile]:
    """The query behind ``list_files``, for a list or a stream (``pagination.iter_rows``)."""
    stmt = select(StoredFile).order_by(StoredFile.id)
    if course_slug:
        course = get_course(session, course_slug)
        if not (can_manage_course(actor, course) or _is_enrolled(session, actor, course.id)):
            raise PermissionDenied(
                f"only the course's instructor, its learners or an administrator may list "
                f"its files (acting as {actor.label})"
            )
        stmt = stmt.where(StoredFile.course_id == course.id)
    elif not actor.is_admin:
        managed = select(Course.id).where(Course.instructor_id == actor.user_id)
        enrolled = select(Enrollment.course_id).where(
            Enrollment.student_id == actor.user_id,
            Enrollment.status != EnrollmentStatus.dropped.value,
        )
        mine = StoredFile.uploaded_by_id == actor.user_id
        if actor.role is Role.instructor:
            stmt = stmt.where(or_(mine, StoredFile.course_id.in_(managed)))
        else:
            stmt = stmt.where(or_(mine, StoredFile.course_id.in_(enrolled)))
    return stmt


def list_files(
    session: Session, *, actor: Actor, course_slug: str | None = None
) -> list[StoredFile]:
    """Files the actor may download: admins all; others their own and their courses' material."""
    return list(session.scalars(files_query(session, actor=actor, course_slug=course_slug)))
