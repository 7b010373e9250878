"""Gradebook export at scale: rows/s and peak memory of ``lmsctl gradebook export``.

What: one course with 200,000 enrollments (``--quick``: 5,000), three graded quizzes with one
or two graded attempts for most learners (grading methods highest, latest, average), and two
assignments with graded submissions (some late), all written with bulk Core inserts into a
fresh, migrated SQLite file (and PostgreSQL with ``--pg URL``). Then ``lmsctl gradebook export
COURSE --format csv|xlsx -o FILE`` runs as a separate process, timed from start to exit, and
its peak resident memory is read from the kernel (``wait4`` rusage).

Baseline, measured in the same run and the same way (a child process): the same grades
computed by a hand-written SQL query (``BASELINE``: every final score, the late penalty and the
total, in one statement written for this course), read from a raw DBAPI cursor (sqlite3 / a
psycopg2 named cursor) and written with ``csv.writer``. The bench checks that the export and
the baseline carry the same rows and the same numbers (e-mail, every grade, total, progress,
compared as parsed values), then compares their rows/s. Each is run ``--repeat`` times (default
3) and the fastest run counts: on a shared machine the others measure the neighbours.

Targets: the CSV export reaches >= 0.5x the rows/s of the hand-written SQL (at 200k learners;
``--quick``'s 5,000 rows are mostly the start-up of Python and lmsctl), and its peak RSS stays
flat (goal <= 300 MB whatever the number of learners: compare the quick run's figure). Exit
status 0 when the benchmark ran, whether targets pass or miss; non-zero when it could not run
(an error, or rows or grades that do not match).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import resource
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
#: rows/s of the CSV export over rows/s of the hand-written SQL baseline (same grades).
SPEED_GOAL = 0.5
#: Below this many learners the export's time is mostly the start-up of Python and lmsctl
#: (about 0.5 s, against milliseconds for the baseline's): the ratio is printed, not judged.
SPEED_JUDGED_FROM = 100_000
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


def populate(engine: Engine, learners: int) -> tuple[dict[str, int], list[int], list[int]]:
    """Bulk-insert the course, its items and every learner's grades; returns row counts, and
    the ids of the quizzes and of the assignments (for the hand-written baseline)."""
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
    return counts, quiz_ids, assignment_ids


#: The baseline: the same grades by a hand-written SQL query, written with csv.writer. For this
#: course only (its quiz and assignment ids are arguments): quiz 1 highest, quiz 2 latest,
#: quiz 3 average, two assignments of 20 points with 10 % off per day late; the total is the
#: mean of the five items' %, rounded half up. In whole hundredths, so that no float decides a
#: rounding; ``number * 1000000 + score`` picks the score of the latest attempt.
BASELINE = r"""
import csv, sys
url, out = sys.argv[1], sys.argv[2]
q1, q2, q3, a1, a2 = (int(v) for v in sys.argv[3:8])
score = "CAST(ROUND(score * 100) AS BIGINT)"
penalty = "CASE WHEN days_late * 1000 > 10000 THEN 10000 ELSE days_late * 1000 END"
final = f"(2 * CAST(ROUND(grade * 100) AS BIGINT) * (10000 - {penalty}) + 10000) / 20000"
q3s = f"CASE WHEN quiz_id = {q3} THEN {score} END"
real = "CAST({} AS DOUBLE PRECISION) / 100"
total = ("(2 * (2000 * (COALESCE(q1, 0) + COALESCE(q2, 0) + COALESCE(q3, 0)) "
         "+ 10000 * (COALESCE(a1, 0) + COALESCE(a2, 0))) + 10000) / 20000")
columns = ", ".join(real.format(c) for c in ("q1", "q2", "q3", "a1", "a2", total))
sql = f'''
SELECT email, full_name, {columns}, CAST(progress_percentage AS DOUBLE PRECISION), status, completed_at
FROM (
  SELECT e.id, u.email, u.full_name, q.q1, q.q2, q.q3, s.a1, s.a2,
         e.progress_percentage, e.status, e.completed_at
  FROM enrollments e
  JOIN users u ON u.id = e.student_id
  LEFT JOIN (
    SELECT enrollment_id,
           MAX(CASE WHEN quiz_id = {q1} THEN {score} END) AS q1,
           MAX(CASE WHEN quiz_id = {q2} THEN CAST(number AS BIGINT) * 1000000 + {score} END)
             % 1000000 AS q2,
           (2 * CAST(SUM({q3s}) AS BIGINT) + COUNT({q3s})) / NULLIF(2 * COUNT({q3s}), 0) AS q3
    FROM attempts
    WHERE quiz_id IN ({q1}, {q2}, {q3}) AND status = 'graded' AND score IS NOT NULL
    GROUP BY enrollment_id
  ) q ON q.enrollment_id = e.id
  LEFT JOIN (
    SELECT student_id,
           MAX(CASE WHEN assignment_id = {a1} THEN {final} END) AS a1,
           MAX(CASE WHEN assignment_id = {a2} THEN {final} END) AS a2
    FROM submissions
    WHERE assignment_id IN ({a1}, {a2}) AND grade IS NOT NULL
    GROUP BY student_id
  ) s ON s.student_id = e.student_id
  WHERE e.course_id = (SELECT id FROM courses WHERE slug = 'bench') AND e.status <> 'dropped'
) g
ORDER BY id
'''
if url.startswith("sqlite"):
    import sqlite3
    conn = sqlite3.connect(url.split("///", 1)[1])
    cursor = conn.cursor()
else:
    import psycopg2
    conn = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    cursor = conn.cursor(name="baseline")
    cursor.itersize = 2000
cursor.execute(sql)
with open(out, "w", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle)
    writer.writerow(["email", "full_name", "q1", "q2", "q3", "a1", "a2", "total",
                     "progress_percentage", "status", "completed_at"])
    writer.writerows(cursor)
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


def run_child(
    code: str, args: list[str], env: dict[str, str], tmp: Path
) -> tuple[float, float, float]:
    """Run Python ``code`` in a new process; its wall seconds, peak RSS in MB and CPU seconds
    (user + system: what the run costs, whatever else the machine is doing)."""
    peak = tmp / "peak.kb"
    peak.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PEAK + code, *args],
        env={**env, "LMS_BENCH_PEAK": str(peak)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if result.returncode != 0:
        raise RuntimeError(f"{args[:3]} exited {result.returncode}: {result.stderr.decode()}")
    return seconds, int(peak.read_text()) / 1024, cpu


def read_grades(path: Path, fmt: str) -> list[tuple[str, ...]]:
    """Each row's e-mail and numbers (grades, total, progress), as text with two decimals.

    The exported names are formula-safe and the baseline's are not, so names are left out.
    """

    def number(value: Any) -> str:
        return "" if value in (None, "") else f"{Decimal(str(value)):.2f}"

    def grades(row: Sequence[Any]) -> tuple[str, ...]:
        return (str(row[0]), *(number(v) for v in row[2:-2]))

    if fmt == "csv":
        import csv

        with open(path, encoding="utf-8-sig", newline="") as handle:
            return [grades(row) for row in itertools.islice(csv.reader(handle), 1, None)]
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        rows = book.active.iter_rows(values_only=True)
        width = len(next(rows))  # read-only sheets leave out a row's empty cells at its end
        return [grades((*row, *[None] * (width - len(row)))) for row in rows]
    finally:
        book.close()


def best_of(
    repeat: int, code: str, args: list[str], env: dict[str, str], tmp: Path
) -> tuple[float, float, float]:
    """:func:`run_child` ``repeat`` times: the fastest wall time (the least disturbed by other
    work on the machine), the highest peak RSS and the least CPU time."""
    runs = [run_child(code, args, env, tmp) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs), min(r[2] for r in runs)


def bench(
    label: str, url: str, tmp: Path, learners: int, formats: Sequence[str], repeat: int
) -> list[str]:
    settings = Settings(database_url=url, files_dir=tmp / "files")
    engine = make_engine(settings)
    try:
        schema.upgrade(engine)
        started = time.perf_counter()
        counts, quiz_ids, assignment_ids = populate(engine, learners)
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
    ids = [str(i) for i in (*quiz_ids, *assignment_ids)]
    base_s, base_rss, base_cpu = best_of(repeat, BASELINE, [url, str(base_out), *ids], env, tmp)
    base_rate = learners / base_s
    expected = read_grades(base_out, "csv")
    if len(expected) != learners:
        raise RuntimeError(f"the baseline has {len(expected)} rows, expected {learners}")
    print(
        f"  baseline (hand-written SQL grades -> csv): {base_s:7.2f} s  {base_rate:>10,.0f} rows/s"
        f"  peak RSS {base_rss:6.1f} MB  CPU {base_cpu:.2f} s"
    )
    lines = []
    suffix = "" if label == "sqlite" else "_pg"
    lmsctl = "import sys\nsys.argv[0] = 'lmsctl'\nfrom lmsctl.main import run\nrun()\n"
    for fmt in formats:
        out = tmp / f"gradebook.{fmt}"
        secs, rss, cpu = best_of(
            repeat,
            lmsctl,
            ["gradebook", "export", "bench", "--format", fmt, "-o", str(out)],
            env,
            tmp,
        )
        got = read_grades(out, fmt)
        if len(got) != learners:
            raise RuntimeError(f"the {fmt} gradebook has {len(got)} rows, expected {learners}")
        wrong = [(a, b) for a, b in zip(got, expected, strict=True) if a != b]
        if wrong:
            raise RuntimeError(
                f"the {fmt} gradebook and the baseline differ in {len(wrong)} row(s), "
                f"first: {wrong[0][0]} != {wrong[0][1]}"
            )
        rate = learners / secs
        ratio = rate / base_rate
        print(
            f"  lmsctl gradebook export --format {fmt:<4}: {secs:7.2f} s  {rate:>10,.0f} rows/s"
            f"  peak RSS {rss:6.1f} MB  CPU {cpu:.2f} s  (rows/s vs baseline {ratio:.2f}, "
            f"CPU {base_cpu / cpu:.2f}; same grades)"
        )
        name = "gradebook_rss_mb" if fmt == "csv" else f"gradebook_{fmt}_rss_mb"
        ok = rss <= RSS_GOAL_MB
        lines.append(
            f"target {name}{suffix}: {rss:.1f} (goal <= {RSS_GOAL_MB:g}) {'PASS' if ok else 'MISS'}"
        )
        if fmt == "csv":
            ok = ratio >= SPEED_GOAL
            verdict = "PASS" if ok else "MISS"
            if learners < SPEED_JUDGED_FROM:  # start-up, not rows, is what a small run measures
                verdict = f"not judged below {SPEED_JUDGED_FROM:,} learners"
            lines.append(
                f"target gradebook_vs_sql{suffix}: {ratio:.2f} (goal >= {SPEED_GOAL:g}) {verdict}"
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
        "--repeat",
        type=int,
        default=3,
        help="runs of each export and of the baseline; the fastest counts (default 3)",
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
            lines += bench("sqlite", url, tmp, learners, formats, args.repeat)
        if args.pg:
            with fresh_database(tmp, args.pg) as url:
                lines += bench("postgresql", url, tmp, learners, formats, args.repeat)
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
