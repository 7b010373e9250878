"""Submissions: who may submit, late policy at submit time, resubmission, grading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from lms_core.assignments import assignments, submissions
from lms_core.assignments.fields import AssignmentCreate, SubmissionCreate, SubmissionGrade
from lms_core.assignments.files import Upload
from lms_core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from lms_core.models import LessonProgress, StoredFile, Submission
from tests.cli.helpers import db_state
from tests.helpers import as_, audit_log

DUE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@pytest.fixture
def course(make: Any, teacher: Any) -> Any:
    course = make.course(instructor=teacher, lessons=1, published=True)
    make.lesson(course, slug="essay", lesson_type="assignment")
    return course


@pytest.fixture
def student(make: Any, course: Any) -> Any:
    student = make.user()
    make.enroll(student, course)
    return student


def _create(session: Any, course: Any, **extra: Any) -> Any:
    values: dict[str, Any] = dict(
        title="Essay", due_date=DUE, max_points=10, late_penalty_percent=10
    )
    values.update(extra)
    return assignments.create_assignment(
        session,
        actor=as_(course.instructor),
        course_slug=course.slug,
        lesson_slug="essay",
        data=AssignmentCreate(**values),
    )


def _submit(session: Any, settings: Any, course: Any, student: Any, **extra: Any) -> Any:
    work = {"text": extra.pop("text", "my essay"), "files": extra.pop("files", ())}
    values: dict[str, Any] = dict(
        actor=as_(student),
        settings=settings,
        assignment=f"{course.slug}/essay",
        email=student.email,
        now=DUE - timedelta(hours=1),
    )
    values.update(extra)
    return submissions.submit(session, data=SubmissionCreate(**work), **values)


def test_a_graded_submission_completes_the_lesson_not_the_hand_in(
    session: Any, settings: Any, course: Any, student: Any
) -> None:
    a = _create(session, course)
    result = _submit(session, settings, course, student)
    assert result.outcome == "created" and result.submission.days_late == 0
    assert audit_log(session, "submission.create")[-1].entity_id == result.submission.id
    lesson = course.lessons[-1]
    assert session.query(LessonProgress).filter_by(lesson_id=lesson.id).count() == 0
    submissions.grade(
        session,
        actor=as_(course.instructor),
        assignment=str(a.id),
        email=student.email,
        data=SubmissionGrade(points=3),
    )
    assert session.query(LessonProgress).filter_by(lesson_id=lesson.id).count() == 1


def test_grading_a_dropped_learners_work_completes_nothing(
    session: Any, settings: Any, course: Any, student: Any
) -> None:
    from lms_core.catalog import enrollments

    a = _create(session, course)
    _submit(session, settings, course, student)
    enrollments.drop(session, actor=as_(student), email=student.email, course_slug=course.slug)
    submissions.grade(
        session,
        actor=as_(course.instructor),
        assignment=str(a.id),
        email=student.email,
        data=SubmissionGrade(points=9),
    )
    assert session.query(LessonProgress).count() == 0


def test_late_submission_records_started_days_and_penalises_the_final(
    session: Any, settings: Any, course: Any, student: Any
) -> None:
    a = _create(session, course)
    sub = _submit(session, settings, course, student, now=DUE + timedelta(hours=25)).submission
    assert sub.days_late == 2
    submissions.grade(
        session,
        actor=as_(course.instructor),
        assignment=str(a.id),
        email=student.email,
        data=SubmissionGrade(points=8),
    )
    [row] = submissions.list_submissions(
        session, actor=as_(course.instructor), assignment=str(a.id)
    )
    assert row["grade"] == 8.0 and row["penalty_percent"] == 20.0 and row["final"] == 6.4
    assert sub.grade == Decimal("8.00")  # stored as given; the penalty applies to the final


def test_cutoff_and_refuse_policies(session: Any, settings: Any, course: Any, student: Any) -> None:
    _create(session, course, late_cutoff=DUE + timedelta(days=1))
    with pytest.raises(Conflict, match="cut-off"):
        _submit(session, settings, course, student, now=DUE + timedelta(days=2))
    assert session.query(Submission).count() == 0
    sub = _submit(session, settings, course, student, now=DUE + timedelta(days=1)).submission
    assert sub.days_late == 1


def test_refuse_policy(session: Any, settings: Any, course: Any, student: Any) -> None:
    _create(session, course, late_policy="refuse")
    _submit(session, settings, course, student, now=DUE)
    with pytest.raises(Conflict, match="refuses late work"):
        _submit(session, settings, course, student, now=DUE + timedelta(minutes=1))


def test_resubmission_replaces_text_and_files_before_grading(
    session: Any, settings: Any, course: Any, student: Any
) -> None:
    a = _create(session, course)
    first = _submit(session, settings, course, student, files=[Upload("draft.pdf", PDF)]).submission
    old_file = first.files[0]
    second = _submit(
        session,
        settings,
        course,
        student,
        text="final essay",
        files=[Upload("final.txt", b"the final version\n")],
        now=DUE + timedelta(minutes=5),
    )
    assert second.outcome == "replaced" and second.submission.id == first.id
    assert second.submission.content == "final essay"
    assert [f.original_filename for f in second.submission.files] == ["final.txt"]
    assert second.submission.days_late == 1
    assert session.get(StoredFile, old_file.id) is None  # the replaced file is deleted
    submissions.grade(
        session,
        actor=as_(course.instructor),
        assignment=str(a.id),
        email=student.email,
        data=SubmissionGrade(points=7),
    )
    with pytest.raises(Conflict, match="resubmission is refused"):
        _submit(session, settings, course, student, text="too late")
    assert session.get(Submission, first.id).content == "final essay"


def test_who_may_submit(session: Any, settings: Any, course: Any, student: Any, make: Any) -> None:
    _create(session, course)
    with pytest.raises(PermissionDenied):
        _submit(session, settings, course, student, actor=as_(make.user()))
    stranger = make.user()
    with pytest.raises(Conflict, match="not enrolled"):
        _submit(session, settings, course, stranger, actor=as_(stranger))
    # The instructor acts for the learner.
    assert _submit(session, settings, course, student, actor=as_(course.instructor)).outcome == (
        "created"
    )


def test_empty_submission_is_refused(
    session: Any, settings: Any, course: Any, student: Any
) -> None:
    _create(session, course)
    with pytest.raises(ValidationError) as caught:
        _submit(session, settings, course, student, text="   ")
    assert caught.value.field == "text"


def test_grading_rules(session: Any, settings: Any, course: Any, student: Any, make: Any) -> None:
    a = _create(session, course)
    ref = str(a.id)
    with pytest.raises(NotFound, match="nothing to grade"):
        submissions.grade(
            session,
            actor=as_(course.instructor),
            assignment=ref,
            email=student.email,
            data=SubmissionGrade(points=5),
        )
    _submit(session, settings, course, student)
    with pytest.raises(PermissionDenied):
        submissions.grade(
            session,
            actor=as_(student),
            assignment=ref,
            email=student.email,
            data=SubmissionGrade(points=5),
        )
    for bad in ("11", "-1", "abc", "1.005"):
        with pytest.raises(ValidationError) as caught:
            submissions.grade(
                session,
                actor=as_(course.instructor),
                assignment=ref,
                email=student.email,
                data=SubmissionGrade(points=bad),
            )
        assert caught.value.field == "grade"
    sub = submissions.grade(
        session,
        actor=as_(course.instructor),
        assignment=ref,
        email=student.email,
        data=SubmissionGrade(points="9,5", feedback="Good"),
    )
    assert sub.grade == Decimal("9.50") and sub.grader_id == course.instructor.id
    entry = audit_log(session, "submission.grade")[-1]
    assert entry.after["grade"] == 9.5


def test_learners_see_only_their_own(
    session: Any, settings: Any, course: Any, student: Any, make: Any
) -> None:
    a = _create(session, course)
    other = make.user()
    make.enroll(other, course)
    _submit(session, settings, course, student)
    _submit(session, settings, course, other, actor=as_(other), email=other.email)
    rows = submissions.list_submissions(session, actor=as_(student), assignment=str(a.id))
    assert [r["email"] for r in rows] == [student.email]
    assert (
        len(
            submissions.list_submissions(
                session, actor=as_(course.instructor), assignment=str(a.id)
            )
        )
        == 2
    )


def test_one_bad_file_refuses_the_submission_and_writes_no_blob(
    session: Any, settings: Any, course: Any, student: Any, tmp_path: Any
) -> None:
    own = settings.model_copy(update={"files_dir": tmp_path / "files"})
    _create(session, course)
    with pytest.raises(ValidationError) as caught:
        _submit(
            session,
            own,
            course,
            student,
            files=[Upload("good.pdf", PDF), Upload("bad.pdf", b"MZ\x90\x00" + b"\x00" * 60)],
        )
    assert caught.value.field == "file"
    assert session.query(Submission).count() == 0 and session.query(StoredFile).count() == 0
    assert not (tmp_path / "files").exists()


def test_a_refused_attachment_is_named(
    session: Any, settings: Any, make: Any, teacher: Any
) -> None:
    course = make.course(instructor=teacher, lessons=1, published=True)
    learner = make.user(name="Ann")
    make.enroll(learner, course)
    homework = assignments.create_assignment(
        session,
        actor=as_(teacher),
        course_slug=course.slug,
        data=AssignmentCreate(title="Essay", max_points=10),
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
            data=SubmissionCreate(files=files),
        )
    assert (caught.value.field, caught.value.value) == ("file", "page.pdf")
    assert caught.value.message.startswith("page.pdf is HTML/XML markup")
    assert db_state(session) == before


def test_rows_keep_their_json_keys_in_order(
    session: Any, settings: Any, course: Any, student: Any
) -> None:
    """The typed rows are the ``--json`` contract: scripts and docs rely on these keys."""
    a = _create(session, course)
    row = assignments.assignment_row(a)
    assert list(row) == [
        "id",
        "ref",
        "course",
        "lesson",
        "title",
        "description",
        "due_date",
        "max_points",
        "late_policy",
        "late_cutoff",
        "late_penalty_percent",
    ]
    assert (row["max_points"], row["due_date"]) == (10.0, DUE.isoformat())
    sub = _submit(session, settings, course, student).submission
    assert list(submissions.submission_row(sub, a)) == [
        "id",
        "email",
        "full_name",
        "submitted_at",
        "days_late",
        "penalty_percent",
        "grade",
        "final",
        "feedback",
        "grader",
        "graded_at",
        "files",
        "text",
    ]
