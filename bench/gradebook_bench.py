"""Gradebook export at scale: rows/s and peak memory of ``lmsctl gradebook export``.

What: one course with 200,000 enrollments (``--quick``: 5,000), three graded quizzes with one
or two graded attempts for most learners (grading methods highest, latest, average), and two
assignments with graded submissions (some late), all written with bulk Core inserts into a
fresh, migrated SQLite file (and PostgreSQL with ``--pg URL``). Then ``lmsctl gradebook export
COURSE --format csv|xlsx -o FILE`` runs as a separate process, timed from start to exit, and
its peak resident memory is read from the kernel (``wait4`` rusage).

Baseline, measured in the same run and the same way (a child process): the plainest streaming
export of the same enrollments -- one raw DBAPI cursor over ``enrollments JOIN users`` in id
order (sqlite3 cursor iteration / a psycopg2 named cursor), written with ``csv.writer``, no
grades at all. The ratio says what the grades (two IN-chunked score queries per 1,000 learners,
the per-row total) cost on top of reading the roster.

Target: peak RSS of the export stays flat (goal <= 300 MB at 200k learners, whatever the
number of learners: compare the quick run's figure). Exit status 0 when the benchmark ran,
whether targets pass or miss; non-zero when it could not run (an error, or a row count that
does not match).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.engine import make_url

from lms_core.db import make_engine
from lms_core.models import (
    Assignment,
    Attempt,
    Course,
    Enrollment,
    Lesson,
    Quiz,
    Submission,
    User,
)
from lms_core.ops import schema
from lms_core.settings import Settings

RSS_GOAL_MB = 300.0
BATCH = 10_000
QUIZZES = (("quiz-1", "highest"), ("quiz-2", "latest"), ("quiz-3", "average"))
ASSIGNMENTS = ("essay-1", "essay-2")
DUE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_names = itertools.count()


@contextmanager
def fresh_database(tmp: Path, pg: str | None) -> Iterator[str]:
    if pg is None:
        path = tmp / f"gradebook-{next(_names)}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    url = make_url(pg)
    name = f"lms_bench_gb_{os.getpid()}_{next(_names)}"

    def admin(sql: str) -> None:
        engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()

    admin(f'DROP DATABASE IF EXISTS "{name}"')
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    while batch := list(itertools.islice(rows, BATCH)):
        yield batch


def populate(engine: Engine, learners: int) -> dict[str, int]:
    """Bulk-insert the course, its items and every learner's grades; returns row counts."""
    rng = random.Random(42)
    now = datetime.now(UTC)
    counts = dict.fromkeys(("users", "enrollments", "attempts", "submissions"), 0)
    with engine.begin() as conn:
        instructor = conn.execute(
            insert(User).returning(User.id),
            {"email": "teacher@bench.invalid", "full_name": "Bench Teacher", "role": "instructor"},
        ).scalar_one()
        course = conn.execute(
            insert(Course).returning(Course.id),
            {"slug": "bench", "title": "Bench", "instructor_id": instructor, "is_published": True},
        ).scalar_one()
        quiz_ids, assignment_ids = [], []
        for order, (slug, method) in enumerate(QUIZZES, start=1):
            lesson = conn.execute(
                insert(Lesson).returning(Lesson.id),
                {
                    "course_id": course,
                    "slug": slug,
                    "title": slug,
                    "lesson_type": "quiz",
                    "order_index": order,
                },
            ).scalar_one()
            quiz_ids.append(
                conn.execute(
                    insert(Quiz).returning(Quiz.id),
                    {
                        "lesson_id": lesson,
                        "title": slug.title(),
                        "grading_method": method,
                        "is_published": True,
                    },
                ).scalar_one()
            )
        for order, slug in enumerate(ASSIGNMENTS, start=len(QUIZZES) + 1):
            lesson = conn.execute(
                insert(Lesson).returning(Lesson.id),
                {
                    "course_id": course,
                    "slug": slug,
                    "title": slug,
                    "lesson_type": "assignment",
                    "order_index": order,
                },
            ).scalar_one()
            assignment_ids.append(
                conn.execute(
                    insert(Assignment).returning(Assignment.id),
                    {
                        "course_id": course,
                        "lesson_id": lesson,
                        "title": slug.title(),
                        "due_date": DUE,
                        "max_points": Decimal(20),
                        "late_penalty_percent": Decimal(10),
                    },
                ).scalar_one()
            )
        first_user = None
        for batch in _batches(
            {
                "email": f"learner-{i:07d}@bench.invalid",
                "full_name": f"Learner {i}" if i % 97 else f"=cmd|' /C calc'!A{i}",
                "role": "student",
            }
            for i in range(learners)
        ):
            ids = conn.execute(insert(User).returning(User.id), batch).scalars().all()
            first_user = first_user if first_user is not None else min(ids)
            counts["users"] += len(batch)
        user_ids = range(first_user or 0, (first_user or 0) + learners)
        enrollment_ids: list[int] = []
        for batch in _batches(
            {
                "student_id": uid,
                "course_id": course,
                "status": "active",
                "enrolled_at": now,
                "progress_percentage": Decimal(rng.randrange(0, 101)),
            }
            for uid in user_ids
        ):
            enrollment_ids += (
                conn.execute(insert(Enrollment).returning(Enrollment.id), batch).scalars().all()
            )
            counts["enrollments"] += len(batch)

        def attempts() -> Iterator[dict[str, Any]]:
            for eid in enrollment_ids:
                for qid in quiz_ids:
                    if rng.random() < 0.2:
                        continue
                    for number in range(1, rng.choice((2, 3))):
                        yield {
                            "enrollment_id": eid,
                            "quiz_id": qid,
                            "number": number,
                            "status": "graded",
                            "score": Decimal(rng.randrange(0, 10001)) / 100,
                            "shuffle_seed": number,
                            "started_at": now,
                            "answers": {},
                            "question_scores": {},
                        }

        for batch in _batches(attempts()):
            conn.execute(insert(Attempt), batch)
            counts["attempts"] += len(batch)

        def submissions() -> Iterator[dict[str, Any]]:
            for uid in user_ids:
                for aid in assignment_ids:
                    if rng.random() < 0.3:
                        continue
                    late = rng.random() < 0.1
                    yield {
                        "assignment_id": aid,
                        "student_id": uid,
                        "submitted_at": DUE + timedelta(hours=30 if late else -5),
                        "content": "work",
                        "days_late": 2 if late else 0,
                        "grade": Decimal(rng.randrange(0, 2001)) / 100,
                        "graded_at": now,
                    }

        for batch in _batches(submissions()):
            conn.execute(insert(Submission), batch)
            counts["submissions"] += len(batch)
    return counts


BASELINE = r"""
import csv, sys
url, out = sys.argv[1], sys.argv[2]
sql = ("SELECT e.id, u.email, u.full_name, e.progress_percentage, e.status, e.completed_at "
       "FROM enrollments e JOIN users u ON u.id = e.student_id "
       "WHERE e.status != 'dropped' ORDER BY e.id")
if url.startswith("sqlite"):
    import sqlite3
    conn = sqlite3.connect(url.split("///", 1)[1])
    cursor = conn.cursor()
else:
    import psycopg2
    conn = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    cursor = conn.cursor(name="baseline")
    cursor.itersize = 1000
cursor.execute(sql)
with open(out, "w", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle)
    writer.writerow(["email", "full_name", "progress_percentage", "status", "completed_at"])
    for row in cursor:
        writer.writerow(row[1:])
conn.close()
"""


#: Run in the child before its own code: at exit, write its peak RSS (VmHWM) to a file. Not
#: ``ru_maxrss`` from ``wait4``: a child spawned by a big parent inherits the parent's high-water
#: mark there, while ``VmHWM`` belongs to the child's own address space.
PEAK = (
    "import atexit, os\n"
    "def _peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            open(os.environ['LMS_BENCH_PEAK'], 'w').write(line.split()[1])\n"
    "atexit.register(_peak)\n"
)


def run_child(code: str, args: list[str], env: dict[str, str], tmp: Path) -> tuple[float, float]:
    """Run Python ``code`` in a new process; its wall seconds and peak RSS in MB."""
    peak = tmp / "peak.kb"
    peak.unlink(missing_ok=True)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PEAK + code, *args],
        env={**env, "LMS_BENCH_PEAK": str(peak)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{args[:3]} exited {result.returncode}: {result.stderr.decode()}")
    return seconds, int(peak.read_text()) / 1024


def count_lines(path: Path, fmt: str) -> int:
    if fmt == "csv":
        with open(path, encoding="utf-8", newline="") as handle:
            import csv

            return sum(1 for _ in csv.reader(handle)) - 1
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        return sum(1 for _ in book.active.iter_rows(values_only=True)) - 1
    finally:
        book.close()


def bench(label: str, url: str, tmp: Path, learners: int, formats: Sequence[str]) -> list[str]:
    settings = Settings(database_url=url, files_dir=tmp / "files")
    engine = make_engine(settings)
    try:
        schema.upgrade(engine)
        started = time.perf_counter()
        counts = populate(engine, learners)
        seconds = time.perf_counter() - started
        # Planner statistics, as a live database has them (autovacuum, or SQLite's ANALYZE):
        # right after a bulk load PostgreSQL would otherwise scan whole tables.
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        with engine.connect() as conn:
            total = conn.scalar(select(Enrollment.id).order_by(Enrollment.id.desc()).limit(1))
    finally:
        engine.dispose()
    rows = sum(counts.values())
    print(
        f"\n== {label}: {counts['enrollments']:,} enrollments, {counts['attempts']:,} attempts, "
        f"{counts['submissions']:,} submissions (generated in {seconds:.1f} s, "
        f"{rows / seconds:,.0f} rows/s; last enrollment id {total})"
    )
    env = {**os.environ, "LMS_DATABASE_URL": url, "LMS_FILES_DIR": str(tmp / "files")}
    env.pop("LMS_ACTOR", None)
    base_out = tmp / "baseline.csv"
    base_s, base_rss = run_child(BASELINE, [url, str(base_out)], env, tmp)
    base_rate = learners / base_s
    print(
        f"  baseline (raw cursor -> csv, no grades): {base_s:7.2f} s  {base_rate:>10,.0f} rows/s"
        f"  peak RSS {base_rss:6.1f} MB"
    )
    lines = []
    suffix = "" if label == "sqlite" else "_pg"
    lmsctl = "import sys\nsys.argv[0] = 'lmsctl'\nfrom lmsctl.main import run\nrun()\n"
    for fmt in formats:
        out = tmp / f"gradebook.{fmt}"
        secs, rss = run_child(
            lmsctl, ["gradebook", "export", "bench", "--format", fmt, "-o", str(out)], env, tmp
        )
        written = count_lines(out, fmt)
        if written != learners:
            raise RuntimeError(f"the {fmt} gradebook has {written} rows, expected {learners}")
        rate = learners / secs
        print(
            f"  lmsctl gradebook export --format {fmt:<4}: {secs:7.2f} s  {rate:>10,.0f} rows/s"
            f"  peak RSS {rss:6.1f} MB  (rows/s vs baseline {rate / base_rate:.2f})"
        )
        name = "gradebook_rss_mb" if fmt == "csv" else f"gradebook_{fmt}_rss_mb"
        ok = rss <= RSS_GOAL_MB
        lines.append(
            f"target {name}{suffix}: {rss:.1f} (goal <= {RSS_GOAL_MB:g}) {'PASS' if ok else 'MISS'}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5,000 learners (CI smoke test)")
    parser.add_argument("--learners", type=int, default=None, help="default 200,000")
    parser.add_argument(
        "--formats", default="csv,xlsx", help="comma-separated: csv, xlsx (default both)"
    )
    parser.add_argument(
        "--pg",
        metavar="URL",
        default=None,
        help="also on this PostgreSQL server (databases lms_bench_gb_* are created and dropped)",
    )
    args = parser.parse_args(argv)
    learners = args.learners or (5_000 if args.quick else 200_000)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), {learners:,} learners")
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lms-bench-gradebook-") as tmp_name:
        tmp = Path(tmp_name)
        with fresh_database(tmp, None) as url:
            lines += bench("sqlite", url, tmp, learners, formats)
        if args.pg:
            with fresh_database(tmp, args.pg) as url:
                lines += bench("postgresql", url, tmp, learners, formats)
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
