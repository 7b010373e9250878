"""The report charts drawn from section rows (:mod:`admin_ui.report_figures`), without a
database: what a long course's charts draw, and what they say they left out."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from admin_ui.report_figures import CHART_ROWS, Table, course_charts, system_charts
from lms_core.reports.base import Period


def _table(name: str, rows: list[dict[str, Any]], more: bool = False) -> Table:
    return Table(name, tuple(rows[0]) if rows else (), rows, more)


def _course(lessons: int, questions: int) -> dict[str, Table]:
    funnel = [
        {"position": i, "title": f"L{i}", "required": True, "learners_completed": 1, "share": 50}
        for i in range(1, lessons + 1)
    ]
    items = [
        {"quiz": "Quiz", "position": i, "question": f"q{i}", "facility_index": 70, "attempts": 2}
        for i in range(1, questions + 1)
    ]
    return {
        "summary": _table("summary", [{"enrollments": 2}]),
        "funnel": _table("funnel", funnel),
        "questions": _table("questions", items, more=questions >= 200),
        "scores": _table("scores", []),
        "ratings": _table("ratings", []),
        "enrollments_per_week": _table("enrollments_per_week", []),
    }


def _bars(svg: str) -> int:
    return len(re.findall(r'fill="[^"]+"><title>', svg))


def test_long_funnel_and_item_charts_draw_the_first_rows_and_say_so() -> None:
    charts = course_charts(_course(57, 200))
    assert _bars(charts["funnel"]) == CHART_ROWS
    assert f"Drop-off funnel (first {CHART_ROWS} of 57 lessons)" in charts["funnel"]
    assert _bars(charts["items"]) == CHART_ROWS
    assert f"(first {CHART_ROWS} of 200+ questions)" in charts["items"]
    short = course_charts(_course(CHART_ROWS, 3))
    assert _bars(short["funnel"]) == CHART_ROWS and "(first" not in short["funnel"]
    assert _bars(short["items"]) == 3 and "(first" not in short["items"]


def _site(months: list[str]) -> dict[str, Table]:
    return {
        "enrollments_per_week": _table("enrollments_per_week", []),
        "certificates_per_month": _table(
            "certificates_per_month", [{"month": m, "issued": 3, "revoked": 0} for m in months]
        ),
    }


def test_a_month_the_period_starts_inside_is_marked_partial() -> None:
    mid = Period.of(datetime(2026, 9, 14, tzinfo=UTC), None)
    chart = system_charts(_site(["2026-09", "2026-10"]), mid)["certificates"]
    assert "Month (UTC; 2026-09 from 2026-09-14 only)" in chart
    whole = Period.of(datetime(2026, 9, 1, tzinfo=UTC), None)
    assert "only)" not in system_charts(_site(["2026-09"]), whole)["certificates"]
    later = system_charts(_site(["2026-10"]), mid)["certificates"]  # none issued in September
    assert "only)" not in later
    assert "only)" not in system_charts(_site(["2026-09"]), Period())["certificates"]
