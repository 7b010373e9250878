"""The report pages of the back office (/admin/ and /admin/reports/): figures from the same
lms_core.reports services as `lmsctl reports`, SVG charts, downloads written by the CLI's
writer, rights (instructors their own courses only, learners nothing), bad dates as form
errors, and a statement count that does not grow with the data."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.models import Enrollment, User, utcnow
from lms_core.ops.demo import DEMO_USERS, seed
from lms_core.reports.base import Period, fetch_all, parse_when
from lms_core.reports.course import course_report
from lms_core.reports.output import write_report
from lms_core.reports.system import system_report
from lms_core.security import PasswordHasher
from lms_core.settings import Settings
from tests.factories import PASSWORD, Factories
from tests.web.conftest import log_in
from tests.web.test_dashboard import statements

COURSE = "demo-python-basics"
PAGE = f"/admin/reports/course/{COURSE}/"
#: A fixed "now" for pages and files compared with the CLI's writer (days inactive count from it).
UNTIL = "2030-01-01"


def _client(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    assert log_in(client, email, password).status_code == 302
    return client


@pytest.fixture
def school(session: Session, settings: Settings, hasher: PasswordHasher, make: Factories) -> Any:
    """The demo school (its instructor teaches the demo courses), another instructor with a
    course, a learner named like a spreadsheet formula in the demo course."""
    seed(session, actor=Actor.system("test"), hasher=hasher, settings=settings)
    other = make.user("instructor", email="other.instructor@test.example")
    make.course(slug="others-course", title="Others' course", instructor=other, lessons=1)
    from lms_core.models import Course

    # The course by slug: the demo learner's first enrollment (no ORDER BY) was another
    # course whenever PostgreSQL returned the rows in another order.
    formula = make.user(name="=HYPERLINK(1)")
    make.enroll(formula, session.scalars(select(Course).where(Course.slug == COURSE)).one())
    session.flush()
    return {"other": other}


@pytest.fixture
def clients(app: Flask, school: Any, make: Factories, session: Session) -> dict[str, FlaskClient]:
    """Logged-in clients; the learner is an instructor demoted while logged in (a learner
    cannot log in to the back office at all)."""
    demoted = make.user("instructor", email="demoted@test.example")
    session.flush()
    out = {
        "admin": _client(app, DEMO_USERS[0][0], DEMO_USERS[0][3]),
        "instructor": _client(app, DEMO_USERS[1][0], DEMO_USERS[1][3]),
        "other": _client(app, "other.instructor@test.example"),
        "learner": _client(app, "demoted@test.example"),
    }
    demoted.role = "student"
    session.flush()
    return out


def _figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-(?:report-)?figure="([\w-]+)">([^<]*)<', html))


def test_admin_dashboard_shows_the_system_report_with_charts(
    clients: dict[str, FlaskClient], session: Session, operator: Actor
) -> None:
    html = clients["admin"].get("/admin/").get_data(as_text=True)
    expected = fetch_all(session, system_report(session, actor=operator, period=Period()))
    found = _figures(html)
    assert found["enrollments"] == str(expected["totals"][0]["enrollments"])
    assert found["valid-certificates"] == str(expected["totals"][0]["valid_certificates"])
    assert found["active-30-days"] == str(expected["active_learners"][0]["last_30_days"])
    assert html.count('<svg class="lms-chart"') == 2
    assert "Enrollments and completions per week" in html and "Certificates per month" in html
    for section in ("users", "imports", "dead_jobs"):
        assert f'data-section="{section}"' in html
    # The weekly series: the last 12 weeks from a Monday unless a start is given; the
    # download link carries that period, so the file is what the page shows.
    start = (utcnow() - timedelta(weeks=12)).date()
    start -= timedelta(days=start.weekday())
    assert f'href="/admin/reports/system.csv?since={start.isoformat()}"' in html
    assert f'id="since" name="since" placeholder="YYYY-MM-DD" value="{start.isoformat()}"' in html
    weeks = fetch_all(
        session,
        system_report(
            session, actor=operator, period=Period.of(parse_when(start.isoformat(), "s"), None)
        ),
    )["enrollments_per_week"]
    assert weeks  # the demo school enrolled today
    for w in weeks:  # the chart's description lists the service's rows
        assert f"{w['week']}: {w['enrollments']} / {w['completions']}" in html
    given = clients["admin"].get("/admin/?since=2020-01-06").get_data(as_text=True)
    assert 'href="/admin/reports/system.csv?since=2020-01-06"' in given


def test_instructor_dashboard_shows_their_courses_only(
    clients: dict[str, FlaskClient],
) -> None:
    html = clients["instructor"].get("/admin/").get_data(as_text=True)
    assert "Completion rate per course" in html and '<svg class="lms-chart"' in html
    assert f'href="/admin/reports/course/{COURSE}/"' in html
    assert "Others&#39; course" not in html and "others-course" not in html
    assert 'data-section="dead_jobs"' not in html and "system.csv" not in html
    other = clients["other"].get("/admin/").get_data(as_text=True)
    assert "others-course" in other and COURSE not in other


def test_course_report_page_and_who_may_open_it(clients: dict[str, FlaskClient]) -> None:
    response = clients["instructor"].get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('<svg class="lms-chart"') >= 5  # weeks, funnel, a quiz, items, ratings
    for title in ("Drop-off funnel", "Final scores: ", "Item analysis", "Ratings"):
        assert title in html
    for section in ("at_risk", "questions", "responses", "funnel", "enrollments_per_week"):
        assert f'data-section="{section}"' in html
    assert f'href="/admin/reports/course/{COURSE}.csv"' in html
    assert clients["admin"].get(PAGE).status_code == 200
    assert clients["other"].get(PAGE).status_code == 403
    assert clients["other"].get(f"/admin/reports/course/{COURSE}.csv").status_code == 403
    assert clients["learner"].get(PAGE).status_code == 403
    assert clients["learner"].get("/admin/reports/student/").status_code == 403
    assert clients["instructor"].get("/admin/reports/system.csv").status_code == 403
    assert clients["admin"].get("/admin/reports/course/no-such-course/").status_code == 404
    index = clients["other"].get("/admin/reports/").get_data(as_text=True)
    assert "others-course" in index and COURSE not in index


@pytest.mark.parametrize(
    "path", ["/admin/", PAGE, "/admin/reports/student/?email=student@demo.example.org"]
)
def test_a_bad_date_is_a_form_error(clients: dict[str, FlaskClient], path: str) -> None:
    sep = "&" if "?" in path else "?"
    response = clients["admin"].get(f"{path}{sep}since=2026-13-45")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "lms-form-error" in html and "since: must be a date" in html
    empty = clients["admin"].get(f"{path}{sep}since=2026-02-01&until=2026-01-01")
    assert empty.status_code == 400 and "the period is empty" in empty.get_data(as_text=True)
    refused = clients["admin"].get(f"/admin/reports/course/{COURSE}.csv?until=never")
    assert refused.status_code == 400 and "until" in refused.get_data(as_text=True)
    assert refused.headers["X-Content-Type-Options"] == "nosniff"  # app-wide (security.py)
    # An end in the first weeks of 1900 puts the dashboard's default start (12 weeks back)
    # before the first year a period may name: clamped to it, or a form error, never a 500.
    early = clients["admin"].get(f"{path}{sep}until=1900-03-01")
    assert early.status_code == 200
    first = clients["admin"].get(f"{path}{sep}until=1900-01-01")
    if path == "/admin/":  # the default start would be the end itself
        assert first.status_code == 400 and "the period is empty" in first.get_data(as_text=True)
    else:
        assert first.status_code == 200


def test_a_bad_date_on_the_dashboard_shows_the_default_weeks(
    clients: dict[str, FlaskClient], session: Session, make: Factories
) -> None:
    """A date the form cannot read leaves the dashboard on its default 12 weeks, not on
    every week of the site's history (the figure the default exists to bound)."""
    old = make.enroll()
    old.enrolled_at = utcnow() - timedelta(days=400)
    session.flush()
    week = old.enrolled_at.date() - timedelta(days=old.enrolled_at.weekday())
    every = clients["admin"].get("/admin/?since=2000-01-03").get_data(as_text=True)
    assert f"{week.isoformat()}: 1 / 0" in every  # the chart's description names the week
    for query in ("since=2026-13-45", "until=never", "until=1900-01-01"):
        bad = clients["admin"].get(f"/admin/?{query}")
        html = bad.get_data(as_text=True)
        assert bad.status_code == 400 and "lms-form-error" in html, query
        assert f"{week.isoformat()}: " not in html, query
        assert "Showing the last 12 weeks instead." in html


def test_downloads_are_the_cli_writers_files(
    clients: dict[str, FlaskClient], session: Session, operator: Actor
) -> None:
    query = f"?since=2020-01-01&until={UNTIL}"
    response = clients["instructor"].get(f"/admin/reports/course/{COURSE}.csv{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    period = Period.of(parse_when("2020-01-01", "since"), parse_when(UNTIL, "until"))
    expected = io.StringIO()
    write_report(
        session, course_report(session, actor=operator, slug=COURSE, period=period), "csv", expected
    )
    assert response.get_data() == ("\ufeff" + expected.getvalue()).encode()
    assert "'=HYPERLINK(1)" in expected.getvalue()  # the at-risk learner, formula-safe

    book = clients["admin"].get(f"/admin/reports/system.xlsx{query}")
    assert book.status_code == 200
    sheets = load_workbook(io.BytesIO(book.get_data()), read_only=True).sheetnames
    assert sheets == [
        s.name for s in system_report(session, actor=operator, period=period).sections
    ]
    mine = clients["instructor"].get("/admin/reports/instructor.csv").get_data(as_text=True)
    assert COURSE in mine and "others-course" not in mine
    # An administrator teaches nothing: without ?email= the file would be empty; 400 asks.
    unnamed = clients["admin"].get("/admin/reports/instructor.csv")
    assert unnamed.status_code == 400 and "email" in unnamed.get_data(as_text=True)
    named = clients["admin"].get(f"/admin/reports/instructor.csv?email={DEMO_USERS[1][0]}")
    assert named.status_code == 200 and COURSE in named.get_data(as_text=True)


def test_student_report_page(clients: dict[str, FlaskClient]) -> None:
    html = (
        clients["admin"]
        .get("/admin/reports/student/?email=student@demo.example.org")
        .get_data(as_text=True)
    )
    for section in ("courses", "quizzes", "assignments"):
        assert f'data-section="{section}"' in html
    assert COURSE in html and "student.csv?" in html
    missing = clients["admin"].get("/admin/reports/student/?email=nobody@test.example")
    assert missing.status_code == 404
    # Another instructor: not their learner (the service refuses), 404 as for no account.
    other = clients["other"].get("/admin/reports/student/?email=student@demo.example.org")
    assert other.status_code == 404
    mine = clients["instructor"].get("/admin/reports/student/?email=student@demo.example.org")
    assert mine.status_code == 200 and COURSE in mine.get_data(as_text=True)
    courses = clients["instructor"].get("/admin/course/").get_data(as_text=True)
    assert f'href="/admin/reports/course/{COURSE}/">Report</a>' in courses


def test_reports_named_by_email_do_not_tell_who_has_an_account(
    clients: dict[str, FlaskClient],
) -> None:
    """An instructor asking for a person outside their scope gets the answer they get for an
    address with no account (404), so the pages cannot list the site's accounts; an
    administrator still learns which it is (403 is never theirs, 404 means no account)."""
    paths = (
        "/admin/reports/student/?email={}",
        "/admin/reports/student.csv?email={}",
        "/admin/reports/instructor.csv?email={}",
    )
    for path in paths:
        for email in (DEMO_USERS[0][0], "student@demo.example.org", "nobody@test.example"):
            answer = clients["other"].get(path.format(email))
            assert answer.status_code == 404, (path, email)
        assert clients["admin"].get(path.format("nobody@test.example")).status_code == 404
    mine = clients["instructor"].get("/admin/reports/student.csv?email=student@demo.example.org")
    assert mine.status_code == 200


def test_statements_per_page_do_not_grow_with_the_data(
    clients: dict[str, FlaskClient], session: Session, connection: Connection, make: Factories
) -> None:
    """The course report page runs one statement per section plus a few of its own; the
    dashboard one per figure: the counts below are the same for 2 and 302 learners."""
    pages = ("/admin/", PAGE)
    small = {}
    for path in pages:
        clients["admin"].get(path)
        with statements(connection) as seen:
            assert clients["admin"].get(path).status_code == 200
        small[path] = len(seen)
    course_id = session.scalars(
        select(Enrollment.course_id).join(User).where(User.email == DEMO_USERS[2][0])
    ).first()
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
                "last_login_at": now,
                "last_activity_at": now,
            }
            for i in range(300)
        ],
    )
    ids = session.scalars(select(User.id).where(User.email.like("bulk%"))).all()
    session.execute(
        insert(Enrollment),
        [
            {
                "student_id": i,
                "course_id": course_id,
                "created_at": now,
                "updated_at": now,
                "enrolled_at": now,
            }
            for i in ids
        ],
    )
    session.flush()
    for path in pages:
        with statements(connection) as seen:
            assert clients["admin"].get(path).status_code == 200
        assert len(seen) == small[path], (path, small[path], len(seen))
    print("statements per page:", small)
    # The course page: 13 on both databases (its 8 report sections, the course's lookups,
    # the login's own); the dashboard 18 (its 11 figures and the system report's 7).
    assert small[PAGE] <= 13 and small["/admin/"] <= 18, small
