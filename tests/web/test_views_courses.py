"""The courses and lessons views: own courses only for instructors, service-backed writes
with the CLI's audit entries, publish/unpublish, lesson order, refusals that change nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from lms_core.models import Course, Lesson, User, utcnow
from tests.factories import Factories
from tests.web.conftest import csrf_token
from tests.web.views_support import act, audit, flashes, page_statements, seed_users

Login = Callable[[User], FlaskClient]


def course_form(**values: str) -> dict[str, str]:
    base = {
        "slug": "",
        "title": "",
        "description": "",
        "instructor_email": "",
        "category": "",
        "difficulty_level": "beginner",
        "thumbnail_url": "",
        "estimated_duration_minutes": "",
        "external_id": "",
        "certificate_min_grade": "",
    }
    return {**base, **values}


def test_instructor_sees_and_opens_only_their_courses(logged_in: Login, make: Factories) -> None:
    mine, theirs = make.user("instructor"), make.user("instructor")
    own = make.course(instructor=mine, lessons=2, slug="mine-101")
    other = make.course(instructor=theirs, lessons=1, slug="theirs-101")
    make.enroll(make.user("student"), make.course(instructor=mine, lessons=1, published=True))
    client = logged_in(mine)
    page = client.get("/admin/course/").get_data(as_text=True)
    assert "mine-101" in page and "theirs-101" not in page and mine.email in page
    for path in ("details", "edit"):
        assert client.get(f"/admin/course/{path}/?id={own.id}").status_code == 200
        refused = client.get(f"/admin/course/{path}/?id={other.id}", follow_redirects=True)
        assert "Record does not exist" in flashes(refused)
        assert "theirs-101" not in refused.get_data(as_text=True)
    refused = client.get(f"/admin/course/lessons/?id={other.id}", follow_redirects=True)
    assert "Record does not exist" in flashes(refused)
    lessons = client.get("/admin/lesson/").get_data(as_text=True)
    assert "mine-101" in lessons and "theirs-101" not in lessons
    their_lesson = other.lessons[0]
    refused = client.get(f"/admin/lesson/edit/?id={their_lesson.id}", follow_redirects=True)
    assert "Record does not exist" in flashes(refused)


def test_admin_sees_every_course_with_enrollment_counts(logged_in: Login, make: Factories) -> None:
    course = make.course(lessons=1, published=True, slug="counted")
    for _ in range(3):
        make.enroll(make.user("student"), course)
    client = logged_in(make.user("admin"))
    page = client.get("/admin/course/?search=counted").get_data(as_text=True)
    assert "counted" in page and ">3<" in page.replace(" ", "").replace("\n", "")
    assert client.get(f"/admin/course/details/?id={course.id}").status_code == 200


def test_learners_are_refused(logged_in: Login, make: Factories, session: Session) -> None:
    user = make.user("instructor")
    course = make.course(instructor=user, lessons=1)
    client = logged_in(user)
    user.role = "student"
    session.flush()
    for path in ("/admin/course/", f"/admin/course/lessons/?id={course.id}", "/admin/lesson/"):
        assert client.get(path).status_code == 403, path


def test_instructor_creates_a_course_for_themselves(
    logged_in: Login, make: Factories, session: Session
) -> None:
    teacher = make.user("instructor")
    client = logged_in(teacher)
    response = client.post(
        "/admin/course/new/",
        data={
            "csrf_token": csrf_token(client, "/admin/course/new/"),
            **course_form(slug="fresh-101", title="Fresh", estimated_duration_minutes="90"),
        },
        follow_redirects=True,
    )
    assert "Created course fresh-101" in flashes(response)
    course = session.scalars(select(Course).where(Course.slug == "fresh-101")).one()
    assert course.instructor_id == teacher.id and course.estimated_duration_minutes == 90
    assert len(audit(session, "course.create", course.id)) == 1


def test_instructor_cannot_create_a_course_for_someone_else(
    logged_in: Login, make: Factories, session: Session
) -> None:
    teacher, other = make.user("instructor"), make.user("instructor")
    client = logged_in(teacher)
    response = client.post(
        "/admin/course/new/",
        data={
            "csrf_token": csrf_token(client, "/admin/course/new/"),
            **course_form(slug="stolen", title="Stolen", instructor_email=other.email),
        },
        follow_redirects=True,
    )
    assert "instructors can only create courses they teach themselves" in flashes(response)
    assert session.scalar(select(func.count()).where(Course.slug == "stolen")) == 0


def test_edit_sends_only_the_changed_fields(
    logged_in: Login, make: Factories, session: Session
) -> None:
    course = make.course(lessons=1, slug="edit-me", category="math")
    client = logged_in(make.user("admin"))
    path = f"/admin/course/edit/?id={course.id}"
    page = client.get(path).get_data(as_text=True)
    assert course.instructor.email in page  # prefilled
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            **course_form(
                slug="edit-me",
                title="New title",
                category="math",
                instructor_email=course.instructor.email,
                certificate_min_grade="0",
            ),
        },
        follow_redirects=True,
    )
    assert "Saved course edit-me" in flashes(response)
    session.refresh(course)
    assert course.title == "New title"
    assert audit(session, "course.update", course.id)[-1].after == {"title": "New title"}


def test_delete_refused_with_enrollments_then_allowed(
    logged_in: Login, make: Factories, session: Session
) -> None:
    busy = make.course(lessons=1, published=True, slug="busy")
    make.enroll(make.user("student"), busy)
    empty = make.course(lessons=1, slug="empty")
    empty_id = empty.id
    client = logged_in(make.user("admin"))

    def delete(course: Course) -> str:
        token = csrf_token(client, "/admin/course/")
        data = {"csrf_token": token, "id": str(course.id), "url": ""}
        return flashes(client.post("/admin/course/delete/", data=data, follow_redirects=True))

    assert "course busy has 1 enrollment(s); confirm to delete them too" in delete(busy)
    assert session.get(Course, busy.id) is not None and audit(session, "course.delete") == []
    assert "Deleted course empty" in delete(empty)
    session.expire_all()
    assert session.get(Course, empty_id) is None
    assert len(audit(session, "course.delete", empty_id)) == 1


def test_publish_and_unpublish_actions(logged_in: Login, make: Factories, session: Session) -> None:
    teacher = make.user("instructor")
    a = make.course(instructor=teacher, lessons=1, slug="a-course")
    b = make.course(instructor=teacher, lessons=1, slug="b-course")
    bare = make.course(instructor=teacher, slug="bare")
    client = logged_in(teacher)
    response = act(client, "course", "publish", [b.id, a.id])
    assert "Published 2 courses: a-course, b-course." in flashes(response)
    session.refresh(a)
    session.refresh(b)
    assert a.is_published and b.is_published
    assert len(audit(session, "course.publish")) == 2
    # A course without lessons is refused, and the course selected with it stays as it was.
    response = act(client, "course", "unpublish", [a.id])
    assert "Unpublished 1 course: a-course." in flashes(response)
    response = act(client, "course", "publish", [a.id, bare.id])
    assert "course bare has no lessons; add at least one before publishing" in flashes(response)
    session.refresh(a)
    session.refresh(bare)
    assert not a.is_published and not bare.is_published
    assert len(audit(session, "course.publish")) == 2


def test_another_instructors_course_is_not_acted_on(
    logged_in: Login, make: Factories, session: Session
) -> None:
    theirs = make.course(lessons=1, slug="not-yours")
    client = logged_in(make.user("instructor"))
    response = act(client, "course", "publish", [theirs.id])
    assert "No course selected that you may change" in flashes(response)
    session.refresh(theirs)
    assert not theirs.is_published


def test_lessons_page_reorders_with_the_service(
    logged_in: Login, make: Factories, session: Session
) -> None:
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=3, slug="ordered")
    client = logged_in(teacher)
    path = f"/admin/course/lessons/?id={course.id}"
    page = client.get(path).get_data(as_text=True)
    assert page.index("lesson-1") < page.index("lesson-2") < page.index("lesson-3")
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "move": "lesson-3", "to": "up"},
        follow_redirects=True,
    )
    assert "Moved lesson lesson-3 of ordered to position 2." in flashes(response)
    order = list(
        session.scalars(
            select(Lesson.slug).where(Lesson.course_id == course.id).order_by(Lesson.order_index)
        )
    )
    assert order == ["lesson-1", "lesson-3", "lesson-2"]
    entry = audit(session, "course.reorder_lessons", course.id)[-1]
    assert entry.after == {"order": order}
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "move": "lesson-1", "to": "up"},
        follow_redirects=True,
    )
    assert "Lesson lesson-1 cannot move there." in flashes(response)
    assert len(audit(session, "course.reorder_lessons", course.id)) == 1


def test_lesson_add_update_delete(logged_in: Login, make: Factories, session: Session) -> None:
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=2, slug="with-lessons")
    client = logged_in(teacher)
    new = f"/admin/lesson/new/?course={course.slug}"
    assert 'selected value="with-lessons"' in client.get(new).get_data(as_text=True)
    data = {
        "course": course.slug,
        "slug": "intro",
        "title": "Intro",
        "lesson_type": "text",
        "content": "",
        "duration_minutes": "5",
        "video_url": "",
        "is_required": "y",
        "position": "1",
    }
    response = client.post(
        new, data={"csrf_token": csrf_token(client, new), **data}, follow_redirects=True
    )
    assert "Created lesson with-lessons/intro" in flashes(response)
    lesson = session.scalars(select(Lesson).where(Lesson.slug == "intro")).one()
    assert lesson.order_index == 1 and len(audit(session, "lesson.add", lesson.id)) == 1
    edit = f"/admin/lesson/edit/?id={lesson.id}"
    data = {**data, "title": "Welcome"}
    data.pop("course"), data.pop("position")
    response = client.post(
        edit, data={"csrf_token": csrf_token(client, edit), **data}, follow_redirects=True
    )
    assert "Saved lesson with-lessons/intro" in flashes(response)
    assert audit(session, "lesson.update", lesson.id)[-1].after == {"title": "Welcome"}
    token = csrf_token(client, "/admin/lesson/")
    response = client.post(
        "/admin/lesson/delete/",
        data={"csrf_token": token, "id": str(lesson.id), "url": ""},
        follow_redirects=True,
    )
    assert "Deleted lesson with-lessons/intro" in flashes(response)
    assert len(audit(session, "lesson.delete", lesson.id)) == 1
    order = session.scalars(select(Lesson.order_index).where(Lesson.course_id == course.id))
    assert sorted(order) == [1, 2]


def test_lesson_into_another_instructors_course_is_refused(
    logged_in: Login, make: Factories, session: Session
) -> None:
    make.course(lessons=1, slug="foreign")
    client = logged_in(make.user("instructor"))
    new = "/admin/lesson/new/"
    response = client.post(
        new,
        data={
            "csrf_token": csrf_token(client, new),
            "course": "foreign",
            "slug": "sneaky",
            "title": "Sneaky",
            "lesson_type": "text",
        },
        follow_redirects=True,
    )
    assert "may add lessons" in flashes(response)
    assert session.scalar(select(func.count()).where(Lesson.slug == "sneaky")) == 0


def test_export_is_formula_safe(logged_in: Login, make: Factories) -> None:
    make.course(lessons=1, slug="formula", title="@SUM(A1:A9)")
    client = logged_in(make.user("admin"))
    response = client.get("/admin/course/export.csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    row = next(r for r in rows if r["slug"] == "formula")
    assert row["title"] != "@SUM(A1:A9)" and row["title"].endswith("@SUM(A1:A9)")
    assert "password_hash" not in rows[0] and "instructor.email" in rows[0]


def test_list_statements_do_not_grow_with_page_size(
    logged_in: Login, make: Factories, session: Session, connection: Connection
) -> None:
    """Courses (each with its own instructor, and enrollment counts) and lessons (each in
    its own course): a relation loaded row by row would show as more statements."""
    teachers = seed_users(session, 505, prefix="teacher")
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now}
    session.execute(
        insert(Course),
        [
            {"slug": f"bulk-{i:04d}", "title": f"Bulk {i}", "instructor_id": t, **stamps}
            for i, t in enumerate(teachers)
        ],
    )
    courses = list(session.scalars(select(Course.id).where(Course.slug.like("bulk-%"))))
    make.enroll(make.user("student"), session.get(Course, courses[0]))  # a count on the page
    session.execute(
        insert(Lesson),
        [{"course_id": c, "slug": "l1", "title": "L", "order_index": 1, **stamps} for c in courses],
    )
    session.expire_all()
    client = logged_in(make.user("admin"))
    small, large = page_statements(client, connection, "/admin/course/")
    assert small == large
    small, large = page_statements(client, connection, "/admin/lesson/")
    assert small == large
