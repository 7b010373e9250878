"""Offline grading: worksheet export -> edit in a spreadsheet -> import, and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from lms_core.assignments import assignments, submissions, worksheet, worksheet_import
from lms_core.assignments.fields import AssignmentCreate, SubmissionCreate, SubmissionGrade
from lms_core.errors import FileRefused
from lms_core.models import Enrollment, Submission
from tests.cli.helpers import audit_count, db_state
from tests.helpers import as_, audit_log

DUE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def setup(session: Any, settings: Any, make: Any, teacher: Any) -> dict[str, Any]:
    course = make.course(instructor=teacher, lessons=1, published=True)
    people = {
        "ann": make.user(name="Ann On-time"),
        "bob": make.user(name="Bob Late"),
        "cat": make.user(name="Cat Nothing"),
        "eve": make.user(name="=cmd|' /C calc'!A0"),
    }
    for user in people.values():
        make.enroll(user, course)
    a = assignments.create_assignment(
        session,
        actor=as_(teacher),
        course_slug=course.slug,
        data=AssignmentCreate(title="Essay", due_date=DUE, max_points=10, late_penalty_percent=10),
    )
    for key, when in (("ann", DUE), ("bob", DUE + timedelta(hours=3)), ("eve", DUE)):
        submissions.submit(
            session,
            actor=as_(teacher),
            settings=settings,
            assignment=str(a.id),
            email=people[key].email,
            now=when,
            data=SubmissionCreate(text=f"work of {key}"),
        )
    return {"assignment": a, "teacher": teacher, **people}


def _export(session: Any, settings: Any, setup: dict[str, Any], path: Path) -> Path:
    with open(path, "wb") as out:
        count = worksheet.export_worksheet(
            session,
            actor=as_(setup["teacher"]),
            settings=settings,
            assignment=str(setup["assignment"].id),
            out=out,
        )
    assert count == 4
    return path


def _edit(
    path: Path, edits: dict[str, dict[str, Any]], extra: list[list[Any]] = ()
) -> dict[str, int]:
    """Set cells by learner e-mail and column name; returns each e-mail's line."""
    book = load_workbook(path)
    sheet = book["grades"]
    header = [c.value for c in sheet[1]]
    lines = {}
    for row in sheet.iter_rows(min_row=2):
        email = row[header.index("email")].value
        lines[email] = row[0].row
        for column, value in edits.get(email, {}).items():
            row[header.index(column)].value = value
    for values in extra:
        sheet.append(values)
    book.save(path)
    return lines


def _import(session: Any, settings: Any, setup: dict[str, Any], path: Path, **kw: Any) -> Any:
    return worksheet_import.import_worksheet(
        session, actor=as_(setup["teacher"]), settings=settings, path=path, name="grades.xlsx", **kw
    )


def test_grades_imported_complete_the_assignment_lesson(
    session: Any, settings: Any, make: Any, teacher: Any, tmp_path: Path
) -> None:
    """A graded submission completes its assignment lesson, in a grading import too (set-based):
    the graded learner's progress moves, the ungraded one's does not."""
    course = make.course(instructor=teacher, lessons=1, published=True)
    make.lesson(course, slug="essay", lesson_type="assignment")
    graded, waiting = make.user(), make.user()
    for user in (graded, waiting):
        make.enroll(user, course)
    a = assignments.create_assignment(
        session,
        actor=as_(teacher),
        course_slug=course.slug,
        lesson_slug="essay",
        data=AssignmentCreate(title="Essay", max_points=10),
    )
    for user in (graded, waiting):
        submissions.submit(
            session,
            actor=as_(user),
            settings=settings,
            assignment=str(a.id),
            email=user.email,
            data=SubmissionCreate(text="work"),
        )
    setup = {"assignment": a, "teacher": teacher}
    path = tmp_path / "w.xlsx"
    with open(path, "wb") as out:
        worksheet.export_worksheet(
            session, actor=as_(teacher), settings=settings, assignment=str(a.id), out=out
        )
    _edit(path, {graded.email: {"grade": 6}})

    assert _import(session, settings, setup, path).applied

    progress = {
        e.student.email: e.progress_percentage
        for e in session.query(Enrollment).filter_by(course_id=course.id)
    }
    assert progress == {graded.email: Decimal("50.00"), waiting.email: Decimal("0.00")}


def test_worksheet_layout(
    session: Any, settings: Any, setup: dict[str, Any], tmp_path: Path
) -> None:
    path = _export(session, settings, setup, tmp_path / "w.xlsx")
    book = load_workbook(path)
    sheet = book["grades"]
    assert [c.value for c in sheet[1]] == list(worksheet.COLUMNS)
    assert sheet.protection.sheet and sheet.column_dimensions["H"].hidden
    assert book["about"].sheet_state == "hidden"
    rows = {r[1]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows[setup["bob"].email][4] == 1  # late days
    assert rows[setup["cat"].email][0] is None  # no submission
    names = [r[2] for r in rows.values()]
    assert "'=cmd|' /C calc'!A0" in names  # formula neutralised
    row2 = sheet[2]
    assert row2[0].protection.locked and not row2[5].protection.locked
    assert not row2[6].protection.locked


def test_round_trip_applies_grades_with_audit(
    session: Any, settings: Any, setup: dict[str, Any], tmp_path: Path
) -> None:
    path = _export(session, settings, setup, tmp_path / "w.xlsx")
    ann, bob = setup["ann"].email, setup["bob"].email
    _edit(path, {ann: {"grade": 9, "feedback": "Great"}, bob: {"grade": "7,5"}})
    dry = _import(session, settings, setup, path, dry_run=True)
    assert not dry.applied and [c.email for c in dry.changes] == [ann, bob]
    assert session.query(Submission).filter(Submission.grade.is_not(None)).count() == 0
    plan = _import(session, settings, setup, path)
    assert plan.applied and plan.unchanged == 2 and plan.rows == 4
    graded = {s.student.email: s for s in session.query(Submission).all()}
    assert graded[ann].grade == Decimal("9.00") and graded[ann].feedback == "Great"
    assert graded[bob].grade == Decimal("7.50") and graded[bob].grader_id == setup["teacher"].id
    entries = audit_log(session, "submission.grade")
    assert {e.entity_id for e in entries} == {graded[ann].id, graded[bob].id}
    assert entries[-1].after["via"] == "grading import"
    # Exported again, the grades are there, and importing that unchanged file changes nothing.
    again = _export(session, settings, setup, tmp_path / "again.xlsx")
    plan = _import(session, settings, setup, again)
    assert plan.changes == [] and plan.unchanged == 4
    # A regrade by import shows old -> new.
    _edit(again, {ann: {"grade": 8}})
    [change] = _import(session, settings, setup, again).changes
    assert (change.old_grade, change.new_grade) == (Decimal("9.00"), Decimal("8"))


def _refused(
    session: Any, settings: Any, setup: dict[str, Any], path: Path
) -> list[dict[str, Any]]:
    before, audits = db_state(session), audit_count(session)
    with pytest.raises(FileRefused) as caught:
        _import(session, settings, setup, path)
    assert db_state(session) == before and audit_count(session) == audits
    return [e.as_dict() for e in caught.value.errors]


def test_every_bad_row_is_reported_with_line_and_column(
    session: Any, settings: Any, setup: dict[str, Any], tmp_path: Path
) -> None:
    path = _export(session, settings, setup, tmp_path / "w.xlsx")
    ann, bob, cat, eve = (setup[k].email for k in ("ann", "bob", "cat", "eve"))
    book = load_workbook(path)
    [duplicate] = [
        [c.value for c in row] for row in book["grades"].iter_rows(min_row=2) if row[1].value == ann
    ]
    lines = _edit(
        path,
        {
            ann: {"grade": 11},
            bob: {"grade": "seven"},
            cat: {"grade": 5},
            eve: {"email": "someone@else.example"},
        },
        extra=[duplicate],
    )
    errors = _refused(session, settings, setup, path)
    got = {(e["line"], e["column"]): e for e in errors}
    assert got[(lines[ann], "grade")]["message"] == "must be from 0 to 10"
    assert got[(lines[ann], "grade")]["value"] == 11
    assert got[(lines[bob], "grade")]["message"] == "must be a number"
    assert "grading a non-submission is refused" in got[(lines[cat], "grade")]["message"]
    assert "this row was exported for" in got[(lines[eve], "email")]["message"]
    assert got[(6, "submission_id")]["message"] == f"duplicate of line {lines[ann]}"
    assert all(e["file"] == "grades.xlsx" for e in errors)
    assert len(errors) == 5


def test_unknown_submission_id(
    session: Any, settings: Any, setup: dict[str, Any], tmp_path: Path
) -> None:
    path = _export(session, settings, setup, tmp_path / "w.xlsx")
    lines = _edit(path, {setup["ann"].email: {"submission_id": 999999, "grade": 5}})
    [error] = _refused(session, settings, setup, path)
    assert (error["line"], error["column"]) == (lines[setup["ann"].email], "submission_id")
    assert error["message"] == "no such submission for this assignment"


def test_identity_edits_are_caught_even_unprotected(
    session: Any, settings: Any, setup: dict[str, Any], tmp_path: Path
) -> None:
    path = _export(session, settings, setup, tmp_path / "w.xlsx")
    ann, bob = setup["ann"], setup["bob"]
    bob_id = submissions.find_submission(session, setup["assignment"].id, bob.id).id
    # Ann's row re-pointed at Bob's submission (the e-mail left as is).
    lines = _edit(path, {ann.email: {"submission_id": bob_id, "grade": 10}})
    [error] = _refused(session, settings, setup, path)
    assert (error["line"], error["column"]) == (lines[ann.email], "email")


def test_resubmission_after_export_is_refused(
    session: Any, settings: Any, setup: dict[str, Any], tmp_path: Path
) -> None:
    path = _export(session, settings, setup, tmp_path / "w.xlsx")
    submissions.submit(
        session,
        actor=as_(setup["ann"]),
        settings=settings,
        assignment=str(setup["assignment"].id),
        email=setup["ann"].email,
        now=DUE - timedelta(minutes=1),
        data=SubmissionCreate(text="better"),
    )
    lines = _edit(path, {setup["ann"].email: {"grade": 6}})
    [error] = _refused(session, settings, setup, path)
    assert (error["line"], error["column"]) == (lines[setup["ann"].email], "submitted_at")
    assert "resubmitted" in error["message"]


def test_not_a_worksheet(
    session: Any, settings: Any, setup: dict[str, Any], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a workbook")
    [error] = _refused(session, settings, setup, junk)
    assert error["line"] is None and "not a readable .xlsx workbook" in error["message"]
    path = _export(session, settings, setup, tmp_path / "w.xlsx")
    book = load_workbook(path)
    book["about"]["B1"] = setup["assignment"].id + 1  # pointed at another assignment
    book.save(path)
    [error] = _refused(session, settings, setup, path)
    assert "not a grading worksheet" in error["message"]


def test_removing_a_grade_is_refused(
    session: Any, settings: Any, setup: dict[str, Any], tmp_path: Path
) -> None:
    submissions.grade(
        session,
        actor=as_(setup["teacher"]),
        assignment=str(setup["assignment"].id),
        email=setup["ann"].email,
        data=SubmissionGrade(points=8),
    )
    path = _export(session, settings, setup, tmp_path / "w.xlsx")
    lines = _edit(path, {setup["ann"].email: {"grade": None}})
    [error] = _refused(session, settings, setup, path)
    assert (error["line"], error["column"]) == (lines[setup["ann"].email], "grade")


def test_grading_import_refuses_formulas_without_a_saved_result(
    session: Any, settings: Any, make: Any, teacher: Any, tmp_path: Path
) -> None:
    course = make.course(instructor=teacher, lessons=1, published=True)
    ann, bob = make.user(name="Ann"), make.user(name="Bob")
    for user in (ann, bob):
        make.enroll(user, course)
    homework = assignments.create_assignment(
        session,
        actor=as_(teacher),
        course_slug=course.slug,
        data=AssignmentCreate(title="Essay", due_date=DUE, max_points=10),
    )
    for user in (ann, bob):
        submissions.submit(
            session,
            actor=as_(teacher),
            settings=settings,
            assignment=str(homework.id),
            email=user.email,
            now=DUE - timedelta(hours=1),
            data=SubmissionCreate(text="work"),
        )
    path = tmp_path / "w.xlsx"
    with open(path, "wb") as out:
        worksheet.export_worksheet(
            session, actor=as_(teacher), settings=settings, assignment=str(homework.id), out=out
        )
    # What a script (openpyxl, pandas) writes: formulas, and no cached results.
    book = load_workbook(path)
    sheet = book["grades"]
    header = [c.value for c in sheet[1]]
    lines = {}
    for row in sheet.iter_rows(min_row=2):
        email = row[header.index("email")].value
        lines[email] = row[0].row
        if email == ann.email:
            row[header.index("grade")].value = "=9*0.9"
        else:
            row[header.index("grade")].value = 7
            row[header.index("feedback")].value = '="see me"'
    book.save(path)

    def run(**kw: Any) -> Any:
        return worksheet_import.import_worksheet(
            session, actor=as_(teacher), settings=settings, path=path, name="w.xlsx", **kw
        )

    before = db_state(session)
    with pytest.raises(FileRefused) as refused:
        run()
    found = [(p.line, p.column, p.value) for p in refused.value.errors]
    assert found == [
        (lines[ann.email], "grade", "=9*0.9"),
        (lines[bob.email], "feedback", '="see me"'),
    ]
    assert "type the value, or open and save" in refused.value.errors[0].message
    assert db_state(session) == before

    # Typed values import as before.
    book = load_workbook(path)
    sheet = book["grades"]
    sheet.cell(lines[ann.email], header.index("grade") + 1).value = 8.1
    sheet.cell(lines[bob.email], header.index("feedback") + 1).value = "see me"
    book.save(path)
    plan = run()
    assert plan.applied and len(plan.changes) == 2
    grades = {s.student.email: (s.grade, s.feedback) for s in session.query(Submission)}
    assert grades == {ann.email: (Decimal("8.10"), None), bob.email: (Decimal("7.00"), "see me")}


def test_a_change_counts_feedback_as_changed_only_when_its_text_differs() -> None:
    from lms_core.assignments.worksheet_import import Change

    def change(old: str | None, new: str | None) -> Change:
        return Change(2, 1, "ann@example.org", None, Decimal(5), old, new)

    assert not change(None, None).feedback_changed
    assert not change(None, "").feedback_changed  # blank is no feedback
    assert not change("ok", "ok").feedback_changed
    assert change(None, "good").feedback_changed and change("ok", "good").feedback_changed
