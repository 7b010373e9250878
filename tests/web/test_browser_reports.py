"""In Chromium, as the demo instructor: the dashboard's report part and a course report show
their SVG charts (inline, no script, nothing the Content-Security-Policy refuses), on a
desktop and on a 390 px phone, and a chart never runs wider than the phone's screen.
LMS_SCREENSHOTS=1 also writes docs/back-office/report-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.reports.base import Period, fetch_all
from lms_core.reports.course import course_report
from lms_core.reports.instructor import instructor_report
from tests.web.browser_support import (
    DESKTOP,
    INSTRUCTOR,
    PHONE,
    Console,
    LiveServer,
    chromium_or_stop,
    live_server,
    shoot,
)
from tests.web.test_browser import log_in

COURSE = "demo-python-basics"


@pytest.fixture(scope="module")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    chromium_or_stop()
    with live_server(db_url, tmp_path_factory.mktemp("browser-reports")) as running:
        yield running


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", timezone_id="Europe/Paris")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    console.attach(tab)
    yield tab
    context.close()
    console.check()


def _charts(page: Any) -> dict[str, list[str]]:
    """The page's charts by accessible name (their first <title>), each with the <title>s of
    the bars the browser lays out with a size (an empty chart has none)."""
    charts = page.locator("svg.lms-chart")
    found = {}
    for i in range(charts.count()):
        chart = charts.nth(i)
        assert chart.get_attribute("role") == "img"
        box = chart.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50
        bars = chart.locator("rect").evaluate_all(
            "rects => rects.filter(r => r.querySelector('title')).filter(r => {"
            " const b = r.getBoundingClientRect(); return b.width > 0 && b.height > 0; })"
            ".map(r => r.querySelector('title').textContent)",
        )
        found[chart.locator("title").first.text_content()] = bars
    return found


def _service(server: LiveServer) -> dict[str, Any]:
    """The rows the charts are drawn from, as the services give them."""
    with Session(server.engine) as session:
        actor = Actor.operator("browser test")
        return {
            "courses": fetch_all(
                session,
                instructor_report(session, actor=actor, email=INSTRUCTOR[0], period=Period()),
            )["courses"],
            "weeks": fetch_all(
                session, course_report(session, actor=actor, slug=COURSE, period=Period())
            )["enrollments_per_week"],
        }


def test_instructor_sees_report_charts_on_the_dashboard_and_a_course(
    page: Any, server: LiveServer, console: Console
) -> None:
    rows = _service(server)
    log_in(page, server, INSTRUCTOR[0], INSTRUCTOR[3], console)
    page.goto(server.at("/admin/"))
    rates = _charts(page)["Completion rate per course"]
    drawn = [r for r in rows["courses"] if r["completion_rate"]]
    assert drawn and len(rates) == len(drawn)  # a 0% course has no bar to see
    for row, title in zip(drawn, rates, strict=True):
        assert title.startswith(f"{row['title']}: ")
        assert title.endswith(f" · {row['completed']} of {row['active'] + row['completed']}")
    shoot(page, "report-dashboard-instructor")
    page.get_by_role("link", name="Python basics", exact=False).first.click()
    page.wait_for_url(f"**/admin/reports/course/{COURSE}/**")
    names = _charts(page)
    for title in ("Enrollments and completions per week", "Drop-off funnel", "Ratings"):
        assert title in names
    for title in ("Enrollments and completions per week", "Drop-off funnel"):
        assert names[title], f"{title}: no bar drawn"
    assert any(bars for n, bars in names.items() if n.startswith("Final scores: "))
    week = rows["weeks"][-1]
    weekly = names["Enrollments and completions per week"]
    assert f"{week['week']}: enrolled {week['enrollments']}" in weekly
    assert page.locator("table[data-section=at_risk]").count() == 1
    shoot(page, "report-course")
    console.check()

    page.set_viewport_size(PHONE)
    page.reload()
    widths = page.eval_on_selector_all(
        "svg.lms-chart", "svgs => svgs.map(s => s.getBoundingClientRect().right)"
    )
    assert widths and max(widths) <= PHONE["width"], widths
    shoot(page, "report-course-phone")
    page.goto(server.at("/admin/?since=2026-13-01"))
    assert page.locator(".lms-form-error").count() == 1
    console.check()
