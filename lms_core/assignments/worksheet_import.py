"""Offline grading: a worksheet per assignment out, grades and feedback back in.

The worksheet (XLSX) has one row per learner of the course (dropped ones left out), with
``submission_id, email, full_name, submitted_at, late_days`` (locked: the sheet is protected,
only ``grade`` and ``feedback`` cells are unlocked) and a hidden ``check`` column: an HMAC
(keyed with the secret key) of the assignment id and the row's identity (submission id,
e-mail, submission time). A hidden ``about`` sheet carries the assignment id, signed the same
way. An import therefore knows which assignment the file is for, and detects a row whose
identity was edited, pasted in or belongs to another assignment, even where sheet protection
was lifted.

Import validates every row and reports every problem at once (file, spreadsheet line, column):
a grade that is not a number (``7,5`` is accepted) or outside 0..max points, more than two
decimals, a grade for a learner who has not submitted (refused: there is nothing to grade), a
grade removed, unknown or edited identity rows, duplicate rows, and rows whose learner
resubmitted after the export. Nothing is written unless the whole file is valid; then the plan
(old -> new grade and feedback) is applied in one statement, with an audit entry per change.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.assignments.assignments import assignment_ref, get_assignment
from lms_core.assignments.fields import check_feedback, check_grade
from lms_core.assignments.submissions import complete_graded_lessons
from lms_core.assignments.worksheet import (
    ABOUT,
    COLUMNS,
    EDITABLE,
    SHEET,
    roster,
    row_check,
    signature,
    unsafe_cell,
)
from lms_core.errors import FileProblem, FileRefused, Hint, HintCode, LmsError
from lms_core.models import Assignment, Submission, utcnow
from lms_core.permissions import require_course_manager
from lms_core.settings import Settings


@dataclass
class Change:
    line: int
    submission_id: int
    email: str
    old_grade: Decimal | None
    new_grade: Decimal
    old_feedback: str | None
    new_feedback: str | None

    @property
    def feedback_changed(self) -> bool:
        """Whether the feedback differs (no feedback and a blank one are the same)."""
        return (self.old_feedback or "") != (self.new_feedback or "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "submission_id": self.submission_id,
            "email": self.email,
            "old_grade": float(self.old_grade) if self.old_grade is not None else None,
            "new_grade": float(self.new_grade),
            "old_feedback": self.old_feedback,
            "new_feedback": self.new_feedback,
        }


@dataclass
class GradingPlan:
    assignment: str
    assignment_id: int
    rows: int = 0
    unchanged: int = 0
    changes: list[Change] = field(default_factory=list)
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "assignment": self.assignment,
            "rows": self.rows,
            "unchanged": self.unchanged,
            "changed": len(self.changes),
            "applied": self.applied,
            "changes": [c.as_dict() for c in self.changes],
        }


def _open(path: Path, name: str, *, formulas: bool = False) -> Any:
    from openpyxl import load_workbook

    from lms_core.formats.archive import check_archive
    from lms_core.formats.xlsx_read import NOT_A_WORKBOOK, check_extent

    # Zip bombs, two parts of one name, a stray cell at XFD1048576: refused before reading.
    check_extent(path, check_archive(path, display=name, unreadable=NOT_A_WORKBOOK), name)
    try:
        return load_workbook(path, read_only=True, data_only=not formulas)
    except OSError:
        raise
    except Exception:  # openpyxl raises many kinds (KeyError, BadZipFile...): none is news
        from lms_core.formats.xlsx_read import NOT_A_WORKBOOK

        raise FileRefused([FileProblem(NOT_A_WORKBOOK, file=name)]) from None


def _about(workbook: Any, settings: Settings, name: str) -> int:
    problem = FileProblem(
        "is not a grading worksheet exported by this toolkit (its hidden 'about' "
        "sheet is missing or was edited); export it again",
        file=name,
        hint=Hint(HintCode.export_worksheet),
    )
    if ABOUT not in workbook.sheetnames or SHEET not in workbook.sheetnames:
        raise FileRefused([problem])
    values = {
        str(row[0]): row[1]
        for row in workbook[ABOUT].iter_rows(values_only=True)
        if row and row[0] is not None and len(row) > 1
    }
    try:
        assignment_id = int(values.get("assignment_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FileRefused([problem]) from None
    if not hmac.compare_digest(
        str(values.get("signature") or ""), signature(settings, assignment_id)
    ):
        raise FileRefused([problem])
    return assignment_id


def _unsaved_formulas(
    path: Path, name: str, rows: list[Any], columns: list[tuple[str, int]]
) -> list[tuple[int, str, Any]]:
    """(line, column, formula) of each formula cell among ``columns`` that has no cached result.

    The import reads the values a spreadsheet application saved with its formulas; a file
    written by a program (openpyxl, pandas) holds formulas without results, which would read
    as blank cells and silently grade nothing. Only such cells are reported.
    """
    blanks = {
        (line, column)
        for line, raw in enumerate(rows[1:], start=2)
        for column, index in columns
        if index >= len(raw) or raw[index] is None
    }
    if not blanks:
        return []
    workbook = _open(path, name, formulas=True)
    try:
        found = []
        sheet = workbook[SHEET]
        for line, cells in enumerate(sheet.iter_rows(min_row=2), start=2):
            for column, index in columns:
                cell = cells[index] if index < len(cells) else None
                if (line, column) in blanks and getattr(cell, "data_type", None) == "f":
                    found.append((line, column, getattr(cell, "value", None)))
        return found
    finally:
        workbook.close()


def _int(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValueError(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(unsafe_cell(value)).strip()


def plan_import(
    session: Session, *, actor: Actor, settings: Settings, path: Path, name: str | None = None
) -> GradingPlan:
    """Validate a worksheet against the database; the changes it makes, or every problem."""
    name = name or str(path)
    workbook = _open(path, name)
    try:
        assignment_id = _about(workbook, settings, name)
        target = get_assignment(session, assignment_id)
        require_course_manager(actor, target.course, "grade its assignments")
        rows = list(workbook[SHEET].iter_rows(values_only=True))
    finally:
        workbook.close()
    problems: list[FileProblem] = []

    def problem(message: str, line: int | None, column: str | None, value: Any = None) -> None:
        problems.append(FileProblem(message, file=name, line=line, column=column, value=value))

    header = [_text(h) for h in (rows[0] if rows else ())]
    where = {h: i for i, h in enumerate(header) if h}
    missing = [c for c in COLUMNS if c not in where]
    if missing:
        for column in missing:
            problem("this column is missing from the header row", 1, column)
        raise FileRefused(problems)
    unsaved = _unsaved_formulas(path, name, rows, [(c, where[c]) for c in EDITABLE])
    for line, column, formula in unsaved:
        problem(
            "is a formula whose result was not saved in the file (a program wrote it, not a "
            "spreadsheet): type the value, or open and save the file in Excel or LibreOffice",
            line,
            column,
            formula,
        )
    plan = GradingPlan(assignment_ref(target), target.id)
    by_id: dict[int, Any] = {}
    by_email: dict[str, Any] = {}
    for email, _, sid, at, _, grade, feedback in roster(session, target):
        record = (sid, email, at.isoformat() if at else "", grade, feedback)
        by_email[email] = record
        if sid is not None:
            by_id[sid] = record
    seen: dict[str, int] = {}
    for offset, raw in enumerate(rows[1:], start=2):
        cells = {c: (raw[where[c]] if where[c] < len(raw) else None) for c in COLUMNS}
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells.values()):
            continue
        plan.rows += 1
        if any(line == offset for line, _, _ in unsaved):
            continue  # reported above: its blank-looking cells say nothing
        before = len(problems)
        change = _check_row(settings, target, offset, cells, by_id, by_email, seen, problem)
        if change is not None:
            plan.changes.append(change)
        elif len(problems) == before:
            plan.unchanged += 1
    if problems:
        raise FileRefused(problems)
    return plan


def _check_row(
    settings: Settings,
    target: Assignment,
    line: int,
    cells: dict[str, Any],
    by_id: dict[int, Any],
    by_email: dict[str, Any],
    seen: dict[str, int],
    problem: Any,
) -> Change | None:
    """One row: its change, or None (nothing to change, or a problem was reported)."""
    try:
        sid = _int(cells["submission_id"])
    except ValueError:
        problem("must be a whole number", line, "submission_id", cells["submission_id"])
        return None
    email, at = _text(cells["email"]).lower(), _text(cells["submitted_at"])
    record = by_id.get(sid) if sid is not None else by_email.get(email)
    if sid is not None and record is None:
        problem("no such submission for this assignment", line, "submission_id", sid)
        return None
    if record is None:
        problem("not a learner of this course", line, "email", email)
        return None
    expected = row_check(settings, target.id, sid, email, at)
    if not hmac.compare_digest(_text(cells["check"]), expected):
        if record[1] != email:
            problem(f"was edited: this row was exported for {record[1]}", line, "email", email)
        elif record[2] != at:
            problem("was edited (identity columns are locked)", line, "submitted_at", at)
        else:
            problem("identity columns were edited; export again", line, "check", cells["check"])
        return None
    # Only rows whose identity checks out count for duplicates: an edited row is reported as
    # edited, not as a duplicate of the row it now imitates.
    key = f"id:{sid}" if sid is not None else f"email:{email}"
    if key in seen:
        column = "submission_id" if sid is not None else "email"
        problem(f"duplicate of line {seen[key]}", line, column, sid or email)
        return None
    seen[key] = line
    db_sid, _, db_at, old_grade, old_feedback = record
    if sid is not None and db_at != at:
        problem(
            f"the learner resubmitted ({db_at}) after this worksheet was exported; export again",
            line,
            "submitted_at",
            at,
        )
        return None
    raw_grade, feedback = cells["grade"], _text(cells["feedback"]) or None
    blank = raw_grade is None or (isinstance(raw_grade, str) and not raw_grade.strip())
    if blank:
        if old_grade is not None:
            problem(f"a grade cannot be removed by an import (it is {old_grade:g})", line, "grade")
            return None
        if feedback and sid is not None:
            problem("feedback needs a grade", line, "grade")
            return None
        return None
    if sid is None:
        if db_sid is not None:
            problem("the learner submitted after this worksheet was exported", line, "grade")
        else:
            problem(
                f"{email} has not submitted; grading a non-submission is refused",
                line,
                "grade",
                raw_grade,
            )
        return None
    try:
        grade = check_grade(raw_grade, target.max_points)
        feedback = check_feedback(feedback)
    except LmsError as exc:
        problem(exc.message, line, exc.field, raw_grade if exc.field == "grade" else feedback)
        return None
    if grade == old_grade and (feedback or None) == (old_feedback or None):
        return None
    return Change(line, sid, email, old_grade, grade, old_feedback, feedback)


def import_worksheet(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    path: Path,
    dry_run: bool = False,
    name: str | None = None,
    now: datetime | None = None,
) -> GradingPlan:
    """Validate, then (unless ``dry_run``) apply every change at once with audit entries."""
    plan = plan_import(session, actor=actor, settings=settings, path=path, name=name)
    if dry_run or not plan.changes:
        return plan
    when = now or utcnow()
    session.execute(
        update(Submission),
        [
            {
                "id": c.submission_id,
                "grade": c.new_grade,
                "feedback": c.new_feedback,
                "grader_id": actor.user_id,
                "graded_at": when,
            }
            for c in plan.changes
        ],
    )
    for change in plan.changes:
        audit.record(
            session,
            actor,
            "submission.grade",
            _SubmissionRef(change.submission_id),
            before={"grade": _float(change.old_grade), "feedback": change.old_feedback},
            after={
                "grade": float(change.new_grade),
                "feedback": change.new_feedback,
                "via": "grading import",
            },
            flush=False,
        )
    session.flush()
    complete_graded_lessons(session, plan.assignment_id, [c.submission_id for c in plan.changes])
    session.expire_all()
    plan.applied = True
    return plan


@dataclass
class _SubmissionRef:
    """What the audit log needs of a submission updated in bulk (no ORM object is loaded)."""

    id: int
    __tablename__ = "submissions"


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None
