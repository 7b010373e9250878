"""Reports at scale: how long each figure of ``lms_core.reports`` takes on a big site.

What: learners, courses (5 lessons each, the fifth a graded quiz of 5 multiple-choice
questions) and enrollments made by the demo generator (``lms_core.ops.demo.generate``), then,
with set-based ``INSERT ... SELECT``/``UPDATE`` statements: enrollment dates over 180 days, a
quarter completed, a tenth dropped, a third rated; lesson progress (1 to 5 lessons per
enrollment); one graded quiz attempt per enrollment with per-question points and answers;
then (``support/reports_fill.top_up``) every grading method (a quarter of the quizzes each),
a second graded attempt on even quizzes and a third, submitted and pending, for a third of
those; an assignment per course with half the learners submitting (a seventh late, two
thirds graded); a certificate per completion (one in five revoked); 180 import runs and 100
jobs (half dead). ``--reuse`` tops up a database filled before these existed.
Full size: 1,000,000 enrollments over 100,000 learners and 2,000 courses, 1,000,000
attempts (``--quick``: 10,000 over 2,000 and 20, in seconds). On SQLite, and on PostgreSQL
with ``--pg URL`` (a server: a fresh database is created and dropped).

Timed: every section of the course report (a course of average size), the instructor report
(the generator's first instructor), the student report and the system report (all history,
and the last 12 weeks a dashboard shows), each query run and every row fetched, median of
``--repeat`` runs (at least 31 for a figure under 2 ms), each run reading the section of a
newly built report as the product does (built outside the clock, as the twin's SQL text is);
the number of statements per report is counted and the median time to build the report (its
look-ups and the values of its kept statements) printed. Baselines: every figure has a
hand-written SQL twin (``support/report_twins.py``) run raw through the driver in the same
run, as many times, each run right after a report is built as the figure's are (its time in
a back-to-back loop is printed too), its rows checked against the report's; the ratio
report / hand-written is printed.

Targets printed as ``target NAME: X (goal ...) PASS|MISS``: each figure within 2x its
hand-written SQL, with the same rows (a twin that gives other rows is a MISS); on PostgreSQL each dashboard figure (course summary, funnel, weekly
series; system totals, active learners and weekly series of the last 12 weeks) under 200 ms.
``--reuse NAME`` (with ``--pg``) fills database NAME once and measures it again on later runs
(the full-size fill takes many minutes). Exit 0 when the bench ran, whether targets pass or
miss.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session
from support.databases import kept_postgres_database, postgres_databases, sqlite_databases
from support.report_twins import twins
from support.reports_fill import fill, top_up, vacuum_analyze

from lms_core.actor import Actor
from lms_core.db import make_engine
from lms_core.models import Course, Enrollment, User
from lms_core.ops import schema
from lms_core.reports.base import Period, Report, plain
from lms_core.reports.course import INACTIVE_DAYS, course_report
from lms_core.reports.instructor import instructor_report
from lms_core.reports.student import student_report
from lms_core.reports.system import system_report
from lms_core.settings import Settings

RATIO_GOAL = 2.0
DASHBOARD_MS = 200.0
DASHBOARD = {
    ("course", "summary"),
    ("course", "funnel"),
    ("course", "enrollments_per_week"),
    ("system_12_weeks", "totals"),
    ("system_12_weeks", "active_learners"),
    ("system_12_weeks", "enrollments_per_week"),
}


#: Figures under SMALL_MS are timed SMALL_RUNS times at least, theirs and their twins'.
SMALL_MS, SMALL_RUNS = 2.0, 31


def median_ms(run: Callable[[], Any], repeat: int) -> float:
    """The median of ``repeat`` runs, in ms: on a shared machine the fastest run is luck."""
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def fresh_median_ms(
    session: Session, build: Callable[[], Report], section: str, repeat: int
) -> float:
    """The median of ``repeat`` reads of the section, each of a newly built report, in ms:
    what lmsctl, the API and the back office do (build a report, read each section once).

    The report is built outside the clock, as the twin's SQL text is written outside it (a
    build is its look-ups and the values of its placeholders: the statements are kept, built
    once per shape, lms_core/reports/prepared.py); the read inside it is all the product
    pays then: the kept statement's compiled form looked up, its parameters made, the query
    run on the driver's cursor, every row fetched, type-processed and normalised."""
    times = []
    for _ in range(max(1, repeat)):
        fresh = build().section(section)
        start = time.perf_counter()
        list(fresh.rows(session))
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2])[:40])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _raw(driver: Any, sql: str, args: Any) -> None:
    """A query through the DBAPI connection itself: no SQLAlchemy between."""
    cursor = driver.cursor()
    cursor.execute(sql, args)
    cursor.fetchall()
    cursor.close()


def _twin(
    session: Session,
    sql: str,
    values: dict[str, Any],
    section: Any,
    build: Callable[[], Any],
    repeat: int = 3,
) -> tuple[float, float, str | None]:
    """The twin's median times raw through the driver, and how its rows (normalised as the
    report's are) differ from the report's: ``None`` when they match, else a note. A twin
    that gives other rows is no baseline, so the figure's target then misses.

    Two times: each run right after a report is built (outside the clock), as the figure's
    own runs are, which is what the ratio compares; and back to back in a loop (printed
    too). The build's statements leave the CPU's caches and the driver colder for the next
    query: after a build, the twin of a learner's assignments (an empty result) took
    ~30 us on SQLite, ~15 us in a loop; a ratio against the loop would compare the figure
    after a build with its twin without one."""
    engine = session.get_bind()
    statement = text(sql)
    compiled = statement.compile(dialect=engine.dialect)
    sqlite = engine.dialect.name == "sqlite"

    def bind(v: Any) -> Any:
        # SQLite stores naive UTC text with microseconds: bind timestamps the same way.
        if sqlite and isinstance(v, datetime):
            return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return v

    params = {k: bind(v) for k, v in compiled.construct_params(values).items()}
    args: Any = [params[n] for n in compiled.positiontup or []] if compiled.positional else params
    raw = session.connection().connection.dbapi_connection
    loop = median_ms(lambda: _raw(raw, str(compiled), args), repeat)
    times = []
    for _ in range(max(1, repeat)):
        build()
        start = time.perf_counter()
        _raw(raw, str(compiled), args)
        times.append(time.perf_counter() - start)
    base = statistics.median(times) * 1000
    cursor = raw.cursor()  # type: ignore[union-attr]
    cursor.execute(str(compiled), args)
    theirs = [tuple(plain(v) for v in row) for row in cursor.fetchall()]
    cursor.close()
    ours = list(section.rows(session))
    return base, loop, rows_differ(ours, theirs)


def rows_differ(ours: list[tuple[Any, ...]], theirs: list[tuple[Any, ...]]) -> str | None:
    """``None`` when the report's rows and the twin's are alike value by value, else what
    differs (row count, column count, or how many values)."""
    if len(theirs) != len(ours):
        return f"rows differ: {len(ours)} vs {len(theirs)}"
    widths = {(len(a), len(b)) for a, b in zip(ours, theirs, strict=True) if len(a) != len(b)}
    if widths:
        ours_w, theirs_w = sorted(widths)[0]
        return f"columns differ: {ours_w} vs {theirs_w}"
    differ = sum(
        1
        for a, b in zip(ours, theirs, strict=True)
        for x, y in zip(a, b, strict=True)
        if not _alike(x, y)
    )
    return f"{differ} value(s) differ" if differ else None


def vs_sql_target(name: str, ratio: float, differ: str | None) -> str:
    """The ``_vs_sql`` target: strictly within RATIO_GOAL of the twin, and the same rows (a
    twin giving other rows measures another query: a MISS, whatever the ratio)."""
    verdict = "PASS" if ratio <= RATIO_GOAL and differ is None else "MISS"
    note = f", {differ}" if differ else ""
    return f"target {name}_vs_sql: {ratio:.2f} (goal <= {RATIO_GOAL:g}, same rows{note}) {verdict}"


def _alike(x: Any, y: Any) -> bool:
    """Equal once the drivers' spellings are set aside: SQLite gives booleans as 0/1 and
    timestamps as text; doubles may differ in the last digits (both are rounded to 0.01)."""

    def norm(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] in " T":
            return v[:10] + " " + v[11:19]
        if isinstance(v, bool):
            return int(v)
        return v

    x, y = norm(x), norm(y)
    if isinstance(x, int | float) and isinstance(y, int | float):
        return abs(float(x) - float(y)) < 0.011
    return bool(x == y)


def bench(
    name: str, url: str, tmp: Path, size: tuple[int, int, int], repeat: int, reuse: bool = False
) -> list[str]:
    settings = Settings(database_url=url, files_dir=tmp / "files")
    engine = make_engine(settings)
    was = schema.current_revision(engine)
    started = time.perf_counter()
    schema.upgrade(engine)
    upgraded = time.perf_counter() - started
    with engine.connect() as conn:
        filled = conn.scalar(text("SELECT count(*) FROM enrollments"))
    if reuse and filled:
        print(f"{name}: reusing the site already there ({filled:,} enrollments)")
        if was != schema.current_revision(engine):
            # A migration may have rewritten rows (a76b140908e4 fills every user's last
            # activity): measure them as autovacuum would leave them on a live site.
            vacuum_analyze(engine)
            print(f"{name}: upgraded from {was} in {upgraded:.1f} s, then VACUUM ANALYZE")
        started = time.perf_counter()
        if top_up(engine):
            print(f"{name}: topped up in {time.perf_counter() - started:.1f} s")
    else:
        started = time.perf_counter()
        fill(engine, settings, *size)
        print(f"{name}: filled in {time.perf_counter() - started:.1f} s")
    pg = name == "postgresql"
    operator = Actor.operator("bench")
    lines: list[str] = []
    with Session(engine) as session:
        course_id = session.scalar(
            select(Enrollment.course_id)
            .group_by(Enrollment.course_id)
            .order_by(Enrollment.course_id)
            .limit(1)
            .offset(size[1] // 2)
        )
        slug = session.scalar(select(Course.slug).where(Course.id == course_id))
        teacher = session.scalar(select(User.email).where(User.role == "instructor").limit(1))
        learner = session.scalar(
            select(User.email).join(Enrollment, Enrollment.student_id == User.id).limit(1)
        )
        period = Period.of(None, None)
        reports: dict[str, Callable[[], Report]] = {
            "course": lambda: course_report(session, actor=operator, slug=slug, period=period),
            "instructor": lambda: instructor_report(
                session, actor=operator, email=teacher, period=period
            ),
            "student": lambda: student_report(
                session, actor=operator, email=learner, period=period
            ),
            "system": lambda: system_report(session, actor=operator, period=period),
            # What a dashboard shows: the last 12 weeks (the weekly series over all history
            # reads every enrollment, whatever the indexes).
            "system_12_weeks": lambda: system_report(
                session,
                actor=operator,
                period=Period.of(datetime.now(UTC) - timedelta(weeks=12), None),
            ),
        }
        learner_id = session.scalar(select(User.id).where(User.email == learner))
        teacher_id = session.scalar(select(User.id).where(User.email == teacher))
        hand = twins(pg)
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "course": course_id,
            "teacher": teacher_id,
            "learner": learner_id,
            "now": now,
            "week_ago": now - timedelta(days=7),
            "month_ago": now - timedelta(days=30),
            "idle_since": now - timedelta(days=INACTIVE_DAYS),
            "since": now - timedelta(weeks=12),
        }
        for kind, build in reports.items():
            with counting(engine) as statements:
                report = build()
                for section in report.sections:
                    list(section.rows(session))
            built = median_ms(build, repeat)
            print(
                f"{name}: {kind} report: {len(statements)} statement(s) "
                f"({len(report.sections)} section(s) + look-ups), built in {built:.1f} ms "
                "(median; its look-ups and statements, paid on every request)"
            )
            for section in report.sections:
                ms = fresh_median_ms(session, build, section.name, repeat)
                # A figure of a few rows takes ~0.1-2 ms, where one run in five can be 2x
                # the others on a shared machine: more runs (both sides) steady its median.
                runs = repeat if ms >= SMALL_MS else max(repeat, SMALL_RUNS)
                if runs > repeat:
                    ms = fresh_median_ms(session, build, section.name, runs)
                key = (kind, section.name)
                line = f"{name}: {kind}.{section.name}: {ms:.2f} ms"
                if key in hand:
                    base, loop, differ = _twin(session, hand[key], values, section, build, runs)
                    ratio = ms / base if base else float("inf")
                    line += (
                        f" (hand-written SQL {base:.2f} ms after a build, {loop:.2f} ms in a "
                        f"loop; x{ratio:.2f}, {differ or 'same rows'})"
                    )
                    lines.append(vs_sql_target(f"{name}_{kind}_{section.name}", ratio, differ))
                else:
                    line += " (no hand-written twin)"
                if pg and key in DASHBOARD:
                    verdict = "PASS" if ms < DASHBOARD_MS else "MISS"
                    lines.append(
                        f"target {name}_{kind}_{section.name}_ms: {ms:.1f} "
                        f"(goal < {DASHBOARD_MS:g}) {verdict}"
                    )
                print(line)
    engine.dispose()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10,000 enrollments (seconds)")
    parser.add_argument(
        "--size",
        metavar="USERS,COURSES,ENROLLMENTS",
        default=None,
        help="default 100000,2000,1000000 (--quick: 2000,20,10000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median counts")
    parser.add_argument("--pg", metavar="URL", default=None, help="also on this PostgreSQL server")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--reuse",
        metavar="NAME",
        default=None,
        help="PostgreSQL: fill database NAME once (created if missing) and keep it; later "
        "runs measure the site already there instead of generating it again",
    )
    args = parser.parse_args(argv)
    text_size = args.size or ("2000,20,10000" if args.quick else "100000,2000,1000000")
    users, courses, enrollments = (int(v) for v in text_size.split(","))
    size = (users, courses, enrollments)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), {users:,} learners, "
        f"{courses:,} courses, {enrollments:,} enrollments and attempts"
    )
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lms-bench-reports-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.no_sqlite:
            with sqlite_databases(tmp)() as url:
                lines += bench("sqlite", url, tmp, size, args.repeat)
        if args.pg and args.reuse:
            url = kept_postgres_database(args.pg, args.reuse)
            lines += bench("postgresql", url, tmp, size, args.repeat, reuse=True)
        elif args.pg:
            with postgres_databases(args.pg)() as url:
                lines += bench("postgresql", url, tmp, size, args.repeat)
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
