"""How fast ``lmsctl import`` loads users and enrollments, against raw DBAPI ``executemany``.

What: 100,000 users (plus 25 instructors) and 200,000 enrollments over 500 courses
(``--quick``: 2,000 users, 4,000 enrollments, 20 courses), written as CSV and as XLSX
(openpyxl write-only, IDs as text). For each database (SQLite; PostgreSQL with ``--pg URL``)
and each format, on a fresh migrated database: ``lmsctl import users FILE --dry-run``, the
apply, a re-run of the same file (which must report no change: the file is the one the last
run applied, so it is not read at all), and a re-run with ``--recheck`` (read, planned against
the database, no change: a figure for information); then the courses (setup, not a figure)
and the same four steps for enrollments. Each step is its own ``lmsctl`` process, timed by
the wall clock, its peak RSS read from ``os.wait4``'s rusage.

Baseline, measured in the same run on another fresh migrated database: the plainest importer
there is -- ``csv.reader`` over the same CSV file, the row tuples built, one raw DBAPI cursor
``executemany`` of one ``INSERT``, one transaction (for enrollments, user and course ids
looked up from two dicts loaded with one ``SELECT`` each, inside the timing). Our apply does
far more (validation of every cell, Excel-damage checks, the plan against the database, the
ledger with each change's before/after; invitation tokens only with ``--invites-out``, which
the bench does not pass), and must stay within 4x of it.
The baseline runs before and again after our CSV steps, and the ratios use the mean of the
two, so that a machine whose load changes meanwhile does not skew them.

Separately: the peak RSS of a dry run of a 1,000,000-row users file (``--quick``: 20,000;
``--full`` also applies it), and the cost of one argon2id hash at the default settings
(a figure, not a target: bench files carry no passwords).

Targets: apply_vs_raw >= 0.25 (baseline seconds / apply seconds, CSV, the worse of users and
enrollments) per database; rerun_vs_apply <= 0.5 (re-run seconds / apply seconds, the worse of
the two, CSV and XLSX); rss_1m_users_mb <= 400. PostgreSQL note: psycopg2's ``executemany``
sends a statement per row, a weak baseline; ``execute_values`` is printed as well, for
information. ``--pg`` creates and drops databases ``lms_bench_<pid>_<n>`` on that server.

Exit status: 0 when the benchmark ran, whether targets pass or miss; non-zero when it could
not run (an error, a step that failed, counts that do not add up).
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from support.databases import postgres_databases, sqlite_databases

from lms_core.db import make_engine
from lms_core.formats.tabular import Sheet, write_xlsx
from lms_core.ops import schema
from lms_core.settings import Environment, Settings

LMSCTL = str(Path(sys.executable).parent / "lmsctl")
INSTRUCTORS = 25
USER_HEADER = ("external_id", "email", "full_name", "role", "is_active")
COURSE_HEADER = ("external_id", "slug", "title", "instructor_email", "is_published")
ENROLLMENT_HEADER = ("user_email", "course_slug", "status")
FIRST = ("Ana", "José", "Zoë", "Łukasz", "Inês", "Søren", "Mehmet", "Aiko", "Olga", "Kwame")
LAST = ("García", "Müller", "Nowak", "Lefèvre", "Özdemir", "Silva", "Novák", "Haddad", "Chen")


@dataclass
class Sizes:
    users: int
    enrollments: int
    courses: int
    big_users: int


@dataclass
class Step:
    seconds: float
    rss_mb: float
    data: dict[str, Any]


# --- files ---------------------------------------------------------------------------------------


def user_row(i: int) -> tuple[Any, ...]:
    name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i}"
    return (f"{i:08d}", f"learner{i:08d}@example.org", name, "student", True)


def instructor_row(k: int) -> tuple[Any, ...]:
    return (f"T{k:04d}", f"teacher{k:04d}@example.org", f"Teacher {k}", "instructor", True)


def course_row(c: int) -> tuple[Any, ...]:
    return (
        f"C{c:05d}",
        f"course-{c:05d}",
        f"Course {c}",
        instructor_row(c % INSTRUCTORS)[1],
        False,
    )


def enrollment_rows(sizes: Sizes) -> Iterator[tuple[Any, ...]]:
    """``enrollments`` distinct (user, course) pairs, spread evenly over users and courses."""
    per_user = -(-sizes.enrollments // sizes.users)
    made = 0
    for k in range(per_user):
        for i in range(sizes.users):
            if made == sizes.enrollments:
                return
            course = (i + k * max(1, sizes.courses // per_user)) % sizes.courses
            yield (user_row(i)[1], course_row(course)[1], "active")
            made += 1


def users_of(n: int) -> Iterator[tuple[Any, ...]]:
    for k in range(INSTRUCTORS):
        yield instructor_row(k)
    for i in range(n):
        yield user_row(i)


def write_csv(path: Path, header: Sequence[str], rows: Iterator[tuple[Any, ...]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow([str(v).lower() if isinstance(v, bool) else v for v in row])
    return path


def make_files(tmp: Path, sizes: Sizes) -> dict[str, Path]:
    files = {
        "users.csv": write_csv(tmp / "users.csv", USER_HEADER, users_of(sizes.users)),
        "courses.csv": write_csv(
            tmp / "courses.csv", COURSE_HEADER, (course_row(c) for c in range(sizes.courses))
        ),
        "enrollments.csv": write_csv(
            tmp / "enrollments.csv", ENROLLMENT_HEADER, enrollment_rows(sizes)
        ),
    }
    write_xlsx(tmp / "users.xlsx", [Sheet("users", USER_HEADER, users_of(sizes.users))])
    write_xlsx(
        tmp / "enrollments.xlsx",
        [Sheet("enrollments", ENROLLMENT_HEADER, enrollment_rows(sizes))],
    )
    files["users.xlsx"] = tmp / "users.xlsx"
    files["enrollments.xlsx"] = tmp / "enrollments.xlsx"
    files["big-users.csv"] = write_csv(
        tmp / "big-users.csv", USER_HEADER, users_of(sizes.big_users)
    )
    return files


# --- databases -----------------------------------------------------------------------------------


def settings_for(url: str, tmp: Path) -> Settings:
    return Settings(database_url=url, files_dir=tmp / "files", environment=Environment.development)


@contextmanager
def migrated(fresh: Callable[[], AbstractContextManager[str]], tmp: Path) -> Iterator[str]:
    with fresh() as url:
        engine = make_engine(settings_for(url, tmp))
        try:
            schema.upgrade(engine)
        finally:
            engine.dispose()
        yield url


#: Runs its arguments as a child and writes "seconds maxrss_kb" to the file named first.
#: Forked from this small process, the child's peak RSS is its own: ru_maxrss counts the pages a
#: child shares with its parent at fork, and the bench process itself is large.
LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{time.perf_counter() - started} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _head(stdout: str) -> dict[str, Any]:
    """The run_id/counts/errors of an import's --json, without parsing every change."""
    first = stdout.split("\n", 1)[0]
    cut = first.find(', "changes": [')
    if first.startswith("{") and cut > 0:
        return dict(json.loads(first[:cut] + "}"))
    return dict(json.loads(stdout)) if stdout.strip().startswith("{") else {}


def lmsctl(url: str, tmp: Path, *args: str, refused_ok: bool = False) -> Step:
    """Run one lmsctl step as its own process: wall time, peak RSS, its JSON output.

    ``refused_ok``: exit 1 (the input refused) is an outcome, not a failure of the bench."""
    env = {
        **os.environ,
        "LMS_DATABASE_URL": url,
        "LMS_FILES_DIR": str(tmp / "files"),
        "LMS_ENVIRONMENT": "development",
    }
    figures = tmp / "step-figures.txt"
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code = subprocess.call(
            [sys.executable, "-c", LAUNCHER, str(figures), LMSCTL, *args],
            env=env,
            stdout=out,
            stderr=err,
            cwd=tmp,
        )
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if code != 0 and not (refused_ok and code == 1):
        raise RuntimeError(f"lmsctl {' '.join(args)} exited {code}: {stderr[-2000:]}")
    seconds, maxrss_kb = figures.read_text().split()
    return Step(float(seconds), int(maxrss_kb) / 1024, _head(stdout))


def counts(step: Step) -> dict[str, int]:
    """Flat counts (users, enrollments); nested ones (a courses run's lessons) left out."""
    return {
        k: int(v) for k, v in (step.data.get("counts") or {}).items() if not isinstance(v, dict)
    }


# --- baseline ------------------------------------------------------------------------------------


def raw_baseline(url: str, tmp: Path, files: dict[str, Path], *, method: str) -> dict[str, float]:
    """Seconds for the plainest importer: csv.reader + executemany, users then enrollments."""
    engine = make_engine(settings_for(url, tmp))
    sqlite = engine.dialect.name == "sqlite"
    p = "?" if sqlite else "%s"
    now: Any = datetime.now(UTC)
    if sqlite:
        now = now.replace(tzinfo=None).isoformat(sep=" ")
    raw = engine.raw_connection()
    cursor = raw.cursor()

    def insert(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if sqlite:
            cursor.execute("BEGIN")  # make_engine leaves SQLite in driver autocommit
        names = ", ".join(columns)
        if method == "execute_values" and not sqlite:
            from psycopg2.extras import execute_values

            sql = f"INSERT INTO {table} ({names}) VALUES %s"  # noqa: S608 - constant names
            execute_values(cursor, sql, rows, page_size=1000)
        else:
            marks = ", ".join([p] * len(columns))
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - constant names
            cursor.executemany(sql, rows)
        raw.commit()

    seconds: dict[str, float] = {}
    try:
        started = time.perf_counter()
        with files["users.csv"].open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            rows = [
                (r[0], r[1], r[2], r[3], r[4] == "true", 0, now, now)
                for r in reader  # external_id, email, full_name, role, is_active
            ]
        insert(
            "users",
            (
                *("external_id", "email", "full_name", "role", "is_active"),
                *("failed_login_attempts", "created_at", "updated_at"),
            ),
            rows,
        )
        seconds["users"] = time.perf_counter() - started

        cursor.execute("SELECT email, id FROM users")
        user_ids = dict(cursor.fetchall())
        with files["courses.csv"].open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            courses = [
                (r[0], r[1], r[2], user_ids[r[3]], "beginner", False, 0, now, now) for r in reader
            ]
        insert(
            "courses",
            (
                *("external_id", "slug", "title", "instructor_id", "difficulty_level"),
                *("is_published", "certificate_min_grade", "created_at", "updated_at"),
            ),
            courses,
        )

        started = time.perf_counter()
        cursor.execute("SELECT email, id FROM users")
        user_ids = dict(cursor.fetchall())
        cursor.execute("SELECT slug, id FROM courses")
        course_ids = dict(cursor.fetchall())
        with files["enrollments.csv"].open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            links = [(user_ids[r[0]], course_ids[r[1]], r[2], now, 0, now, now) for r in reader]
        insert(
            "enrollments",
            (
                *("student_id", "course_id", "status", "enrolled_at"),
                *("progress_percentage", "created_at", "updated_at"),
            ),
            links,
        )
        seconds["enrollments"] = time.perf_counter() - started
        cursor.close()
    finally:
        raw.close()
        engine.dispose()
    return seconds


# --- our side ------------------------------------------------------------------------------------


def ours(url: str, tmp: Path, files: dict[str, Path], fmt: str) -> dict[str, dict[str, Step]]:
    """Dry run, apply, re-run for users then enrollments, from ``fmt`` files, checked."""
    steps: dict[str, dict[str, Step]] = {}
    for entity in ("users", "enrollments"):
        path = str(files[f"{entity}.{fmt}"])
        dry = lmsctl(url, tmp, "import", entity, path, "--dry-run", "--json")
        applied = lmsctl(url, tmp, "import", entity, path, "--json")
        rerun = lmsctl(url, tmp, "import", entity, path, "--json")
        forced = lmsctl(url, tmp, "import", entity, path, "--recheck", "--json")
        if counts(dry).get("create") != counts(applied).get("create"):
            raise RuntimeError(f"{entity}: dry run {counts(dry)} but apply {counts(applied)}")
        if rerun.data.get("unchanged_since_run") != applied.data.get("run_id"):
            raise RuntimeError(f"{entity}: the re-run was not skipped: {rerun.data}")
        for again in (rerun, forced):
            changed = {k: v for k, v in counts(again).items() if k != "unchanged" and v}
            if changed:
                raise RuntimeError(f"{entity}: a re-run changed {changed}")
        steps[entity] = {"dry run": dry, "apply": applied, "re-run": rerun, "--recheck": forced}
        if entity == "users":  # setup for the enrollments: the courses, not a figure
            lmsctl(url, tmp, "import", "courses", str(files["courses.csv"]), "--json")
    return steps


def import_available() -> bool:
    done = subprocess.run([LMSCTL, "import", "--help"], capture_output=True, text=True, check=False)
    return done.returncode == 0


def argon2_ms() -> float:
    from lms_core.security import PasswordHasher

    hasher = PasswordHasher.from_settings(Settings())
    hasher.hash("warm-up-Passw0rd")
    n = 5
    started = time.perf_counter()
    for i in range(n):
        hasher.hash(f"Bench-Passw0rd-{i}")
    return (time.perf_counter() - started) / n * 1000


# --- report --------------------------------------------------------------------------------------


#: At --quick sizes (2,000 rows) every lmsctl step is mostly its 0.4 s of start-up against
#: milliseconds of baseline: speed ratios are printed there, not judged (a CI smoke test).
SPEED_JUDGED = {"on": True}


def target(
    name: str, value: float, goal: float, *, lower_is_better: bool, speed: bool = False
) -> str:
    ok = value <= goal if lower_is_better else value >= goal
    op = "<=" if lower_is_better else ">="
    verdict = "PASS" if ok else "MISS"
    if speed and not SPEED_JUDGED["on"]:
        verdict = "not judged at --quick sizes (start-up dominates)"
    return f"target {name}: {value:.2f} (goal {op} {goal:g}) {verdict}"


def rate(rows: int, seconds: float) -> str:
    return f"{seconds:8.2f} s {rows / seconds:>10,.0f} rows/s"


def bench_backend(
    label: str,
    fresh: Callable[[], AbstractContextManager[str]],
    tmp: Path,
    files: dict[str, Path],
    sizes: Sizes,
    with_ours: bool,
) -> list[str]:
    rows = {"users": sizes.users + INSTRUCTORS, "enrollments": sizes.enrollments}
    print(
        f"\n== {label}: {rows['users']:,} users, {sizes.courses} courses, "
        f"{sizes.enrollments:,} enrollments"
    )
    with migrated(fresh, tmp) as url:
        base = raw_baseline(url, tmp, files, method="executemany")
    for entity, seconds in base.items():
        print(f"  baseline {entity:<12} csv.reader + executemany {rate(rows[entity], seconds)}")
    if label == "postgresql":
        with migrated(fresh, tmp) as url:
            ev = raw_baseline(url, tmp, files, method="execute_values")
        for entity, seconds in ev.items():
            print(f"  (information) {entity:<12} execute_values   {rate(rows[entity], seconds)}")
    if not with_ours:
        print("  lmsctl import is not available yet: only the baseline ran")
        return []

    with migrated(fresh, tmp) as url:
        empty = write_csv(tmp / "empty.csv", USER_HEADER, iter(()))
        startup = min(
            lmsctl(url, tmp, "import", "users", str(empty), "--json", refused_ok=True).seconds
            for _ in "ab"
        )
    print(
        f"  lmsctl start-up (an import of a header-only file, refused: no rows): {startup:.2f} s, "
        "in every figure below"
    )
    suffix = "sqlite" if label == "sqlite" else "pg"
    vs_raw: list[float] = []
    rerun_ratios: list[float] = []
    for fmt in ("csv", "xlsx"):
        with migrated(fresh, tmp) as url:
            steps = ours(url, tmp, files, fmt)
        for entity, by_step in steps.items():
            for name, step in by_step.items():
                print(
                    f"  lmsctl {entity:<12} {fmt:<4} {name:<8} {rate(rows[entity], step.seconds)}"
                    f"  peak RSS {step.rss_mb:6.0f} MB"
                )
        if fmt == "csv":
            # Measured again right after ours and averaged: on a shared machine the load moves
            # between the two measurements, and the ratio must compare like with like.
            with migrated(fresh, tmp) as url:
                again = raw_baseline(url, tmp, files, method="executemany")
            for entity, seconds in again.items():
                print(f"  baseline {entity:<12} again, after ours   {rate(rows[entity], seconds)}")
                base[entity] = (base[entity] + seconds) / 2
        for entity, by_step in steps.items():
            apply_s = by_step["apply"].seconds
            ratio = base[entity] / apply_s
            rerun = by_step["re-run"].seconds / apply_s
            forced = by_step["--recheck"].seconds / apply_s
            net = base[entity] / max(apply_s - startup, 1e-3)
            print(
                f"    {entity} {fmt}: apply vs raw (mean of both) {ratio:.2f} "
                f"(without start-up {net:.2f}), re-run / apply {rerun:.2f} "
                f"(--recheck {forced:.2f}, information)"
            )
            if fmt == "csv":
                vs_raw.append(ratio)
            rerun_ratios.append(rerun)
    lines = [target(f"apply_vs_raw_{suffix}", min(vs_raw), 0.25, lower_is_better=False, speed=True)]
    rerun_name = "rerun_vs_apply_sqlite" if label == "sqlite" else "rerun_vs_apply_pg"
    lines.append(target(rerun_name, max(rerun_ratios), 0.5, lower_is_better=True, speed=True))
    return lines


def bench_big(
    fresh: Callable[[], AbstractContextManager[str]], tmp: Path, path: Path, n: int, full: bool
) -> list[str]:
    print(f"\n== {n:,}-row users file (sqlite)")
    with migrated(fresh, tmp) as url:
        dry = lmsctl(url, tmp, "import", "users", str(path), "--dry-run", "--json")
        print(f"  dry run  {rate(n, dry.seconds)}  peak RSS {dry.rss_mb:6.0f} MB")
        peak = dry.rss_mb
        if full:
            applied = lmsctl(url, tmp, "import", "users", str(path), "--json")
            print(f"  apply    {rate(n, applied.seconds)}  peak RSS {applied.rss_mb:6.0f} MB")
            peak = max(peak, applied.rss_mb)
    name = "rss_1m_users_mb" if n >= 1_000_000 else f"rss_{n // 1000}k_users_mb"
    return [target(name, peak, 400, lower_is_better=True)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2k users, 4k enrollments (CI)")
    parser.add_argument("--pg", metavar="URL", help="also on this PostgreSQL server")
    parser.add_argument("--full", action="store_true", help="also apply the 1M-row users file")
    parser.add_argument("--users", type=int, help="users (default 100,000; quick 2,000)")
    args = parser.parse_args(argv)
    users = args.users or (2_000 if args.quick else 100_000)
    SPEED_JUDGED["on"] = not args.quick
    sizes = Sizes(
        users=users,
        enrollments=users * 2,
        courses=20 if args.quick else 500,
        big_users=20_000 if args.quick else 1_000_000,
    )
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s){', quick' if args.quick else ''}"
    )
    with_ours = import_available()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lms-bench-import-") as name:
        tmp = Path(name)
        started = time.perf_counter()
        files = make_files(tmp, sizes)
        print(f"generated the files in {time.perf_counter() - started:.1f} s")
        lines += bench_backend("sqlite", sqlite_databases(tmp), tmp, files, sizes, with_ours)
        if args.pg:
            lines += bench_backend(
                "postgresql", postgres_databases(args.pg), tmp, files, sizes, with_ours
            )
        if with_ours:
            lines += bench_big(
                sqlite_databases(tmp), tmp, files["big-users.csv"], sizes.big_users, args.full
            )
    print(f"\nargon2id at the default settings: {argon2_ms():.0f} ms a hash (information)")
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
