"""What the assessments walkthrough (examples/assessments/walkthrough.sh) found missing, fixed.

- an instructor could not read an attempt (the essay) before ``grade-essay``: ``review_attempt``;
- a GIFT import dropped its warnings (a skipped description item) on the floor;
- ``--replace`` said "13 replaced" when two questions differ: it now names the changed ones;
- a worksheet written by a program holds formulas without results, which read as blank
  cells: the grade was silently not imported. It is refused with its place now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from lms_core.assignments import assignments, submissions
from lms_core.assignments import worksheet_import as grading_offline
from lms_core.errors import FileProblem, FileRefused, PermissionDenied
from lms_core.models import Submission
from lms_core.quizzes import attempts
from lms_core.quizzes import questions as question_service
from lms_core.quizzes.review import grade_essay, review_attempt
from tests.cli.helpers import db_state
from tests.helpers import as_
from tests.quizzes.quizkit import RIGHT, all_types, make_quiz

GIFT = """\
::one:: 2 + 2? {=4 ~3}

A description item: not a question.

::two:: Python is a snake. {T}
"""


def test_review_attempt_shows_answers_points_and_the_essay_waiting(
    session: Any, make: Any, operator: Any
) -> None:
    setup = make_quiz(session, make, operator, shuffle_options=True)
    learner = as_(setup.student)
    started = attempts.start_attempt(
        session, actor=learner, quiz_ref=setup.ref, email=setup.student.email
    )
    attempt_id = started.attempt.id
    attempts.save_answers(session, actor=learner, attempt_id=attempt_id, answers=RIGHT)
    attempts.submit_attempt(session, actor=learner, attempt_id=attempt_id)

    data = review_attempt(session, actor=as_(setup.teacher), attempt_id=attempt_id)
    assert data["attempt"]["status"] == "submitted"
    by_number = {q["number"]: q for q in data["questions"]}
    assert [q["number"] for q in data["questions"]] == list(range(1, 8))  # quiz order
    assert (by_number[1]["answer"], by_number[1]["answer_text"]) == (1, "4")  # stored index
    assert by_number[2]["answer_text"] == "2; 4"
    assert by_number[1]["points_earned"] == 1.0 and not by_number[1]["waiting"]
    essay = by_number[7]
    assert (essay["answer"], essay["points_earned"], essay["waiting"]) == ("Because.", None, True)
    assert "weight" not in repr(data)  # no key: that is `quizzes questions`

    # The learner reads their own attempt; another learner may not.
    assert review_attempt(session, actor=learner, attempt_id=attempt_id)["questions"]
    with pytest.raises(PermissionDenied):
        review_attempt(session, actor=as_(make.user("student")), attempt_id=attempt_id)

    grade_essay(
        session,
        actor=as_(setup.teacher),
        attempt_id=attempt_id,
        question_number=7,
        points="3.5",
    )
    essay = review_attempt(session, actor=as_(setup.teacher), attempt_id=attempt_id)["questions"][6]
    assert (essay["points_earned"], essay["waiting"]) == (3.5, False)


def test_parse_bank_reports_what_it_skipped() -> None:
    notes: list[FileProblem] = []
    parsed = question_service.parse_bank(GIFT.encode(), file="b.gift", fmt="gift", warnings=notes)
    assert [q.title for q in parsed] == ["one", "two"]
    (note,) = notes
    assert (note.file, note.line, note.column) == ("b.gift", 3, 1)
    assert "description item" in note.message
    # Without a list, nothing changes for the callers that do not care.
    assert len(question_service.parse_bank(GIFT.encode(), file="b.gift")) == 2


def test_replace_names_the_questions_whose_content_changed(
    session: Any, make: Any, operator: Any
) -> None:
    setup = make_quiz(session, make, operator)
    same = question_service.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=all_types(), replace=True
    )
    assert (same.updated, same.changed) == (7, [])
    fixed = all_types()
    fixed[2].correct_answer = False
    fixed[3].options = [*fixed[3].options, {"text": "Paname", "weight": 50, "feedback": None}]
    plan = question_service.import_questions(
        session,
        actor=operator,
        quiz_ref=setup.ref,
        questions=fixed,
        replace=True,
        dry_run=True,
    )
    assert (plan.updated, plan.changed) == (7, [3, 4])
    applied = question_service.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=fixed, replace=True
    )
    assert applied.changed == [3, 4]
    again = question_service.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=fixed, replace=True
    )
    assert again.changed == []


DUE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


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
        title="Essay",
        due_date=DUE,
        max_points=10,
    )
    for user in (ann, bob):
        submissions.submit(
            session,
            actor=as_(teacher),
            settings=settings,
            assignment=str(homework.id),
            email=user.email,
            text="work",
            now=DUE - timedelta(hours=1),
        )
    path = tmp_path / "w.xlsx"
    with open(path, "wb") as out:
        grading_offline.export_worksheet(
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
        return grading_offline.import_worksheet(
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


def test_a_refused_attachment_is_named(
    session: Any, settings: Any, make: Any, teacher: Any, tmp_path: Path
) -> None:
    from lms_core.assignments.files import Upload
    from lms_core.errors import ValidationError

    course = make.course(instructor=teacher, lessons=1, published=True)
    learner = make.user(name="Ann")
    make.enroll(learner, course)
    homework = assignments.create_assignment(
        session, actor=as_(teacher), course_slug=course.slug, title="Essay", max_points=10
    )
    files = [
        Upload("loops.py", b"for i in range(3):\n    print(i)\n"),
        Upload("page.pdf", b"<html><script>alert(1)</script></html>"),
    ]
    before = db_state(session)
    with pytest.raises(ValidationError) as caught:
        submissions.submit(
            session,
            actor=as_(teacher),
            settings=settings,
            assignment=str(homework.id),
            email=learner.email,
            files=files,
        )
    assert (caught.value.field, caught.value.value) == ("file", "page.pdf")
    assert caught.value.message.startswith("page.pdf is HTML/XML markup")
    assert db_state(session) == before
