"""Typed-in addresses never crash the back office: ids, filters and page numbers.

Anybody can edit an address bar. An id that is not a number ("abc"), a digit ``int`` refuses
("²"), a number beyond a 64-bit integer (SQLite raises OverflowError, PostgreSQL "out of
range"), a NUL (PostgreSQL refuses it in a string literal) must each end in "Record does not
exist", a 404 or a flashed error: never a 500. The sweep is built from the app's own views,
filters and actions, so a view added later is swept too.

Also here: the import page serves each errors file of an upload (``errors.lessons.csv`` of a
courses import too) and nothing else by name, and the anonymous PDF check of ``/verify``
opens no write-locking request session.
"""

from __future__ import annotations

import io
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_admin.contrib.sqla import ModelView
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.models import Course, Question, User
from lms_core.settings import Settings
from tests.factories import Factories
from tests.web.assess_kit import text
from tests.web.conftest import csrf_token

#: What a hand-edited address holds instead of an id (2**63: one past the largest id).
HOSTILE = ["abc", "²", "9" * 25, str(2**63), "-1", "0", "", "\x00x"]

#: Routes of the custom pages that read an id-like parameter: path -> parameters to spoil.
CUSTOM_GETS = {
    "/admin/course/lessons/": ("id",),
    "/admin/certificate/pdf/": ("id",),
    "/admin/certificate/revoke/": ("id",),
    "/admin/certificate/issue/": ("course",),
    "/admin/submission/file/": ("id", "file"),
    "/admin/attempt/regrade/": ("quiz",),
    "/admin/enrollment/enroll/": ("user",),
    "/admin/lesson/new/": ("course",),
}


def model_views(app: Flask) -> list[ModelView]:
    admin = app.extensions["admin"][0]
    return [v for v in admin._views if isinstance(v, ModelView)]


def get_paths(app: Flask, value: str, course: Course) -> Iterator[str]:
    """Every GET address to try with ``value`` in an id-like place."""
    v = quote(value)
    for view in model_views(app):
        base = view.url.rstrip("/")
        yield f"{base}/?page={v}&page_size={v}&sort={v}"
        spoiled = [f"flt{n}_{arg}={v}" for n, arg in enumerate(view._filter_args or {})]
        yield f"{base}/?" + "&".join([f"search={v}", *spoiled])
        yield f"{base}/details/?id={v}"
        yield f"{base}/edit/?id={v}"
    for path, params in CUSTOM_GETS.items():
        for param in params:
            yield f"{path}?{param}={v}"
    # a well-formed id, with the second parameter spoiled
    yield f"/admin/submission/file/?id={course.id}&file={v}"
    yield f"/admin/importrun/undo/{v}"
    yield f"/admin/import/plan/{v}"
    yield f"/admin/import/plan/{'0' * 32}/{v}"


def post_paths(app: Flask, value: str, course: Course) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every POST to try: each action of each view on a spoiled row id, and the forms that
    take an id or a number."""
    for view in model_views(app):
        for name, _text in view._actions:
            yield f"{view.url.rstrip('/')}/action/", {"action": name, "rowid": [value]}
    yield f"/admin/course/lessons/?id={course.id}", {"move": "lesson-1", "to": value}
    yield "/admin/attempt/grade-essay/", {"id": value, "question": value, "points": "1"}
    yield "/admin/submission/grade/", {"id": value, "grade": "1"}
    yield f"/admin/job/retry/{quote(value)}", {}
    yield f"/admin/job/cancel/{quote(value)}", {}
    yield f"/admin/importrun/undo/{quote(value)}", {}


def status(client: FlaskClient, method: str, path: str, **kw: Any) -> int | str:
    """The response's status, or the exception a crashing view raised (TESTING propagates)."""
    try:
        return client.open(path, method=method, **kw).status_code
    except Exception as exc:  # the failure to report, whatever it is
        return f"{type(exc).__name__}: {str(exc)[:120]}"


@pytest.fixture(params=["admin", "instructor"])
def staff(request: pytest.FixtureRequest, make: Factories) -> tuple[User, Course]:
    """An administrator or an instructor, and a course of theirs (two lessons)."""
    user = make.user(request.param)
    teacher = user if request.param == "instructor" else make.user("instructor")
    return user, make.course(instructor=teacher, lessons=2)


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v))
def test_a_typed_in_id_never_crashes_a_page(
    app: Flask,
    logged_in: Callable[[User], FlaskClient],
    staff: tuple[User, Course],
    value: str,
) -> None:
    user, course = staff
    client = logged_in(user)
    token = csrf_token(client, "/admin/course/")
    crashed = []
    for path in get_paths(app, value, course):
        got = status(client, "GET", path)
        if not isinstance(got, int) or got >= 500:
            crashed.append(f"GET {path}: {got}")
    for path, data in post_paths(app, value, course):
        got = status(client, "POST", path, data={**data, "csrf_token": token})
        if not isinstance(got, int) or got >= 500:
            crashed.append(f"POST {path} {data}: {got}")
    assert not crashed, "\n".join(crashed)


def test_a_spoiled_details_id_says_record_does_not_exist(
    logged_in: Callable[[User], FlaskClient], admin_user: User
) -> None:
    client = logged_in(admin_user)
    for value in ("abc", "²", "9" * 25):
        page = client.get(f"/admin/course/details/?id={quote(value)}", follow_redirects=True)
        assert page.status_code == 200
        assert "Record does not exist." in page.get_data(as_text=True)
    assert client.get(f"/admin/certificate/pdf/?id={'9' * 25}").status_code == 404


def test_a_spoiled_filter_value_matches_no_row(
    logged_in: Callable[[User], FlaskClient],
    admin_user: User,
    session: Session,
    make: Factories,
    operator: Actor,
) -> None:
    """The quiz filter of the questions list: "²" or a 25-digit number lists nothing (the
    filter is applied, not dropped: dropping it would list every question)."""
    from tests.quizzes.quizkit import make_quiz

    setup = make_quiz(session, make, operator)
    first = session.scalars(
        select(Question.question_text)
        .where(Question.quiz_id == setup.quiz.id)
        .order_by(Question.order_index)
    ).first()
    assert first
    client = logged_in(admin_user)
    assert first in text(client.get(f"/admin/question/?flt0_0={setup.quiz.id}"))
    for value in ("²", "9" * 25):
        page = client.get(f"/admin/question/?flt0_0={quote(value)}")
        assert page.status_code == 200
        assert first not in text(page), value


# --- the import page's errors files ----------------------------------------------------------


def test_a_courses_import_offers_the_lessons_errors_file_too(
    logged_in: Callable[[User], FlaskClient],
    admin_user: User,
    make: Factories,
    settings: Settings,
) -> None:
    teacher = make.user("instructor")
    client = logged_in(admin_user)
    courses = f"slug,title,instructor_email\nintro,Intro,{teacher.email}\n"
    lessons = (
        "course_slug,slug,title,lesson_type,duration_minutes\nintro,setup,Setup,NOT-A-TYPE,5\n"
    )
    response = client.post(
        "/admin/import/",
        data={
            "kind": "courses",
            "mode": "upsert",
            "file": (io.BytesIO(courses.encode()), "c.csv"),
            "lessons": (io.BytesIO(lessons.encode()), "l.csv"),
            "csrf_token": csrf_token(client, "/admin/import/"),
        },
        content_type="multipart/form-data",
    )
    plan = response.headers["Location"]
    page = client.get(plan).get_data(as_text=True)
    links = re.findall(r'href="([^"]*/plan/[0-9a-f]{32}/errors[^"]*)"', page)
    assert [link.rsplit("/", 1)[1] for link in links] == ["errors.csv", "errors.lessons.csv"]
    lessons_file = client.get(links[1])
    assert lessons_file.status_code == 200
    assert "attachment" in lessons_file.headers["Content-Disposition"]
    assert "c-errors.lessons.csv" in lessons_file.headers["Content-Disposition"]
    assert "NOT-A-TYPE" in lessons_file.get_data(as_text=True)
    assert "NOT-A-TYPE" not in client.get(links[0]).get_data(as_text=True)
    # only errors files are served by name: not the report, nor a path, nor another case
    for name in ("report.json", "plan.json", "errors.CSV", "errors.x.y.csv", "..%2ferrors.csv"):
        assert client.get(f"{plan}/{name}").status_code == 404, name


# --- /verify/<number>: the anonymous PDF check takes no write lock ---------------------------


def test_the_pdf_check_answers_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    """The request's own session takes SQLite's write lock on every POST
    (:func:`admin_ui.db.request_session`); an anonymous upload must neither queue behind a
    real writer nor block one, so the check reads through a session of its own. A SQLite
    file of the test's own, whatever database the suite runs on."""
    from admin_ui.app import EXTENSION, create_app
    from tests.conftest import cheap_settings, reset_schema

    db = tmp_path / "web.db"
    settings = cheap_settings(f"sqlite:///{db}", tmp_path / "files", sqlite_busy_timeout_ms=300)
    app = create_app(settings)
    app.config["TESTING"] = True
    try:
        reset_schema(app.extensions[EXTENSION].engine)
        client = app.test_client()
        token = csrf_token(client)  # one token per browser session (the login form's)
        writer = sqlite3.connect(db, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            response = client.post(
                "/verify/LMS-7K4F-9QX2-H",
                data={"csrf_token": token, "pdf": (io.BytesIO(b"%PDF-1.4 forged"), "c.pdf")},
                content_type="multipart/form-data",
            )
            assert response.status_code == 404  # nobody issued that number
            assert time.monotonic() - started < 0.3  # not the busy timeout's wait
            empty = client.post("/verify/LMS-7K4F-9QX2-H", data={"csrf_token": token})
            assert empty.status_code == 400
        finally:
            writer.execute("ROLLBACK")
            writer.close()
    finally:
        app.extensions[EXTENSION].dispose()
