"""The API keeps the catalog pages and outlines it answered, against the catalog's stamp: it
answers one again without reading courses, and a committed change (a course, a lesson, an
instructor's e-mail) is in the very next answer. On a database of the test's own: only a
real commit stamps on PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

from admin_ui.app import EXTENSION, create_app
from lms_core.accounts.api_tokens import create_personal_token
from lms_core.accounts.fields import UserUpdate
from lms_core.accounts.users import update_user
from lms_core.actor import Actor
from lms_core.catalog import courses, lessons
from lms_core.catalog.fields import CourseUpdate, LessonCreate
from lms_core.models import User
from tests.api.conftest import API, bearer
from tests.conftest import Committed
from tests.factories import Factories

OPERATOR = Actor.operator("pytest")
#: A statement that reads the courses table (not the stamp's, not the token's).
READS_COURSES = re.compile(r"\bcourses\b")


class Site:
    def __init__(self, app: Flask, committed: Committed, tokens: dict[str, str]) -> None:
        self.app = app
        self.committed = committed
        self.tokens = tokens
        self.statements: list[str] = []
        engine = app.extensions[EXTENSION].engine
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(statement)

    def get(self, who: str, path: str, client: Any = None) -> tuple[int, Any, int]:
        """The status, the JSON, and how many statements read courses to answer it (a
        client of its own: a token; a browser's given: its cookie)."""
        self.statements.clear()
        if client is None:
            response = self.app.test_client().get(API + path, headers=bearer(self.tokens[who]))
        else:
            response = client.get(API + path)
        read = sum(1 for sql in self.statements if READS_COURSES.search(sql))
        return response.status_code, response.get_json(), read

    def change(self, action: Any) -> None:
        """A change through a service, committed (a staff member's, elsewhere)."""
        with self.committed.factory() as s:
            action(s)
            s.commit()


@pytest.fixture
def site(committed: Committed, hasher: Any) -> Iterator[Site]:
    with committed.factory() as s:
        make = Factories(s, hasher, OPERATOR)
        people = {
            "teacher": make.user("instructor", email="teacher@test.example"),
            "other teacher": make.user("instructor"),
            "learner": make.user("student"),
            "second learner": make.user("student"),
            "admin": make.user("admin"),
        }
        make.course(slug="kept", instructor=people["teacher"], lessons=2, published=True)
        make.course(slug="draft", instructor=people["teacher"], lessons=1)
        tokens = {
            who: create_personal_token(
                s, actor=Actor.for_user(user), name="t", scopes=["courses:read"]
            )[1]
            for who, user in people.items()
        }
        s.commit()
    app = create_app(committed.settings)
    yield Site(app, committed, tokens)
    app.extensions[EXTENSION].dispose()


def test_a_catalog_page_is_answered_again_unread_until_a_change_commits(site: Site) -> None:
    status, first, read = site.get("learner", "/courses")
    assert status == 200 and read >= 1
    assert [c["slug"] for c in first["items"]] == ["kept"]
    assert site.get("learner", "/courses") == (200, first, 0)  # kept: courses not read
    reads = [sql for sql in site.statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "catalog_stamp" in reads[0]  # the stamp rode the token check
    assert site.get("second learner", "/courses") == (200, first, 0)  # one audience, one page

    site.change(
        lambda s: courses.update_course(
            s, actor=OPERATOR, slug="kept", data=CourseUpdate(title="Retitled")
        )
    )
    status, page, read = site.get("learner", "/courses")
    assert read >= 1 and page["items"][0]["title"] == "Retitled"

    site.change(
        lambda s: update_user(
            s,
            actor=OPERATOR,
            email="teacher@test.example",
            data=UserUpdate(email="renamed@test.example"),
        )
    )
    assert site.get("learner", "/courses")[1]["items"][0]["instructor_email"] == (
        "renamed@test.example"
    )
    site.change(lambda s: courses.publish_course(s, actor=OPERATOR, slug="draft"))
    slugs = [c["slug"] for c in site.get("second learner", "/courses")[1]["items"]]
    assert slugs == ["draft", "kept"]
    _, searched, read = site.get("learner", "/courses?search=dra")  # another page: read
    assert read >= 1 and [c["slug"] for c in searched["items"]] == ["draft"]


def test_an_outline_is_answered_again_unread_until_a_lesson_changes(site: Site) -> None:
    status, first, read = site.get("learner", "/courses/kept")
    assert status == 200 and read >= 1 and len(first["lessons"]) == 2
    assert site.get("learner", "/courses/kept") == (200, first, 0)
    site.change(
        lambda s: lessons.add_lesson(
            s, actor=OPERATOR, course_slug="kept", data=LessonCreate(slug="third", title="Third")
        )
    )
    status, outline, read = site.get("learner", "/courses/kept")
    assert read >= 1 and [lesson["slug"] for lesson in outline["lessons"]][-1] == "third"


def test_an_unpublished_outline_kept_for_its_managers_is_not_given_to_others(site: Site) -> None:
    """The course's instructor and an administrator see it; what was kept for them is never
    given to a learner or to another instructor, whoever asked first."""
    assert site.get("admin", "/courses/draft")[0] == 200
    assert site.get("teacher", "/courses/draft")[0] == 200
    assert site.get("admin", "/courses/draft")[2] == 0  # kept for administrators
    for who in ("learner", "other teacher", "learner"):
        status, problem, read = site.get(who, "/courses/draft")
        assert status in (403, 404) and "lessons" not in problem, who
        assert read >= 1, who  # a refusal is never kept: read each time


def test_a_browser_with_the_cookie_gets_kept_pages_too(site: Site) -> None:
    """A cookie caller checks no token: the stamp is read on its own, and a change is in the
    next answer all the same."""
    from tests.web.conftest import log_in

    browser = site.app.test_client()
    with site.committed.factory() as s:
        admin = s.scalars(select(User).where(User.role == "admin")).one()
    assert log_in(browser, admin).status_code == 302
    status, first, read = site.get("", "/courses", browser)
    assert status == 200 and read >= 1
    assert site.get("", "/courses", browser) == (200, first, 0)
    site.change(
        lambda s: courses.update_course(
            s, actor=OPERATOR, slug="kept", data=CourseUpdate(title="Seen at once")
        )
    )
    assert site.get("", "/courses", browser)[1]["items"][0]["title"] == "Seen at once"
