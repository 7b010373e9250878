"""The offline grading worksheet: what it holds, how its rows are signed, and its export.

One row per learner of the course (dropped ones left out): ``submission_id, email, full_name,
submitted_at, late_days`` are locked (the sheet is protected), ``grade`` and ``feedback``
unlocked. A hidden ``check`` column holds an HMAC, keyed with the secret key, of the
assignment id and the row's identity; a hidden ``about`` sheet holds the assignment id, signed
the same way. :mod:`lms_core.assignments.worksheet_import` reads it back.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.assignments.assignments import assignment_ref, get_assignment
from lms_core.formats.safe_cells import plain_cell, safe_cell
from lms_core.models import Assignment, Enrollment, EnrollmentStatus, Submission, User, utcnow
from lms_core.permissions import require_course_manager
from lms_core.settings import Settings

COLUMNS = (
    "submission_id",
    "email",
    "full_name",
    "submitted_at",
    "late_days",
    "grade",
    "feedback",
    "check",
)
EDITABLE = ("grade", "feedback")
#: What a worksheet can be written as: XLSX only (locked cells, a hidden signed sheet), so that
#: ``grading import`` can trust what comes back.
FORMATS = ("xlsx",)
SHEET, ABOUT = "grades", "about"


def _key(settings: Settings) -> bytes:
    return settings.secret_key.get_secret_value().encode()


def row_check(settings: Settings, assignment_id: int, sid: int | None, email: str, at: str) -> str:
    message = f"{assignment_id}|{sid or ''}|{email}|{at}".encode()
    return hmac.new(_key(settings), message, hashlib.sha256).hexdigest()[:20]


def signature(settings: Settings, assignment_id: int) -> str:
    message = f"lms-grading-worksheet|{assignment_id}".encode()
    return hmac.new(_key(settings), message, hashlib.sha256).hexdigest()[:32]


def unsafe_cell(value: Any) -> Any:
    """Undo ``safe_cell``: ``'=x`` read back is the text ``=x`` that was exported."""
    return plain_cell(value) if isinstance(value, str) else value


def roster(session: Session, assignment: Assignment) -> list[tuple[Any, ...]]:
    """(email, full_name, submission id, submitted_at, days_late, grade, feedback) per learner."""
    stmt = (
        select(
            User.email,
            User.full_name,
            Submission.id,
            Submission.submitted_at,
            Submission.days_late,
            Submission.grade,
            Submission.feedback,
        )
        .select_from(Enrollment)
        .join(User, User.id == Enrollment.student_id)
        .outerjoin(
            Submission,
            (Submission.student_id == Enrollment.student_id)
            & (Submission.assignment_id == assignment.id),
        )
        .where(
            Enrollment.course_id == assignment.course_id,
            Enrollment.status != EnrollmentStatus.dropped.value,
        )
        .order_by(User.full_name, User.email)
    )
    return [tuple(row) for row in session.execute(stmt)]


def export_worksheet(
    session: Session, *, actor: Actor, settings: Settings, assignment: str, out: IO[bytes]
) -> int:
    """Write the grading worksheet of an assignment; returns the number of learner rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, Protection

    target = get_assignment(session, assignment)
    require_course_manager(actor, target.course, "grade its assignments")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET)
    sheet.column_dimensions["H"].hidden = True
    for letter, width in zip("ABCDEFG", (14, 32, 28, 26, 10, 10, 60), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    sheet.protection.sheet = True
    header = []
    for name in COLUMNS:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    count = 0
    for email, name, sid, at, late, grade, feedback in roster(session, target):
        stamp = at.isoformat() if at else ""
        editable = []
        for value in (float(grade) if grade is not None else None, safe_cell(feedback)):
            cell = WriteOnlyCell(sheet, value=value)
            cell.protection = Protection(locked=False)
            editable.append(cell)
        sheet.append(
            [
                sid,
                safe_cell(email),
                safe_cell(name),
                stamp or None,
                late if sid else None,
                *editable,
                row_check(settings, target.id, sid, email, stamp),
            ]
        )
        count += 1
    about = workbook.create_sheet(ABOUT)
    about.sheet_state = "hidden"
    for pair in (
        ("assignment_id", target.id),
        ("assignment", safe_cell(assignment_ref(target))),
        ("title", safe_cell(target.title)),
        ("max_points", float(target.max_points)),
        ("exported_at", utcnow().isoformat()),
        ("signature", signature(settings, target.id)),
    ):
        about.append(list(pair))
    workbook.save(out)
    return count
