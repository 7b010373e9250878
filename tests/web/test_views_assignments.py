"""Back office: assignments and submissions (lists, grading in place, file downloads as
attachments only) by role; each write the CLI's service and audit entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lms_core.assignments import assignments, submissions
from lms_core.assignments.fields import AssignmentCreate, SubmissionCreate
from lms_core.assignments.files import Upload
from lms_core.models import Submission
from tests.cli.helpers import audit_count
from tests.helpers import as_
from tests.web.assess_kit import follow, learner_client, state, statements, text
from tests.web.conftest import post_form

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
TEXT = b"print('hello')\n"


def _course(make: Any, teacher: Any) -> Any:
    course = make.course(instructor=teacher, lessons=1, published=True)
    make.lesson(course, slug="essay", lesson_type="assignment")
    return course


def _submit(session: Session, settings: Any, course: Any, student: Any, *files: Upload) -> Any:
    due = datetime.now(UTC) + timedelta(days=3)
    target = assignments.create_assignment(
        session,
        actor=as_(course.instructor),
        course_slug=course.slug,
        lesson_slug="essay",
        data=AssignmentCreate(title=f"Essay of {course.slug}", due_date=due, max_points=20),
    )
    result = submissions.submit(
        session,
        actor=as_(student),
        settings=settings,
        assignment=str(target.id),
        email=student.email,
        data=SubmissionCreate(text="my essay", files=list(files)),
    )
    return result.submission


@pytest.fixture
def mine(session: Session, settings: Any, make: Any, teacher: Any, learner: Any) -> Any:
    course = _course(make, teacher)
    make.enroll(learner, course)
    return _submit(
        session, settings, course, learner, Upload("report.pdf", PDF), Upload("<b>x.txt", TEXT)
    )


@pytest.fixture
def theirs(session: Session, settings: Any, make: Any) -> Any:
    other = make.user("instructor")
    course = _course(make, other)
    student = make.user()
    make.enroll(student, course)
    return _submit(session, settings, course, student, Upload("secret.pdf", PDF))


def test_who_sees_the_submission(
    logged_in: Any,
    make: Any,
    session: Session,
    admin_user: Any,
    teacher: Any,
    mine: Any,
    theirs: Any,
) -> None:
    for user in (admin_user, teacher):
        client = logged_in(user)
        assert mine.student.email in text(client.get("/admin/submission/"))
        assert mine.assignment.title in text(client.get("/admin/assignment/"))
        page = text(client.get(f"/admin/submission/details/?id={mine.id}"))
        assert "report.pdf" in page and "my essay" in page
    client = logged_in(teacher)
    assert theirs.student.email not in text(client.get("/admin/submission/"))
    assert theirs.assignment.title not in text(client.get("/admin/assignment/"))
    assert "does not exist" in follow(
        client, client.get(f"/admin/submission/details/?id={theirs.id}")
    )
    learner = learner_client(logged_in, make, session)
    for path in (
        "/admin/submission/",
        "/admin/assignment/",
        f"/admin/submission/file/?id={mine.id}&file={mine.files[0].id}",
    ):
        assert learner.get(path).status_code == 403


def test_grading_in_place_is_the_service(
    logged_in: Any, session: Session, teacher: Any, mine: Any
) -> None:
    client = logged_in(teacher)
    details = f"/admin/submission/details/?id={mine.id}"
    response = post_form(
        client,
        "/admin/submission/grade/",
        {"id": str(mine.id), "grade": "17,5", "feedback": "Good loops"},
        form_page=details,
    )
    assert f"Graded submission {mine.id} of {mine.student.email}: 17.50" in follow(client, response)
    session.expire_all()
    graded = session.get(Submission, mine.id)
    assert graded is not None and graded.grade == Decimal("17.50")
    assert graded.feedback == "Good loops" and graded.grader_id == teacher.id
    assert audit_count(session, "submission.grade") == 1


def test_a_refused_grade_changes_nothing(
    logged_in: Any, session: Session, teacher: Any, mine: Any, theirs: Any
) -> None:
    client = logged_in(teacher)
    details = f"/admin/submission/details/?id={mine.id}"
    before = state(session)
    too_high = {"id": str(mine.id), "grade": "21", "feedback": "x"}
    body = follow(
        client, post_form(client, "/admin/submission/grade/", too_high, form_page=details)
    )
    assert "grade" in body.lower() and "20" in body
    response = post_form(
        client,
        "/admin/submission/grade/",
        {"id": str(theirs.id), "grade": "1"},
        form_page=details,
    )
    assert response.status_code == 404
    assert state(session) == before


def test_files_download_as_attachments_only(
    logged_in: Any, teacher: Any, mine: Any, theirs: Any
) -> None:
    client = logged_in(teacher)
    by_name = {f.original_filename: f for f in mine.files}
    for name, data in (("report.pdf", PDF), ("<b>x.txt", TEXT)):
        response = client.get(f"/admin/submission/file/?id={mine.id}&file={by_name[name].id}")
        assert response.status_code == 200 and response.data == data
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"].startswith("sandbox")
        assert "no-store" in response.headers["Cache-Control"]
    their_file = theirs.files[0].id
    # Another course's file id, under my submission or under theirs: not found either way.
    assert client.get(f"/admin/submission/file/?id={mine.id}&file={their_file}").status_code == 404
    assert (
        client.get(f"/admin/submission/file/?id={theirs.id}&file={their_file}").status_code == 404
    )


def test_list_statements_do_not_grow_with_the_rows(
    logged_in: Any,
    connection: Any,
    session: Session,
    settings: Any,
    make: Any,
    teacher: Any,
    mine: Any,
) -> None:
    client = logged_in(teacher)
    client.get("/admin/submission/")
    with statements(connection) as few:
        assert client.get("/admin/submission/").status_code == 200
    with statements(connection) as few_assignments:
        client.get("/admin/assignment/")
    for _ in range(6):
        course = _course(make, teacher)
        student = make.user()
        make.enroll(student, course)
        _submit(session, settings, course, student, Upload("a.pdf", PDF))
    with statements(connection) as many:
        body = text(client.get("/admin/submission/"))
    assert body.count("Essay of") >= 7
    assert len(many) == len(few), many
    with statements(connection) as many_assignments:
        client.get("/admin/assignment/")
    assert len(many_assignments) == len(few_assignments)


def _new_assignment(client: Any, **fields: str) -> Any:
    data = {
        "place": "",
        "title": "Loops",
        "description": "",
        "due_date": "2026-12-01",
        "max_points": "20",
        "late_policy": "accept",
        "late_cutoff": "2026-12-04",
        "late_penalty_percent": "10",
        **fields,
    }
    return post_form(client, "/admin/assignment/new/", data, form_page="/admin/assignment/new/")


def test_an_instructor_creates_an_assignment_in_their_own_course_only(
    logged_in: Any, make: Any, session: Session, teacher: Any
) -> None:
    course = _course(make, teacher)
    other = make.course(instructor=make.user("instructor"))
    client = logged_in(teacher)
    form = text(client.get("/admin/assignment/new/"))
    assert f'value="{course.slug}/essay"' in form and f'value="{course.slug}"' in form
    assert other.slug not in form

    before = state(session)
    refused = _new_assignment(client, place=f"{course.slug}/essay", max_points="-3")
    assert refused.status_code == 200
    page = text(refused)
    assert "Points: must be more than 0" in page
    field = page[page.index('name="max_points"') :][:1500]
    assert "is-invalid" in page[: page.index('name="max_points"') + 40][-300:]
    assert "must be more than 0" in field
    assert state(session) == before
    forged = _new_assignment(client, place=other.slug)
    assert "Not a valid choice" in text(forged) and state(session) == before

    created = _new_assignment(client, place=f"{course.slug}/essay")
    assert created.status_code == 302 and "Created assignment" in follow(client, created)
    made = assignments.list_assignments(session, actor=as_(teacher))
    session.expire_all()
    assert [(a.title, int(a.max_points), a.lesson.slug) for a in made] == [("Loops", 20, "essay")]
    assert audit_count(session, "assignment.create") == 1


def test_an_administrator_of_a_large_school_reaches_every_course(
    logged_in: Any, make: Any, session: Session, admin_user: Any
) -> None:
    """Every course is offered (a list cut at 2,000 hid the rest, and a value past the list
    was refused as not a valid choice)."""
    from sqlalchemy import insert

    from lms_core.models import Course

    teacher = make.user("instructor")
    session.execute(
        insert(Course),
        [
            {"slug": f"aaa-{i:04}", "title": f"C {i}", "instructor_id": teacher.id}
            for i in range(2000)
        ],
    )
    last = make.course(instructor=teacher, slug="zzz")
    session.commit()
    client = logged_in(admin_user)
    assert 'value="zzz"' in text(client.get("/admin/assignment/new/"))
    forged = _new_assignment(client, place="zzz\x00", late_cutoff="")
    assert forged.status_code == 200 and "Not a valid choice" in text(forged)
    created = _new_assignment(client, place="zzz", late_cutoff="")
    assert created.status_code == 302 and "Created assignment" in follow(client, created)
    session.expire_all()
    assert [a.course_id for a in assignments.list_assignments(session, actor=as_(teacher))] == [
        last.id
    ]
