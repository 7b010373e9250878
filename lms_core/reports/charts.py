"""A course's figures as a chart (PNG or SVG), drawn with matplotlib's Agg backend.

matplotlib is imported only when a chart is drawn: the other reports, ``lmsctl --help`` and
the back office never load it. Each chart reads one section of the course report (the same
statement, so the same numbers as ``lmsctl reports course``) and says what it shows in its
title, its axes (with units) and its labels; long lesson and question names are shortened so
that no label runs into another, and the figure grows with the number of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.errors import UsageError, ValidationError
from lms_core.formats.atomic import atomic_binary
from lms_core.reports.base import Period, Section
from lms_core.reports.course import course_report

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CHARTS = ("course-funnel", "enrollments", "scores", "questions")
SUFFIXES = {".png": "png", ".svg": "svg"}
#: Labels longer than this are cut with an ellipsis (a lesson title, a question).
LABEL = 38
BLUE, ORANGE, GREY = "#2b6cb0", "#dd6b20", "#a0aec0"


def _short(text: str, width: int = LABEL) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _rows(session: Session, section: Section) -> list[dict[str, Any]]:
    return [dict(zip(section.columns, r, strict=True)) for r in section.rows(session)]


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure  # the object API: no pyplot, no global state

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return figure, figure.add_subplot()


def _whole_numbers(axes: Axes) -> None:
    """Counts of learners: ticks at whole numbers only (no "0.5 learners")."""
    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(integer=True))


def _empty(axes: Axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#4a5568")
    axes.set_axis_off()


def _funnel(title: str, rows: Sequence[dict[str, Any]], cohort: int) -> Figure:
    figure, axes = _figure(9, 1.6 + 0.42 * max(len(rows), 3))
    figure.suptitle(f"Drop-off funnel: {title}", fontsize=13, fontweight="bold")
    if not rows:
        _empty(axes, "This course has no lessons yet.")
        return figure
    labels = [f"{r['position']}. {_short(r['title'])}" for r in rows]
    shares = [r["share"] or 0.0 for r in rows]
    bars = axes.barh(labels, shares, color=[BLUE if r["required"] else GREY for r in rows])
    axes.invert_yaxis()  # lesson 1 on top
    axes.set_xlim(0, 112)
    axes.set_xlabel(f"Learners who completed the lesson (% of {cohort} enrolled)")
    for bar, row in zip(bars, rows, strict=True):
        axes.text(
            bar.get_width() + 1,
            bar.get_y() + bar.get_height() / 2,
            f"{row['share'] or 0:.0f} % ({row['learners_completed']})",
            va="center",
            fontsize=9,
        )
    axes.grid(axis="x", alpha=0.3)
    if not all(r["required"] for r in rows):
        axes.set_title("grey: optional lessons", fontsize=9, color="#4a5568")
    return figure


def _enrollments(title: str, rows: Sequence[dict[str, Any]]) -> Figure:
    figure, axes = _figure(max(7.0, 1.5 + 0.45 * len(rows)), 4.8)
    figure.suptitle(
        f"Enrollments and completions per week: {title}", fontsize=13, fontweight="bold"
    )
    if not rows:
        _empty(axes, "No enrollments in this period.")
        return figure
    x = range(len(rows))
    axes.bar(
        [i - 0.2 for i in x], [r["enrollments"] for r in rows], 0.4, label="enrolled", color=BLUE
    )
    axes.bar(
        [i + 0.2 for i in x], [r["completions"] for r in rows], 0.4, label="completed", color=ORANGE
    )
    step = max(1, len(rows) // 16)  # at most about 16 week labels: they never overlap
    axes.set_xticks(list(x)[::step], [r["week"] for r in rows][::step], rotation=45, ha="right")
    axes.set_xlabel("Week (starting Monday, UTC)")
    axes.set_ylabel("Learners")
    _whole_numbers(axes)
    axes.legend(frameon=False)
    axes.grid(axis="y", alpha=0.3)
    return figure


def _scores(title: str, rows: Sequence[dict[str, Any]]) -> Figure:
    quizzes: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        quizzes.setdefault(row["quiz"], []).append(row)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 1.2 + 2.6 * max(len(quizzes), 1)), dpi=110, layout="constrained")
    figure.suptitle(f"Final quiz scores: {title}", fontsize=13, fontweight="bold")
    if not quizzes:
        _empty(figure.add_subplot(), "This course has no quizzes.")
        return figure
    for n, (quiz, bands) in enumerate(quizzes.items(), start=1):
        axes = figure.add_subplot(len(quizzes), 1, n)
        labels = [f"{b['score_from']}-{b['score_to']}" for b in bands]
        counts = [b["learners"] for b in bands]
        axes.bar(labels, counts, color=BLUE)
        total = sum(counts)
        learners = "learner" if total == 1 else "learners"
        axes.set_title(f"{_short(quiz, 60)} ({total} {learners})", fontsize=10, loc="left")
        axes.set_ylabel("Learners")
        _whole_numbers(axes)
        axes.grid(axis="y", alpha=0.3)
        axes.tick_params(axis="x", labelsize=8)
        if n == len(quizzes):
            axes.set_xlabel("Final score (%)")
    return figure


def _questions(title: str, rows: Sequence[dict[str, Any]]) -> Figure:
    figure, axes = _figure(9, 1.8 + 0.55 * max(len(rows), 3))
    figure.suptitle(f"Item analysis: {title}", fontsize=13, fontweight="bold")
    if not rows:
        _empty(axes, "This course has no quiz questions.")
        return figure
    several = len({r["quiz"] for r in rows}) > 1
    labels = [
        _short(
            (f"{_short(r['quiz'], 14)} " if several else "") + f"Q{r['position']} {r['question']}"
        )
        for r in rows
    ]
    y = range(len(rows))
    facility = [r["facility_index"] or 0.0 for r in rows]
    discrimination = [r["discrimination_index"] for r in rows]
    axes.barh([i - 0.2 for i in y], facility, 0.4, label="facility index (% of points)", color=BLUE)
    axes.barh(
        [i + 0.2 for i in y],
        [d or 0.0 for d in discrimination],
        0.4,
        label="discrimination index (correlation with the rest of the quiz, %)",
        color=ORANGE,
    )
    for i, d in enumerate(discrimination):
        if d is None:  # too few attempts, or everybody alike: no bar would look like 0
            axes.text(
                0.5, i + 0.2, "no discrimination index", va="center", fontsize=7, color="#4a5568"
            )
    axes.set_yticks(list(y), labels)
    axes.invert_yaxis()
    axes.axvline(30, color="#4a5568", linestyle="--", linewidth=1)
    low = min([0.0, *(d for d in discrimination if d is not None)])
    axes.set_xlim(low - 5 if low < 0 else 0, 105)
    attempts = sorted({r["attempts"] for r in rows})
    counted = f"{attempts[0]}" if len(attempts) == 1 else f"{attempts[0]}-{attempts[-1]}"
    axes.set_xlabel(
        f"Index (%), over {counted} graded attempts per question; dashed: discrimination 30 "
        "(good above)"
    )
    figure.legend(loc="outside lower center", ncols=1, frameon=False, fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    return figure


def chart_format(path: Path) -> str:
    """``png`` or ``svg`` from the file name (the only ways a chart is written)."""
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            "cannot write a chart as "
            f"{path.suffix or 'a file without a suffix'}: name it *.png or *.svg",
            field="output",
            value=str(path),
        )
    return fmt


def draw_chart(
    session: Session, *, actor: Actor, kind: str, slug: str, period: Period, output: Path
) -> int:
    """Draw the course's ``kind`` chart into ``output`` (whole or not at all); the number of
    data rows drawn. Rights are the course report's."""
    if kind not in CHARTS:
        raise ValidationError(f"must be one of {', '.join(CHARTS)}", field="chart", value=kind)
    fmt = chart_format(output)
    report = course_report(session, actor=actor, slug=slug, period=period)
    title = _short(get_course(session, slug).title, 50)
    import matplotlib

    matplotlib.use("Agg")  # no display: cron, servers
    if kind == "course-funnel":
        rows = _rows(session, report.section("funnel"))
        [summary] = _rows(session, report.section("summary"))
        figure = _funnel(title, rows, summary["enrollments"])
    elif kind == "enrollments":
        rows = _rows(session, report.section("enrollments_per_week"))
        figure = _enrollments(title, rows)
    elif kind == "scores":
        rows = _rows(session, report.section("scores"))
        figure = _scores(title, rows)
    else:
        rows = _rows(session, report.section("questions"))
        figure = _questions(title, rows)
    with atomic_binary(output) as out:
        figure.savefig(out, format=fmt)
    return len(rows)
