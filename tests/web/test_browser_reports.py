"""In Chromium, as the demo instructor: the dashboard's report part and a course report show
their SVG charts (inline, no script, nothing the Content-Security-Policy refuses), on a
desktop and on a 390 px phone, and a chart never runs wider than the phone's screen.
LMS_SCREENSHOTS=1 also writes docs/back-office/report-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_or_stop()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(path), chromium_sandbox=False)
        yield chromium
        chromium.close()


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


def _charts(page: Any) -> list[str]:
    """The accessible names of the page's charts (their <title>s), checking each is drawn."""
    charts = page.locator("svg.lms-chart")
    names = []
    for i in range(charts.count()):
        chart = charts.nth(i)
        assert chart.get_attribute("role") == "img"
        box = chart.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50
        names.append(chart.locator("title").first.text_content())
    return names


def test_instructor_sees_report_charts_on_the_dashboard_and_a_course(
    page: Any, server: LiveServer, console: Console
) -> None:
    log_in(page, server, INSTRUCTOR[0], INSTRUCTOR[3], console)
    page.goto(server.at("/admin/"))
    assert "Completion rate per course" in _charts(page)
    shoot(page, "report-dashboard-instructor")
    page.get_by_role("link", name="Python basics", exact=False).first.click()
    page.wait_for_url(f"**/admin/reports/course/{COURSE}/**")
    names = _charts(page)
    for title in ("Enrollments and completions per week", "Drop-off funnel", "Ratings"):
        assert title in names
    assert any(n.startswith("Final scores: ") for n in names)
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
