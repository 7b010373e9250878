"""Export users, courses (with lessons) and enrollments in the import templates' columns.

An export is the starting point of a bulk edit: open it in a spreadsheet, change it, import
it again (``lmsctl import users FILE``) and only the edited rows change. So the columns are
exactly the import columns (``lms_core.imports.columns``), passwords never leave (no
``password`` column, no hash), and soft-deleted users are left out.

Rows stream from a server-side cursor (``yield_per``) selecting plain columns (no ORM objects,
no identity map) into the streaming writers of ``lms_core.formats.tabular``: 50 rows or 5
million, the memory is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from lms_core.accounts.fields import USER
from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.errors import HintCode, PermissionDenied, ValidationError, hint
from lms_core.exports.files import write_table, write_workbook
from lms_core.formats.table import XLSX_CELL_LIMIT
from lms_core.formats.tabular import FORMATS, Sheet
from lms_core.imports.columns import (
    COURSE_COLUMNS,
    ENROLLMENT_COLUMNS,
    LESSON_COLUMNS,
)
from lms_core.imports.resolve import field_columns
from lms_core.models import Course, Enrollment, Lesson, User
from lms_core.models.enrollments import EnrollmentStatus
from lms_core.models.users import Role
from lms_core.permissions import require_admin, require_course_manager
from lms_core.validation import parse_choice

#: Rows fetched from the cursor at a time.
BATCH = 2000
ENTITIES = ("users", "courses", "enrollments")
#: The users columns of an export: the import columns without ``password`` (the field spec's).
EXPORT_USER_COLUMNS = USER.exported_columns()

#: Called with (sheet name, rows written so far).
Progress = Callable[[str, int], None]


@dataclass
class ExportResult:
    entity: str
    format: str
    #: Rows written per sheet (``users``; ``courses`` and ``lessons``; ``enrollments``).
    rows: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "format": self.format,
            "file": self.files[0] if self.files else None,
            "files": self.files,
            "rows": sum(self.rows.values()),
            "sheets": self.rows,
        }


def _stream(session: Session, stmt: Executable) -> Iterator[tuple[Any, ...]]:
    for row in session.execute(stmt.execution_options(yield_per=BATCH)):
        yield tuple(row)


def user_rows(
    session: Session, *, actor: Actor, role: str | None = None, include_inactive: bool = False
) -> Iterator[tuple[Any, ...]]:
    """Users by e-mail, in EXPORT_USER_COLUMNS; active only unless ``include_inactive``."""
    require_admin(actor, "export users")
    stmt = (
        select(*field_columns(User, EXPORT_USER_COLUMNS, {}))
        .where(User.deleted_at.is_(None))
        .order_by(User.email)
    )
    if role:
        stmt = stmt.where(User.role == parse_choice(Role, role, field="role").value)
    if not include_inactive:
        stmt = stmt.where(User.is_active.is_(True))
    return _stream(session, stmt)


def _course_scope(session: Session, actor: Actor, course_slug: str | None, what: str) -> list[Any]:
    """WHERE clauses limiting courses to those the actor manages (and to one, if named)."""
    where: list[Any] = []
    if course_slug:
        course = get_course(session, course_slug)
        require_course_manager(actor, course, what)
        where.append(Course.id == course.id)
    elif not actor.is_admin:
        if actor.role is not Role.instructor or actor.user_id is None:
            raise PermissionDenied(
                f"only an administrator or an instructor may {what} (acting as {actor.label})"
            )
        where.append(Course.instructor_id == actor.user_id)
    return where


def course_rows(session: Session, where: list[Any]) -> Iterator[tuple[Any, ...]]:
    stmt = (
        select(*field_columns(Course, COURSE_COLUMNS, {"instructor_email": User.email}))
        .join(User, Course.instructor_id == User.id)
        .where(*where)
        .order_by(Course.slug)
    )
    return _stream(session, stmt)


def lesson_rows(session: Session, where: list[Any]) -> Iterator[tuple[Any, ...]]:
    stmt = (
        select(*field_columns(Lesson, LESSON_COLUMNS, {"course_slug": Course.slug}))
        .join(Course, Lesson.course_id == Course.id)
        .where(*where)
        .order_by(Course.slug, Lesson.order_index)
    )
    return _stream(session, stmt)


def enrollment_rows(
    session: Session, where: list[Any], *, include_inactive: bool = False
) -> Iterator[tuple[Any, ...]]:
    """Enrollments of users not deleted, by course then e-mail; dropped ones only on request."""
    stmt = (
        select(
            *field_columns(
                Enrollment,
                ENROLLMENT_COLUMNS,
                {
                    "user_email": User.email,
                    "user_external_id": User.external_id,
                    "course_slug": Course.slug,
                    "course_external_id": Course.external_id,
                },
            )
        )
        .join(User, Enrollment.student_id == User.id)
        .join(Course, Enrollment.course_id == Course.id)
        .where(User.deleted_at.is_(None), *where)
        .order_by(Course.slug, User.email)
    )
    if not include_inactive:
        stmt = stmt.where(Enrollment.status != EnrollmentStatus.dropped.value)
    return _stream(session, stmt)


def _sheets(
    session: Session,
    *,
    actor: Actor,
    entity: str,
    role: str | None,
    course_slug: str | None,
    include_inactive: bool,
    xlsx: bool,
) -> list[Sheet]:
    """The sheets of an export; permissions are checked here, before any file is opened."""
    if entity == "users":
        if course_slug:
            raise ValidationError(
                "a course applies to courses and enrollments, not to users",
                field="course",
                value=course_slug,
                hint=hint(HintCode.leave_out, field="course"),
            )
        rows = user_rows(session, actor=actor, role=role, include_inactive=include_inactive)
        return [Sheet("users", EXPORT_USER_COLUMNS, rows)]
    if role:
        raise ValidationError(
            "a role applies to users only",
            field="role",
            value=role,
            hint=hint(HintCode.leave_out, field="role"),
        )
    if entity == "courses":
        where = _course_scope(session, actor, course_slug, "export courses")
        if xlsx:
            _refuse_longer_than_xlsx(session, where)
        return [
            Sheet("courses", COURSE_COLUMNS, course_rows(session, where)),
            Sheet("lessons", LESSON_COLUMNS, lesson_rows(session, where)),
        ]
    if entity == "enrollments":
        where = _course_scope(session, actor, course_slug, "export enrollments")
        rows = enrollment_rows(session, where, include_inactive=include_inactive)
        return [Sheet("enrollments", ENROLLMENT_COLUMNS, rows)]
    raise ValidationError(f"must be one of {', '.join(ENTITIES)}", field="entity", value=entity)


def _refuse_longer_than_xlsx(session: Session, where: list[Any]) -> None:
    """Refuse an XLSX export of a lesson whose content is longer than an XLSX cell holds.

    openpyxl would cut it at 32,767 characters without a word, and the cut text, imported
    again, would replace the whole one. Checked before any file is opened; a lesson's content
    is the only exported field that long (a test holds it to the field specs).
    """
    length = func.length(Lesson.content)
    stmt = (
        select(Course.slug, Lesson.slug, length)
        .join(Course, Lesson.course_id == Course.id)
        .where(*where, length > XLSX_CELL_LIMIT)
        .order_by(Course.slug, Lesson.order_index)
        .limit(1)
    )
    found = session.execute(stmt).first()
    if found is not None:
        course_slug, slug, size = found
        raise ValidationError(
            f"lesson {slug} of course {course_slug}: its content is {size:,} characters long "
            f"and an XLSX cell holds {XLSX_CELL_LIMIT:,}; export the courses as CSV",
            field="format",
            value="xlsx",
        )


def export(
    session: Session,
    *,
    actor: Actor,
    entity: str,
    fmt: str,
    out: Path | TextIO | BinaryIO,
    lessons_out: Path | None = None,
    role: str | None = None,
    course_slug: str | None = None,
    include_inactive: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Write ``entity`` to ``out`` in ``fmt``; the rows written per sheet.

    CSV goes to a path (UTF-8 with a BOM, for Excel) or to a text stream (standard output,
    no BOM); a courses CSV holds the courses, and their lessons go to ``lessons_out`` if given.
    XLSX goes to a path or binary stream, one sheet per table. Paths are written atomically.
    Reads only: the caller's unit of work may be read-only.
    """
    if fmt not in FORMATS:
        raise ValidationError("must be csv or xlsx", field="format", value=fmt)
    if lessons_out is not None and (entity != "courses" or fmt != "csv"):
        raise ValidationError(
            "a separate lessons file goes with a courses CSV export (XLSX has a lessons sheet)",
            field="lessons_out",
            value=str(lessons_out),
            hint=hint(HintCode.leave_out, field="lessons_out"),
        )
    sheets = _sheets(
        session,
        actor=actor,
        entity=entity,
        role=role,
        course_slug=course_slug,
        include_inactive=include_inactive,
        xlsx=fmt == "xlsx",
    )
    result = ExportResult(entity=entity, format=fmt)

    def tick(name: str) -> Callable[[int], None] | None:
        return None if progress is None else (lambda n: progress(name, n))

    result.files = [str(p) for p in (out, lessons_out) if isinstance(p, Path)]
    if fmt == "xlsx":
        binary: Any = out  # a path, or the binary stream the caller gave
        counts = write_workbook(binary, sheets, progress=tick(entity))
        result.rows = {s.name: n for s, n in zip(sheets, counts, strict=True)}
        return result
    targets: list[tuple[Sheet, Path | TextIO | BinaryIO]] = [(sheets[0], out)]
    if lessons_out is not None:
        targets.append((sheets[1], lessons_out))
    for sheet, target in targets:
        stream: Any = target  # a path, or the text stream the caller gave (standard output)
        result.rows[sheet.name] = write_table(stream, sheet, progress=tick(sheet.name))
    return result
