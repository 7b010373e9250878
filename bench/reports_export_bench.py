"""Reports at scale, written to files: a 1,000,000-row report exported to CSV and to XLSX.

What is exported: no section of the four reports has a million rows on the bench's site (the
biggest, a course's at-risk list or a learner's courses, hold hundreds), so the export is the
student report's **courses** section (``lms_core.reports.student.enrollment_rows``: course,
status, dates, progress, lessons completed, course grade, certificate, last activity) for
*every* enrollment of the site at once: one row per enrollment, 1,000,000 at full size. It is
written by ``lms_core.reports.output.write_report``, the code ``lmsctl reports ... -o FILE``
runs, streaming from a server-side cursor on PostgreSQL.

Baseline, in the same run: the same statement run raw through the DBAPI driver (a named
cursor on PostgreSQL) and its rows written by the plain writers, ``csv.writer`` and an
openpyxl ``write_only`` workbook, with none of the report's value handling. Each export runs
in a fresh child process, which reports its own peak RSS (``VmHWM`` of ``/proc/self/status``).

Two measures per format. Peak RSS: the real export, streaming from the database. Rate: the
writing alone: each side's rows are fetched before the clock (at most ``--rate-rows``, the
first rows of the statement; on SQLite the raw side's timestamp text is turned into
datetimes as the report's fetch does), then only ``write_report`` or the plain writer is
timed, so the ratio compares writer with writer. ``--repeat`` runs (at least 3), the two
sides alternating which goes first, medians compared.

Targets: peak RSS under 300 MB for each report export, and its writing rate (rows a second)
at least 0.5x the plain writer's. Full size needs the site of ``reports_bench.py``: ``--pg URL --reuse
NAME`` uses (or fills once) that database; ``--quick`` fills a SQLite file with 2,000
enrollments and runs in seconds. Exit 0 when the bench ran, whether targets pass or miss.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

RSS_GOAL_MB = 300.0
RATE_GOAL = 0.5


def _statement() -> Any:
    from lms_core.models import Enrollment
    from lms_core.reports.student import enrollment_rows

    return enrollment_rows(select(Enrollment.id))


def _report() -> Any:
    from lms_core.reports.base import Period, Report, Section
    from lms_core.reports.student import COURSE_COLUMNS

    section = Section("courses", COURSE_COLUMNS, _statement(), stream=True)
    return Report("student", "every learner", Period.of(None, None), [section])


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _raw_rows(session: Session) -> Any:
    """The statement's rows straight from the driver's cursor, 1,000 at a time."""
    connection = session.connection()
    compiled = _statement().compile(dialect=connection.dialect)
    driver = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        cursor = driver.cursor(name="bench_export")  # type: ignore[union-attr]
        cursor.itersize = 1000  # type: ignore[union-attr]
        cursor.execute(str(compiled), compiled.params)
    else:
        params = compiled.construct_params()
        cursor = driver.cursor()  # type: ignore[union-attr]
        cursor.execute(str(compiled), [params[n] for n in compiled.positiontup or []])
    while chunk := cursor.fetchmany(1000):
        yield from chunk
    cursor.close()


def _fetched(session: Session, kind: str, limit: int) -> list[Any]:
    """The rows one side writes, fetched (up to ``limit``) before the clock starts."""
    from itertools import islice

    from lms_core.reports.base import plain

    if kind == "report-write":
        return list(islice(_report().sections[0].rows(session), limit))
    rows = list(islice(_raw_rows(session), limit))
    if session.get_bind().dialect.name == "sqlite":
        # SQLite's driver gives timestamps as text: made datetimes, as the report's fetch
        # does, so both writers get the same kinds of values.
        rows = [tuple(_sqlite_time(v) for v in row) for row in rows]
    return [tuple(plain(v) for v in row) for row in rows]


def _sqlite_time(value: Any) -> Any:
    from datetime import UTC, datetime

    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        try:
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        except ValueError:
            return value
    return value


class _Prefetched:
    """A section whose rows are already in memory: ``write_report`` then does only writing."""

    def __init__(self, section: Any, rows: list[Any]) -> None:
        self.name, self.columns, self._rows = section.name, section.columns, rows

    def rows(self, session: Session) -> Any:
        return iter(self._rows)


def child(kind: str, fmt: str, url: str, out: str, limit: int = 0) -> None:
    """One export in this fresh process; prints ``{"rows", "seconds", "peak_mb"}``.

    ``report``: the real export, streaming (its peak RSS is the target). ``report-write`` /
    ``raw-write``: rows fetched first, then only the writing timed (the rate target)."""
    from openpyxl import Workbook

    from lms_core.db import make_engine
    from lms_core.reports.base import Report
    from lms_core.reports.output import write_report
    from lms_core.reports.student import COURSE_COLUMNS
    from lms_core.settings import Settings

    # Everything imported before the clock starts: the rate is the writing's, not Python's.
    engine = make_engine(Settings(database_url=url, files_dir=Path(out).parent))
    rows = 0
    with Session(engine) as session:
        report = _report()
        if kind == "report-write":
            fetched = _fetched(session, kind, limit)
            report = Report(
                report.kind,
                report.subject,
                report.period,
                [_Prefetched(report.sections[0], fetched)],  # type: ignore[list-item]
            )
        elif kind == "raw-write":
            fetched = _fetched(session, kind, limit)
        started = time.perf_counter()
        if kind != "raw-write":
            if fmt == "xlsx":
                with open(out, "wb") as binary:
                    rows = write_report(session, report, fmt, binary)
            else:
                with open(out, "w", encoding="utf-8-sig", newline="") as textfile:
                    rows = write_report(session, report, fmt, textfile)
        elif fmt == "csv":
            with open(out, "w", encoding="utf-8-sig", newline="") as textfile:
                writer = csv.writer(textfile, lineterminator="\r\n")
                writer.writerow(COURSE_COLUMNS)
                for row in fetched:
                    writer.writerow(row)
                    rows += 1
        else:
            book = Workbook(write_only=True)
            sheet = book.create_sheet("courses")
            sheet.append(list(COURSE_COLUMNS))
            for row in fetched:
                sheet.append([v.replace(tzinfo=None) if hasattr(v, "tzinfo") else v for v in row])
                rows += 1
            book.save(out)
    seconds = time.perf_counter() - started
    engine.dispose()
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": _peak_mb()}))


def run_child(kind: str, fmt: str, url: str, out: Path, limit: int = 0) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, fmt, url, str(out), str(limit)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["bytes"] = out.stat().st_size
    out.unlink()
    return result


def _site(args: argparse.Namespace, tmp: Path) -> tuple[str, str]:
    """(name, URL) of a filled site: the kept PostgreSQL one, or a fresh SQLite file."""
    sys.path.insert(0, str(Path(__file__).parent))
    from support.databases import kept_postgres_database
    from support.reports_fill import fill, top_up

    from lms_core.db import make_engine
    from lms_core.ops import schema
    from lms_core.settings import Settings

    if args.pg:
        name, url = "postgresql", kept_postgres_database(args.pg, args.reuse)
    else:
        name, url = "sqlite", f"sqlite:///{tmp / 'export.db'}"
    settings = Settings(database_url=url, files_dir=tmp / "files")
    engine = make_engine(settings)
    schema.upgrade(engine)
    with engine.connect() as conn:
        filled = conn.scalar(text("SELECT count(*) FROM enrollments"))
    if filled:
        top_up(engine)
    else:
        users, courses, enrollments = (int(v) for v in args.size.split(","))
        started = time.perf_counter()
        fill(engine, settings, users, courses, enrollments)
        print(f"{name}: filled in {time.perf_counter() - started:.1f} s")
    engine.dispose()
    return name, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="SQLite, 2,000 rows (seconds)")
    parser.add_argument("--pg", metavar="URL", default=None, help="PostgreSQL server")
    parser.add_argument(
        "--reuse", metavar="NAME", default="lms_bench_reports", help="database kept on --pg"
    )
    parser.add_argument("--size", default=None, help="USERS,COURSES,ENROLLMENTS when filling")
    parser.add_argument(
        "--repeat", type=int, default=3, help="writing runs per side (at least 3); median counts"
    )
    parser.add_argument(
        "--rate-rows",
        type=int,
        default=200_000,
        help="rows fetched before the clock for the writing rate (memory: they are held)",
    )
    parser.add_argument("--child", nargs=5, metavar=("KIND", "FORMAT", "URL", "OUT", "LIMIT"))
    args = parser.parse_args(argv)
    if args.child:
        kind, fmt, url, out, limit = args.child
        child(kind, fmt, url, out, int(limit))
        return 0
    args.size = args.size or ("500,10,2000" if args.quick or not args.pg else "100000,2000,1000000")
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lms-bench-export-") as tmp_name:
        tmp = Path(tmp_name)
        name, url = _site(args, tmp)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), {name}")
        for fmt in ("csv", "xlsx"):
            out = tmp / f"out.{fmt}"
            export = run_child("report", fmt, url, out)
            print(
                f"{name}: {fmt} export (streaming): {export['rows']:,.0f} rows in "
                f"{export['seconds']:.1f} s, peak RSS {export['peak_mb']:.0f} MB, "
                f"{export['bytes'] / 1e6:.1f} MB file"
            )
            runs: dict[str, list[dict[str, float]]] = {"report-write": [], "raw-write": []}
            for n in range(max(3, args.repeat)):
                order = ("raw-write", "report-write") if n % 2 else ("report-write", "raw-write")
                for kind in order:
                    runs[kind].append(run_child(kind, fmt, url, out, args.rate_rows))
            median = {
                k: sorted(v, key=lambda r: r["seconds"])[len(v) // 2] for k, v in runs.items()
            }
            rate = {k: r["rows"] / r["seconds"] for k, r in median.items()}
            for kind, r in median.items():
                print(
                    f"{name}: {fmt} {kind} (rows fetched first): {r['rows']:,.0f} rows in "
                    f"{r['seconds']:.2f} s ({rate[kind]:,.0f} rows/s), median of {len(runs[kind])}"
                )
            ok = export["peak_mb"] < RSS_GOAL_MB
            lines.append(
                f"target {name}_export_{fmt}_peak_rss_mb: {export['peak_mb']:.0f} "
                f"(goal < {RSS_GOAL_MB:g}) {'PASS' if ok else 'MISS'}"
            )
            ratio = rate["report-write"] / rate["raw-write"]
            lines.append(
                f"target {name}_export_{fmt}_write_rate_vs_raw_writer: {ratio:.2f} "
                f"(goal >= {RATE_GOAL:g}) {'PASS' if ratio >= RATE_GOAL else 'MISS'}"
            )
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
