"""The report figures the back office shows, read from the same ``lms_core.reports`` services
as ``lmsctl reports`` (one SQL statement per section, nothing re-queried here), and the SVG
charts drawn from their rows (:mod:`admin_ui.svg_charts`).

Sections with a row per learner or job (at-risk learners, dead jobs, responses) are shown up
to :data:`SHOWN` rows; the page links to the CSV/XLSX download for the rest.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice
from typing import Any, cast

from markupsafe import Markup
from sqlalchemy.orm import Session

from admin_ui.svg_charts import BLUE, GREY, ORANGE, Series, bar_chart, hbar_chart
from lms_core.actor import Actor
from lms_core.errors import ValidationError
from lms_core.reports.base import FIRST_YEAR, Period, Report, Section, parse_when

#: Rows of a long section shown on a page (the download has them all).
SHOWN = 50
#: Bars a per-lesson or per-question chart draws (40 rows are 1,600 SVG units tall; the
#: section's table below it lists them all).
CHART_ROWS = 40
#: The dashboard's period when no start is given: the weekly series is the one figure that
#: reads every enrollment of its period, and 12 weeks also keep its chart readable.
DASHBOARD_WEEKS = 12


@dataclass(frozen=True)
class Table:
    """A section as the page shows it: its columns, its first rows, whether there are more."""

    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    more: bool


def period_from(args: Mapping[str, str]) -> tuple[Period, list[dict[str, str]]]:
    """The period of ``?since=&until=``, or the open period and the errors of the form
    (each ``{field, value, message}``) when a date cannot be read."""
    try:
        since = parse_when(args.get("since"), "since")
        until = parse_when(args.get("until"), "until")
        return Period.of(since, until), []
    except ValidationError as error:
        return Period(), [_form_error(error)]


def _form_error(error: ValidationError) -> dict[str, str]:
    return {"field": error.field or "", "value": str(error.value or ""), "message": str(error)}


def dashboard_period(
    args: Mapping[str, str], weeks: int | None
) -> tuple[Period, list[dict[str, str]], dict[str, str]]:
    """The dashboard's period: ``?since=&until=``, the start defaulting to the Monday
    ``weeks`` weeks before the end (None: open); the errors; the query values it stands for
    (shown on the form and carried into the download links, so the file is the page).

    A date that cannot be read is a form error, and the page shows the default period (the
    last ``weeks`` weeks), not every week of the site's history (the slow figure the default
    exists to bound)."""
    period, errors = period_from(args)
    values = {k: args[k] for k in ("since", "until") if args.get(k)}
    if weeks is None or (period.since is not None and not errors):
        return period, errors, values
    if errors:
        return _last_weeks(Period(), weeks), errors, values
    values["since"] = _monday_before(period, weeks).isoformat()
    try:
        return _last_weeks(period, weeks), errors, values
    except ValidationError as error:  # an end on the first day: the period is empty
        del values["since"]
        return _last_weeks(Period(), weeks), [_form_error(error)], values


def _monday_before(period: Period, weeks: int) -> date:
    # An end near the first year a period may name would put the start before it (a
    # ValidationError, once a 500); the start is clamped to that year (1900-01-01 is a
    # Monday, so the Monday before a clamped start stays in it).
    start = max((period.now - timedelta(weeks=weeks)).date(), date(FIRST_YEAR, 1, 1))
    return start - timedelta(days=start.weekday())


def _last_weeks(period: Period, weeks: int) -> Period:
    since = parse_when(_monday_before(period, weeks).isoformat(), "since")
    return Period.of(since, period.until)


def table(session: Session, section: Section, limit: int | None = None) -> Table:
    """The section's rows (the first ``limit``, plus one to know whether more exist)."""
    rows = cast(Generator[tuple[Any, ...], None, None], section.rows(session))
    try:
        wanted = list(islice(rows, None if limit is None else limit + 1))
    finally:
        rows.close()  # a half-read server-side cursor is released now, not at collection
    more = limit is not None and len(wanted) > limit
    picked = wanted[:limit] if limit is not None else wanted
    cols = tuple(section.columns)
    return Table(section.name, cols, [dict(zip(cols, r, strict=True)) for r in picked], more)


def tables(
    session: Session, report: Report, limits: Mapping[str, int] | None = None
) -> dict[str, Table]:
    """Every section of ``report``, read one after the other (one statement each)."""
    limits = limits or {}
    return {s.name: table(session, s, limits.get(s.name)) for s in report.sections}


def _week_chart(title: str, rows: list[dict[str, Any]]) -> Markup:
    return bar_chart(
        title=title,
        desc="Learners who enrolled and who completed, per week starting Monday (UTC): "
        + "; ".join(f"{r['week']}: {r['enrollments']} / {r['completions']}" for r in rows),
        labels=[r["week"] for r in rows],
        series=[
            Series("enrolled", [r["enrollments"] for r in rows], BLUE),
            Series("completed", [r["completions"] for r in rows], ORANGE),
        ],
        x_label="Week (starting Monday, UTC)",
        y_label="Learners",
        empty="No enrollments or completions in this period.",
    )


def system_charts(t: dict[str, Table], period: Period | None = None) -> dict[str, Markup]:
    weeks = t["enrollments_per_week"].rows
    months = t["certificates_per_month"].rows
    since = period.since if period else None
    partial = ""  # a start inside a month (the 12-week default): its first bar is a part
    month_start = since and since.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if since and since != month_start and months and months[0]["month"] == f"{since:%Y-%m}":
        partial = f"; {months[0]['month']} from {since.date().isoformat()} only"
    return {
        "weeks": _week_chart("Enrollments and completions per week", weeks),
        "certificates": bar_chart(
            title="Certificates per month",
            desc="Certificates issued and later revoked, per month (UTC): "
            + "; ".join(f"{r['month']}: {r['issued']} / {r['revoked']}" for r in months),
            labels=[r["month"] for r in months],
            series=[
                Series("issued", [r["issued"] for r in months], BLUE),
                Series("revoked", [r["revoked"] for r in months], ORANGE),
            ],
            x_label=f"Month (UTC{partial})",
            y_label="Certificates",
            empty="No certificates issued in this period.",
        ),
    }


def system_figures(session: Session, actor: Actor, period: Period) -> dict[str, Any]:
    """The system report's sections and charts (administrators: the service checks)."""
    from lms_core.reports.system import system_report

    report = system_report(session, actor=actor, period=period)
    t = tables(session, report, {"dead_jobs": SHOWN})
    return {"tables": t, "charts": system_charts(t, period)}


def instructor_figures(
    session: Session, actor: Actor, email: str, period: Period
) -> dict[str, Any]:
    """The instructor report's one section (a row per course they teach) and a chart of
    each course's completion rate."""
    from lms_core.reports.instructor import instructor_report

    report = instructor_report(session, actor=actor, email=email, period=period)
    t = table(session, report.sections[0])
    chart = hbar_chart(
        title="Completion rate per course",
        desc="Completed learners as a share of active and completed ones, per course: "
        + "; ".join(f"{r['title']}: {r['completion_rate']}" for r in t.rows),
        labels=[r["title"] for r in t.rows],
        values=[r["completion_rate"] for r in t.rows],
        notes=[f"{r['completed']} of {r['active'] + r['completed']}" for r in t.rows],
        x_label="Completed (% of active and completed learners)",
        empty="You teach no course yet.",
    )
    return {"table": t, "chart": chart}


def course_charts(t: dict[str, Table]) -> dict[str, Any]:
    """The course page's charts: weeks, funnel, a score chart per quiz, items, ratings."""
    funnel = t["funnel"].rows[:CHART_ROWS]
    cohort = t["summary"].rows[0]["enrollments"] if t["summary"].rows else 0
    quizzes: dict[str, list[dict[str, Any]]] = {}
    for row in t["scores"].rows:
        quizzes.setdefault(row["quiz"], []).append(row)
    items = t["questions"].rows[:CHART_ROWS]
    several = len({r["quiz"] for r in items}) > 1  # name the quiz only when it tells apart
    ratings = t["ratings"].rows
    return {
        "weeks": _week_chart(
            "Enrollments and completions per week", t["enrollments_per_week"].rows
        ),
        "funnel": hbar_chart(
            title="Drop-off funnel" + first(t["funnel"], "lessons"),
            desc=f"Share of the {cohort} enrolled learners who completed each lesson, in "
            "course order (grey: optional lessons).",
            labels=[f"{r['position']}. {r['title']}" for r in funnel],
            values=[r["share"] for r in funnel],
            notes=[f"{r['learners_completed']} of {cohort}" for r in funnel],
            colors=[BLUE if r["required"] else GREY for r in funnel],
            x_label=f"Learners who completed the lesson (% of {cohort} enrolled)",
            empty="This course has no lessons yet.",
        ),
        "scores": [
            bar_chart(
                title=f"Final scores: {quiz}",
                desc=f"Learners per 10-point band of final score in {quiz}: "
                + "; ".join(f"{b['score_from']}-{b['score_to']}: {b['learners']}" for b in bands),
                labels=[f"{b['score_from']}" for b in bands],
                series=[Series("learners", [b["learners"] for b in bands], BLUE)],
                x_label="Final score (%, band starting at)",
                y_label="Learners",
            )
            for quiz, bands in quizzes.items()
        ],
        "items": hbar_chart(
            title="Item analysis: facility index" + first(t["questions"], "questions"),
            desc="Facility index (average share of the points) of each question, in quiz order.",
            labels=[
                f"{short_quiz(r['quiz']) if several else ''}Q{r['position']} {r['question']}"
                for r in items
            ],
            values=[r["facility_index"] for r in items],
            notes=[plural(r["attempts"], "attempt") for r in items],
            x_label="Facility index (% of the points; high: easy)",
            empty="No graded quiz attempts in this period.",
        ),
        "ratings": bar_chart(
            title="Ratings",
            desc="Learners per rating from 1 to 5 stars: "
            + "; ".join(f"{r['rating']} stars: {r['count']}" for r in ratings),
            labels=[f"{r['rating']}★" for r in ratings],
            series=[Series("ratings", [r["count"] for r in ratings], BLUE)],
            x_label="Rating (stars)",
            y_label="Learners",
        ),
    }


def first(section: Table, noun: str) -> str:
    """`` (first 40 of 57 lessons)`` when a chart draws only the first rows of its section."""
    total = len(section.rows)
    if total <= CHART_ROWS:
        return ""
    return f" (first {CHART_ROWS} of {total}{'+' if section.more else ''} {noun})"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def short_quiz(name: str) -> str:
    return f"{name[:14]}… " if len(name) > 15 else f"{name} "


def course_figures(session: Session, actor: Actor, slug: str, period: Period) -> dict[str, Any]:
    """The course report's sections and charts (the service checks the actor's rights)."""
    from lms_core.reports.course import course_report

    report = course_report(session, actor=actor, slug=slug, period=period)
    t = tables(session, report, {"at_risk": 25, "responses": 200, "questions": 200})
    return {"tables": t, "charts": course_charts(t)}


def student_tables(session: Session, actor: Actor, email: str, period: Period) -> dict[str, Table]:
    from lms_core.reports.student import student_report

    report = student_report(session, actor=actor, email=email, period=period)
    return tables(session, report, {"courses": 200, "quizzes": 200, "assignments": 200})
