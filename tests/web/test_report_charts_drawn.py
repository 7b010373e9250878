"""The report pages' charts draw the services' rows: bars that have a size, a bar's
``<title>`` naming a row of the same ``lms_core.reports`` service, its length that row's value.

A chart's ``<desc>`` lists the rows even when nothing is drawn (the empty placeholder keeps
it), so the page tests checking the description alone passed with every chart blank.
"""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from admin_ui.svg_charts import WIDTH
from lms_core.actor import Actor
from lms_core.ops.demo import DEMO_USERS
from lms_core.reports.base import Period, fetch_all
from lms_core.reports.course import course_report
from lms_core.reports.instructor import instructor_report
from tests.web import test_report_pages as pages
from tests.web.test_report_pages import COURSE, PAGE

clients, school = pages.clients, pages.school  # the report pages' fixtures

BAR = re.compile(r'<rect [^>]*width="([\d.]+)" height="([\d.]+)"[^>]*><title>([^<]*)</title>')


def charts(html: str) -> dict[str, list[tuple[float, float, str]]]:
    """Each chart's title and its bars: (width, height, the bar's <title>)."""
    out = {}
    for svg in re.findall(r'<svg class="lms-chart".*?</svg>', html, re.S):
        title = re.search(r"<title[^>]*>([^<]*)</title>", svg)
        assert title, svg[:200]
        out[title.group(1)] = [(float(w), float(h), t) for w, h, t in BAR.findall(svg)]
    return out


def drawn(bars: list[tuple[float, float, str]]) -> list[str]:
    """The titles of the bars with a visible size."""
    return [t for w, h, t in bars if w > 0 and h > 0]


def test_course_report_charts_draw_bars_of_the_services_rows(
    clients: dict[str, FlaskClient], session: Session, operator: Actor
) -> None:
    found = charts(clients["instructor"].get(PAGE).get_data(as_text=True))
    rows = fetch_all(session, course_report(session, actor=operator, slug=COURSE, period=Period()))
    for name in ("Enrollments and completions per week", "Drop-off funnel", "Item analysis"):
        title = next(t for t in found if t.startswith(name))
        assert drawn(found[title]), title
    assert any(drawn(bars) for t, bars in found.items() if t.startswith("Final scores: "))
    week = rows["enrollments_per_week"][-1]
    weeks = found["Enrollments and completions per week"]
    assert f"{week['week']}: enrolled {week['enrollments']}" in drawn(weeks)
    first = rows["funnel"][0]
    width, _, label = found["Drop-off funnel"][0]
    assert label.startswith(f"{first['position']}. {first['title']}: ")
    assert abs(width - WIDTH * first["share"] / 100) < 0.1


def test_dashboard_charts_draw_bars_of_the_services_rows(
    clients: dict[str, FlaskClient], session: Session, operator: Actor
) -> None:
    site = charts(clients["admin"].get("/admin/").get_data(as_text=True))
    assert drawn(site["Enrollments and completions per week"])
    assert drawn(site["Certificates per month"])
    mine = charts(clients["instructor"].get("/admin/").get_data(as_text=True))
    bars = mine["Completion rate per course"]
    report = instructor_report(session, actor=operator, email=DEMO_USERS[1][0], period=Period())
    rows = fetch_all(session, report)["courses"]
    assert drawn(bars) and len(bars) == len(rows)
    for row, (width, _, label) in zip(rows, bars, strict=True):
        assert label.startswith(f"{row['title']}: ")
        assert label.endswith(f" · {row['completed']} of {row['active'] + row['completed']}")
        assert abs(width - WIDTH * (row["completion_rate"] or 0) / 100) < 0.1
