"""The enrollments view: own courses only for instructors, filters by course slug and status
in SQL, drop through the service (the CLI's audit entry), refusals that change nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from lms_core.models import Enrollment, User
from tests.factories import Factories
from tests.web.views_support import act, audit, flashes, page_statements, seed_users

Login = Callable[[User], FlaskClient]


def test_instructor_sees_only_their_courses_enrollments(logged_in: Login, make: Factories) -> None:
    mine, theirs = make.user("instructor"), make.user("instructor")
    my_course = make.course(instructor=mine, lessons=1, published=True, slug="my-course")
    their_course = make.course(instructor=theirs, lessons=1, published=True, slug="their-course")
    mine_row = make.enroll(make.user("student"), my_course)
    their_row = make.enroll(make.user("student"), their_course)
    client = logged_in(mine)
    page = client.get("/admin/enrollment/").get_data(as_text=True)
    assert mine_row.student.email in page and their_row.student.email not in page
    assert client.get(f"/admin/enrollment/details/?id={mine_row.id}").status_code == 200
    refused = client.get(f"/admin/enrollment/details/?id={their_row.id}", follow_redirects=True)
    assert "Record does not exist" in flashes(refused)
    assert their_row.student.email not in refused.get_data(as_text=True)
    export = client.get("/admin/enrollment/export.csv").get_data(as_text=True)
    assert mine_row.student.email in export and their_row.student.email not in export


def test_admin_filters_by_course_slug_and_status(
    logged_in: Login, make: Factories, session: Session
) -> None:
    a = make.course(lessons=1, published=True, slug="alpha")
    b = make.course(lessons=1, published=True, slug="beta")
    in_a, in_b = make.user("student"), make.user("student")
    make.enroll(in_a, a)
    make.enroll(in_b, b).status = "dropped"
    session.flush()
    client = logged_in(make.user("admin"))
    full = client.get("/admin/enrollment/").get_data(as_text=True)
    assert in_a.email in full and in_b.email in full
    by_course = client.get("/admin/enrollment/", query_string={"flt0_0": "alpha"})
    text = by_course.get_data(as_text=True)
    assert in_a.email in text and in_b.email not in text
    by_status = client.get("/admin/enrollment/", query_string={"flt0_1": "dropped"})
    text = by_status.get_data(as_text=True)
    assert in_a.email not in text and in_b.email in text


def test_same_instant_enrollments_are_newest_id_first(
    logged_in: Login, make: Factories, session: Session
) -> None:
    """An import's enrollments share their transaction's timestamp: the id decides, so a
    page shows the same rows in the same order on every request (and pages never overlap)."""
    course = make.course(lessons=1, published=True, slug="same-instant")
    rows = [make.enroll(make.user("student"), course) for _ in range(4)]
    instant = rows[0].enrolled_at
    for row in rows:
        row.enrolled_at = instant
    session.flush()
    client = logged_in(make.user("admin"))
    page = client.get("/admin/enrollment/", query_string={"flt0_0": "same-instant"})
    text = page.get_data(as_text=True)
    shown = sorted((text.index(r.student.email), r.id) for r in rows)
    assert [row_id for _, row_id in shown] == sorted((r.id for r in rows), reverse=True)
    unknown = client.get("/admin/enrollment/", query_string={"flt0_0": "no-such-course"})
    assert not any(r.student.email in unknown.get_data(as_text=True) for r in rows)


def test_learners_are_refused(logged_in: Login, make: Factories, session: Session) -> None:
    user = make.user("instructor")
    client = logged_in(user)
    user.role = "student"
    session.flush()
    for path in ("/admin/enrollment/", "/admin/enrollment/enroll/?user=1"):
        assert client.get(path).status_code == 403, path


def test_drop_action_changes_the_rows_and_audits_as_the_cli(
    logged_in: Login, make: Factories, session: Session
) -> None:
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=1, published=True, slug="drop-me")
    first = make.enroll(make.user("student", email="a@drop.example"), course)
    second = make.enroll(make.user("student", email="b@drop.example"), course)
    client = logged_in(teacher)
    response = act(client, "enrollment", "drop", [first.id, second.id])
    assert (
        "Dropped 2 enrollments: a@drop.example from drop-me, b@drop.example from drop-me."
        in flashes(response)
    )
    session.refresh(first)
    session.refresh(second)
    assert first.status == second.status == "dropped" and first.dropped_at is not None
    entry = audit(session, "enrollment.drop", first.id)[-1]
    assert entry.actor_id == teacher.id and entry.after is not None
    assert entry.after["status"] == "dropped"


def test_a_refused_drop_changes_nothing(
    logged_in: Login, make: Factories, session: Session
) -> None:
    course = make.course(lessons=1, published=True, slug="half")
    active = make.enroll(make.user("student"), course)
    dropped = make.enroll(make.user("student"), course)
    dropped.status = "dropped"
    session.flush()
    client = logged_in(make.user("admin"))
    response = act(client, "enrollment", "drop", [active.id, dropped.id])
    assert f"{dropped.student.email} already dropped half" in flashes(response)
    session.refresh(active)
    assert active.status == "active" and audit(session, "enrollment.drop") == []


def test_export_is_formula_safe(logged_in: Login, make: Factories) -> None:
    course = make.course(lessons=1, published=True, slug="csv-course")
    make.enroll(make.user("student", email="+cmd@x.example"), course)
    client = logged_in(make.user("admin"))
    response = client.get("/admin/enrollment/export.csv")
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert set(rows[0]) >= {"student.email", "course.slug", "status"}
    row = next(r for r in rows if r["course.slug"] == "csv-course")
    assert row["student.email"] != "+cmd@x.example"
    assert row["student.email"].endswith("+cmd@x.example")


def test_list_statements_do_not_grow_with_page_size(
    logged_in: Login, make: Factories, session: Session, connection: Connection
) -> None:
    course = make.course(lessons=1, published=True, slug="crowded")
    ids = seed_users(session, 505, prefix="enr")
    session.execute(
        insert(Enrollment),
        [{"student_id": i, "course_id": course.id, "status": "active"} for i in ids],
    )
    session.expire_all()
    assert session.scalar(select(Enrollment.id).where(Enrollment.course_id == course.id))
    client = logged_in(make.user("admin"))
    small, large = page_statements(client, connection, "/admin/enrollment/")
    assert small == large
    filtered = page_statements(client, connection, "/admin/enrollment/?flt0_0=crowded")
    assert filtered[0] == filtered[1]
