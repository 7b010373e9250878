"""Gradebook: columns, final scores, the course total, streaming exports, formula safety."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from lms_core.assignments import assignments, gradebook, submissions
from lms_core.assignments.fields import AssignmentCreate, SubmissionCreate, SubmissionGrade
from lms_core.errors import PermissionDenied, ValidationError
from tests.helpers import as_
from tests.quizzes.quizkit import add_attempt, add_quiz

DUE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def book(session: Any, settings: Any, make: Any, teacher: Any) -> dict[str, Any]:
    """A course with two quizzes (one practice), one assignment, and three learners."""
    course = make.course(instructor=teacher, lessons=1, published=True)
    q1 = add_quiz(session, make, course, "basics", grading_method="highest")
    q2 = add_quiz(session, make, course, "drill", quiz_type="practice")
    a = assignments.create_assignment(
        session,
        actor=as_(teacher),
        course_slug=course.slug,
        data=AssignmentCreate(title="Essay", due_date=DUE, max_points=20, late_penalty_percent=10),
    )
    ann = make.user(name="Ann")
    evil = make.user(name="=cmd|' /C calc'!A0")
    cat = make.user(name="Cat")
    enrollments = {u.email: make.enroll(u, course) for u in (ann, evil, cat)}
    add_attempt(session, q1, enrollments[ann.email], 1, "60")
    add_attempt(session, q1, enrollments[ann.email], 2, "90")
    add_attempt(session, q1, enrollments[ann.email], 3, "0", status="in_progress")
    add_attempt(session, q2, enrollments[ann.email], 1, "50")
    add_attempt(session, q1, enrollments[evil.email], 1, "40")
    for user, when, points in ((ann, DUE, 16), (evil, DUE + timedelta(hours=2), 20)):
        submissions.submit(
            session,
            actor=as_(teacher),
            settings=settings,
            assignment=str(a.id),
            email=user.email,
            now=when,
            data=SubmissionCreate(text="w"),
        )
        submissions.grade(
            session,
            actor=as_(teacher),
            assignment=str(a.id),
            email=user.email,
            data=SubmissionGrade(points=points),
        )
    return {"course": course, "teacher": teacher, "ann": ann, "evil": evil, "cat": cat}


def _rows(
    session: Any, book: dict[str, Any], chunk: int = 1000
) -> tuple[list[str], dict[str, list[Any]]]:
    header, rows = gradebook.gradebook(
        session, actor=as_(book["teacher"]), course_slug=book["course"].slug, chunk=chunk
    )
    return header, {r[0]: list(r) for r in rows}


@pytest.mark.parametrize("chunk", [1, 1000])
def test_columns_scores_and_total(session: Any, book: dict[str, Any], chunk: int) -> None:
    header, rows = _rows(session, book, chunk)
    assert header == [
        "email",
        "full_name",
        "Basics (%)",
        "Drill (%)",
        "Essay (/20)",
        "total",
        "progress_percentage",
        "status",
        "completed_at",
    ]
    ann = rows[book["ann"].email]
    # Highest graded attempt 90; practice quiz shown but not counted; essay 16/20 on time.
    assert ann[2:6] == [90.0, 50.0, 16.0, 85.0]  # (90 + 80) / 2
    evil = rows[book["evil"].email]
    # 20 points, 1 day late at 10% a day: 18/20 = 90 %; total (40 + 90) / 2.
    assert evil[2:6] == [40.0, None, 18.0, 65.0]
    cat = rows[book["cat"].email]
    assert cat[2:6] == [None, None, None, 0.0]  # nothing graded counts 0


def test_course_grades_match_the_totals(session: Any, book: dict[str, Any]) -> None:
    _, rows = _rows(session, book)
    from lms_core.models import Enrollment

    enrollments = session.query(Enrollment).filter_by(course_id=book["course"].id).all()
    grades = gradebook.course_grades(session, book["course"].id, [e.id for e in enrollments])
    for e in enrollments:
        assert float(grades[e.id]) == rows[e.student.email][5]


def test_csv_export_neutralises_formulas(session: Any, book: dict[str, Any]) -> None:
    out = io.StringIO()
    count = gradebook.export_gradebook(
        session, actor=as_(book["teacher"]), course_slug=book["course"].slug, fmt="csv", out=out
    )
    assert count == 3
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    names = [r[1] for r in rows[1:]]
    assert "'=cmd|' /C calc'!A0" in names
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_xlsx_export_neutralises_formulas(
    session: Any, book: dict[str, Any], tmp_path: Any
) -> None:
    path = tmp_path / "book.xlsx"
    with open(path, "wb") as out:
        gradebook.export_gradebook(
            session,
            actor=as_(book["teacher"]),
            course_slug=book["course"].slug,
            fmt="xlsx",
            out=out,
        )
    sheet = load_workbook(path).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert "'=cmd|' /C calc'!A0" in [c.value for c in cells]
    assert [c.value for c in sheet[1]][:3] == ["email", "full_name", "Basics (%)"]


def test_roles_and_format(session: Any, book: dict[str, Any]) -> None:
    with pytest.raises(PermissionDenied):
        gradebook.gradebook(session, actor=as_(book["ann"]), course_slug=book["course"].slug)
    with pytest.raises(ValidationError):
        gradebook.export_gradebook(
            session,
            actor=as_(book["teacher"]),
            course_slug=book["course"].slug,
            fmt="ods",
            out=io.StringIO(),
        )


def test_grading_methods_latest_first_average(session: Any, make: Any, teacher: Any) -> None:
    course = make.course(instructor=teacher, lessons=1, published=True)
    quizzes = {
        m: add_quiz(session, make, course, f"q-{m}", grading_method=m)
        for m in ("latest", "first", "average")
    }
    learner = make.user()
    enrollment = make.enroll(learner, course)
    for quiz in quizzes.values():
        for number, score in ((1, "50"), (2, "80"), (3, "71")):
            add_attempt(session, quiz, enrollment, number, score)
    _, rows = _rows(session, {"teacher": teacher, "course": course})
    row = rows[learner.email]
    assert row[2:5] == [71.0, 50.0, 67.0]
    assert row[5] == 62.67  # (71 + 50 + 67) / 3


def test_quiz_finals_agree_with_final_scores(session: Any, make: Any, teacher: Any) -> None:
    """The gradebook's chunked final scores follow the same rules as quizzes.final_scores."""
    import random

    from lms_core.quizzes.final_scores import final_scores

    rng = random.Random(7)  # noqa: S311 - test data, not a secret
    course = make.course(instructor=teacher, lessons=1, published=True)
    quizzes = [
        add_quiz(session, make, course, f"m-{m}", grading_method=m)
        for m in ("highest", "latest", "first", "average")
    ]
    enrollments = [make.enroll(make.user(), course) for _ in range(6)]
    for quiz in quizzes:
        for enrollment in enrollments:
            for number in range(1, rng.randrange(1, 5)):
                status = "graded" if rng.random() < 0.8 else "submitted"
                score = f"{rng.randrange(0, 10001) / 100:.2f}"
                add_attempt(session, quiz, enrollment, number, score, status=status)
    ids = [e.id for e in enrollments]
    expected = final_scores(session, [q.id for q in quizzes], ids)
    _, rows = _rows(session, {"teacher": teacher, "course": course})
    got = {
        (quiz.id, enrollment.id): Decimal(str(score)).quantize(Decimal("0.01"))
        for enrollment in enrollments
        for quiz, score in zip(quizzes, rows[enrollment.student.email][2:6], strict=True)
        if score is not None
    }
    assert got == expected


def test_progress_is_reported_per_chunk(session: Any, book: dict[str, Any]) -> None:
    seen: list[int] = []
    gradebook.export_gradebook(
        session,
        actor=as_(book["teacher"]),
        course_slug=book["course"].slug,
        fmt="csv",
        out=io.StringIO(),
        chunk=2,
        progress=seen.append,
    )
    assert seen == [2, 3]
    assert gradebook.learner_count(session, book["course"].slug) == 3


def test_halves_round_up_exactly(session: Any, make: Any, teacher: Any) -> None:
    """60.005 is 60.01 (half up, as Decimal), though no float holds 60.005 exactly."""
    course = make.course(instructor=teacher, lessons=1, published=True)
    first = add_quiz(session, make, course, "first")
    mean = add_quiz(session, make, course, "mean", grading_method="average")
    learner = make.user()
    enrollment = make.enroll(learner, course)
    add_attempt(session, first, enrollment, 1, "60.01")
    add_attempt(session, mean, enrollment, 1, "60.00")
    add_attempt(session, mean, enrollment, 2, "60.01")
    _, rows = _rows(session, {"teacher": teacher, "course": course})
    assert rows[learner.email][2:5] == [60.01, 60.01, 60.01]  # mean 60.005; total 60.01
    grades = gradebook.course_grades(session, course.id, [enrollment.id])
    assert grades == {enrollment.id: Decimal("60.01")}


def test_totals_beyond_the_sql_limit_are_computed_alike(
    session: Any, book: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A course whose max points make the common denominator huge totals in Python: same."""
    _, in_sql = _rows(session, book)
    monkeypatch.setattr(gradebook, "_SQL_TOTAL_LIMIT", 0)
    _, in_python = _rows(session, book)
    assert in_python == in_sql
    from lms_core.models import Enrollment

    ids = [e.id for e in session.query(Enrollment).filter_by(course_id=book["course"].id)]
    assert gradebook.course_grades(session, book["course"].id, ids)[ids[0]] == Decimal("85.00")


def test_completed_at_is_iso_8601_in_utc(session: Any, book: dict[str, Any]) -> None:
    from lms_core.models import Enrollment

    enrollment = session.query(Enrollment).filter_by(student_id=book["ann"].id).one()
    enrollment.status = "completed"
    enrollment.completed_at = datetime(2026, 5, 1, 9, 30, 15, 123456, tzinfo=UTC)
    session.flush()
    _, rows = _rows(session, book)
    assert rows[book["ann"].email][-2:] == ["completed", "2026-05-01T09:30:15.123456+00:00"]
