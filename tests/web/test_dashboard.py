"""The dashboard (/admin/): its figures equal counts made by hand from the rows, for an
administrator (the whole school) and for an instructor (their own courses only); its SQL
does not grow with the data; learners are refused."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Connection, event, insert, select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.catalog import enrollments
from lms_core.certificates import issue
from lms_core.imports.runs import ImportOptions, import_file
from lms_core.jobs import ledger
from lms_core.models import AuditEntry, Certificate, Course, Enrollment, User, utcnow
from lms_core.settings import Settings
from tests.factories import Factories

Login = Callable[[User], FlaskClient]


def figures(client: FlaskClient) -> dict[str, int]:
    response = client.get("/admin/")
    assert response.status_code == 200
    found = re.findall(r'data-figure="([\w-]+)">(\d+)<', response.get_data(as_text=True))
    return {key: int(n) for key, n in found}


@contextmanager
def statements(connection: Connection) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", count)


def _school(
    make: Factories,
    session: Session,
    session_factory: Any,
    settings: Settings,
    operator: Actor,
    tmp_path: Path,
) -> dict[str, Any]:
    """Two instructors' courses, learners in both, completions, certificates (one issued last
    month), a job that gave up, one that will retry, and a refused import."""
    teacher, other = make.user("instructor"), make.user("instructor")
    mine = make.course(instructor=teacher, lessons=1, published=True)
    theirs = make.course(instructor=other, lessons=1, published=True)
    make.course(instructor=teacher)  # a draft
    learners = [make.user() for _ in range(4)]
    for learner in learners[:3]:
        make.enroll(learner, mine)
    for learner in learners[2:]:
        make.enroll(learner, theirs)
    enrollments.drop(session, actor=operator, email=learners[1].email, course_slug=mine.slug)
    for learner, course in ((learners[0], mine), (learners[2], mine), (learners[3], theirs)):
        enrollments.complete_lesson(
            session,
            actor=operator,
            email=learner.email,
            course_slug=course.slug,
            lesson_slug="lesson-1",
        )
    session.flush()
    for course in (mine, theirs):
        report = issue.issue_certificates(
            session_factory, actor=operator, course_slug=course.slug, settings=settings
        )
        assert report.issued
    session.expire_all()
    old = session.scalars(
        select(Certificate).join(Enrollment).where(Enrollment.student_id == learners[0].id)
    ).one()
    old.issued_at = utcnow().replace(day=1) - timedelta(days=3)  # last month
    session.flush()

    dead = ledger.enqueue(session, "maintenance.ping", {"fail": "boom"}, max_attempts=1).id
    failing = ledger.enqueue(session, "maintenance.ping", {"fail": "again"}, max_attempts=3).id
    session.commit()
    for job_id in (dead, failing):
        ledger.run_job(session_factory, settings, job_id)
    bad = tmp_path / "bad.csv"
    bad.write_text("external_id,email,full_name,role\nS-1,nope,Nope,student\n")
    import_file(
        session_factory,
        actor=operator,
        settings=settings,
        entity="users",
        path=bad,
        options=ImportOptions(),
    ).close()
    session.expire_all()
    return {"teacher": teacher, "mine": mine}


def _hand_counts(session: Session, teacher: User | None) -> dict[str, int]:
    """The dashboard's figures, counted in Python over every row (no SQL aggregates)."""
    session.expire_all()
    courses = list(session.scalars(select(Course)))
    if teacher is not None:
        courses = [c for c in courses if c.instructor_id == teacher.id]
    course_ids = {c.id for c in courses}
    rows = [e for e in session.scalars(select(Enrollment)) if e.course_id in course_ids]
    users = list(session.scalars(select(User)))
    if teacher is not None:
        seen = {e.student_id for e in rows} | {teacher.id}
        users = [u for u in users if u.id in seen]
    roles = Counter(u.role for u in users)
    enrollment_ids = {e.id for e in rows}
    start = utcnow().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    certificates = [
        c
        for c in session.scalars(select(Certificate))
        if c.enrollment_id in enrollment_ids and c.issued_at >= start
    ]
    found = {
        "users-student": roles["student"],
        "courses": len(courses),
        "active-enrollments": sum(e.status == "active" for e in rows),
        "completed-enrollments": sum(e.status == "completed" for e in rows),
        "certificates-month": len(certificates),
    }
    if teacher is None:
        from lms_core.models.jobs import Job

        jobs = list(session.scalars(select(Job)))
        found |= {
            "users-admin": roles["admin"],
            "users-instructor": roles["instructor"],
            "failed-jobs": sum(j.status == "failed" for j in jobs),
            "dead-jobs": sum(j.status == "dead" for j in jobs),
        }
    return found


def test_figures_equal_hand_counts_for_an_admin_and_an_instructor(
    logged_in: Login,
    admin_user: User,
    make: Factories,
    session: Session,
    session_factory: Any,
    settings: Settings,
    operator: Actor,
    tmp_path: Path,
) -> None:
    school = _school(make, session, session_factory, settings, operator, tmp_path)
    admin = logged_in(admin_user)
    expected = _hand_counts(session, None)
    assert expected["certificates-month"] == 2 and expected["dead-jobs"] == 1
    assert expected["failed-jobs"] == 1 and expected["completed-enrollments"] == 3
    assert figures(admin) == expected
    page = admin.get("/admin/").get_data(as_text=True)
    assert "bad.csv" in page and "refused" in page and "not a valid e-mail" in page
    assert "boom" in page

    teacher = logged_in(school["teacher"])
    expected = _hand_counts(session, school["teacher"])
    assert expected == {
        "users-student": 3,
        "courses": 2,
        "active-enrollments": 0,
        "completed-enrollments": 2,
        "certificates-month": 1,
    }
    assert figures(teacher) == expected
    page = teacher.get("/admin/").get_data(as_text=True)
    assert "bad.csv" not in page and "boom" not in page
    own = {e.actor_label for e in session.scalars(select(AuditEntry))} - {school["teacher"].email}
    assert not any(f"<td>{label}</td>" in page for label in own)


def test_sql_does_not_grow_with_the_data_and_learners_are_refused(
    logged_in: Login,
    admin_user: User,
    make: Factories,
    session: Session,
    connection: Connection,
    client: FlaskClient,
) -> None:
    assert client.get("/admin/").status_code == 302  # anonymous: to the login page
    client = logged_in(admin_user)
    course = make.course(lessons=1)
    make.enroll(make.user(), course)
    client.get("/admin/")
    with statements(connection) as small:
        client.get("/admin/")
    now = utcnow()
    session.execute(
        insert(User),
        [
            {
                "email": f"bulk{i}@x.org",
                "full_name": "B",
                "role": "student",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(300)
        ],
    )
    ids = session.scalars(select(User.id).where(User.email.like("bulk%"))).all()
    session.execute(
        insert(Enrollment),
        [
            {"student_id": i, "course_id": course.id, "created_at": now, "updated_at": now}
            for i in ids
        ],
    )
    session.flush()
    with statements(connection) as large:
        response = client.get("/admin/")
    assert len(large) == len(small), (len(small), len(large))
    assert 'data-figure="active-enrollments">301<' in response.get_data(as_text=True)

    learner = make.user("instructor")
    demoted = logged_in(learner)
    learner.role = "student"
    session.flush()
    assert demoted.get("/admin/").status_code == 403
    assert logged_in(make.user("instructor")).get("/admin/").status_code == 200
