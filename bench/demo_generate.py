"""How fast ``lmsctl demo generate`` fills a database, against raw DBAPI ``executemany``.

What: the service path of ``lmsctl demo generate`` -- :func:`lms_core.ops.demo.generate`
inside :func:`lms_core.db.unit_of_work`, on a fresh, migrated SQLite file (and on PostgreSQL
with ``--pg URL``) -- for 100,000 users (``--quick``: 5,000) with courses (one per 500 users),
5 lessons each and enrollments (three per user), the mix of the command's own example
(``--users 100000 --courses 200 --enrollments 300000``). Timed from the start of the unit of
work to its commit; migrating the database is not timed.

Baseline, measured in the same run: the plainest way to put the same number of user rows
into the same ``users`` table of another fresh, migrated database -- one raw DBAPI cursor
(the same connection setup: SQLite pragmas, PostgreSQL driver), building the row tuples,
``executemany`` of one ``INSERT``, ``commit``.

Figures: rows/s of both (generate counts every row it writes: users, instructors, courses,
lessons, enrollments, the audit entry), their ratio, and generate's per-table rates from its
progress callback (the users phase is the like-for-like comparison with the baseline).

Why: ``demo generate`` is how we make databases big enough to measure everything else; it
must stay a bulk insert (Core ``INSERT ... RETURNING`` in batches), never slide back to one
ORM object per row, which would show as a collapse of the ratio.

Note on PostgreSQL: psycopg2's ``executemany`` sends one statement per row, so there the
baseline is weak and the ratio flatters us; ``execute_values`` is printed as well, for
information. The database name in ``--pg`` is not used: each run creates (and drops) databases
``lms_bench_<pid>_<n>`` on that server, so the user must be allowed to ``CREATE DATABASE``.

Exit status: 0 when the benchmark ran, whether targets pass or miss (the ``target`` lines say
which); non-zero when it could not run (an error, or row counts that do not add up).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from support.databases import postgres_databases, sqlite_databases

from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.models import Enrollment, User
from lms_core.ops import schema
from lms_core.ops.demo import generate
from lms_core.settings import Environment, Settings

SECONDS_PER_100K_USERS = 60.0  # the goal scales with --users: 5k users -> 3 s
RATIO_GOAL = 0.5
USERS_PER_COURSE = 500
ENROLLMENTS_PER_USER = 3


@dataclass
class Sizes:
    users: int
    courses: int
    enrollments: int

    @classmethod
    def for_users(cls, users: int) -> Sizes:
        courses = max(1, users // USERS_PER_COURSE)
        return cls(users, courses, users * min(ENROLLMENTS_PER_USER, courses))


@dataclass
class GenerateRun:
    seconds: float
    rows: int
    phases: dict[str, tuple[int, float]] = field(default_factory=dict)  # what -> (rows, seconds)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


@dataclass
class Backend:
    label: str  # "sqlite" or "postgresql"
    fresh_url: Callable[[], AbstractContextManager[str]]  # yields the URL of an empty database
    tmp: Path

    def settings(self, url: str) -> Settings:
        return Settings(
            database_url=url, files_dir=self.tmp / "files", environment=Environment.development
        )

    @contextmanager
    def migrated(self) -> Iterator[tuple[Settings, Engine]]:
        """A fresh database at the newest migration, and an engine built the way lmsctl does."""
        with self.fresh_url() as url:
            settings = self.settings(url)
            engine = make_engine(settings)
            try:
                schema.upgrade(engine)
                yield settings, engine
            finally:
                engine.dispose()


def run_generate(backend: Backend, sizes: Sizes) -> GenerateRun:
    """generate() in one unit of work, timed to the commit, phases timed by its progress ticks."""
    with backend.migrated() as (settings, engine):
        factory = make_session_factory(engine)
        phases: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        last = [0.0]

        def tick(what: str, n: int) -> None:
            now = time.perf_counter()
            phases[what][0] += n
            phases[what][1] += now - last[0]
            last[0] = now

        started = last[0] = time.perf_counter()
        with unit_of_work(factory) as session:
            report = generate(
                session,
                actor=Actor.system("bench"),
                settings=settings,
                n_users=sizes.users,
                n_courses=sizes.courses,
                n_enrollments=sizes.enrollments,
                progress=tick,
                seed_value=42,
            )
        seconds = time.perf_counter() - started
        phases["audit entry + commit"] = [1, seconds - (last[0] - started)]

        with engine.connect() as conn:
            users = conn.scalar(select(func.count()).select_from(User))
            enrollments = conn.scalar(select(func.count()).select_from(Enrollment))
        if users != sizes.users + report.instructors or enrollments != sizes.enrollments:
            raise RuntimeError(
                f"generate wrote {users} users and {enrollments} enrollments, "
                f"expected {sizes.users + report.instructors} and {sizes.enrollments}"
            )
    rows = (
        report.users + report.instructors + report.courses + report.lessons + report.enrollments + 1
    )
    return GenerateRun(seconds, rows, {k: (int(v[0]), v[1]) for k, v in phases.items()})


def user_rows(n: int, *, sqlite: bool) -> list[tuple[Any, ...]]:
    now: Any = datetime.now(UTC)
    if sqlite:  # what SQLAlchemy binds for a UTC timestamp on SQLite: naive ISO text
        now = now.replace(tzinfo=None).isoformat(sep=" ")
    return [
        (f"baseline-{i:07d}@example.invalid", f"Baseline Learner {i}", "student", True, 0, now, now)
        for i in range(n)
    ]


INSERT_USERS = (
    "INSERT INTO users (email, full_name, role, is_active, failed_login_attempts, "
    "created_at, updated_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})"
)


def run_baseline(backend: Backend, n: int, *, method: str = "executemany") -> float:
    """Seconds to build ``n`` user tuples and insert them with one raw DBAPI cursor, committed."""
    with backend.migrated() as (_, engine):
        sqlite = engine.dialect.name == "sqlite"
        raw = engine.raw_connection()  # the DBAPI connection, set up by make_engine's listeners
        try:
            cursor = raw.cursor()
            started = time.perf_counter()
            rows = user_rows(n, sqlite=sqlite)
            if sqlite:
                # make_engine hands transaction control to SQLAlchemy (driver autocommit), so a
                # raw cursor must open its own transaction, or every row would commit alone.
                cursor.execute("BEGIN")
            if method == "execute_values":
                from psycopg2.extras import execute_values

                execute_values(
                    cursor, INSERT_USERS.split(" VALUES")[0] + " VALUES %s", rows, page_size=1000
                )
            else:
                cursor.executemany(INSERT_USERS.format(p="?" if sqlite else "%s"), rows)
            raw.commit()
            seconds = time.perf_counter() - started
            cursor.execute("SELECT count(*) FROM users")
            row = cursor.fetchone()
            count = row[0] if row else None
            cursor.close()
        finally:
            raw.close()
    if count != n:
        raise RuntimeError(f"baseline wrote {count} users, expected {n}")
    return seconds


def size_name(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def target(name: str, value: float, goal: float, *, lower_is_better: bool) -> str:
    ok = value <= goal if lower_is_better else value >= goal
    op = "<=" if lower_is_better else ">="
    return f"target {name}: {value:.2f} (goal {op} {goal:g}) {'PASS' if ok else 'MISS'}"


def bench_backend(backend: Backend, sizes: Sizes, repeat: int) -> list[str]:
    """Print the figures for one backend; return its target lines."""
    print(
        f"\n== {backend.label}: {sizes.users:,} users, {sizes.courses:,} courses, "
        f"{sizes.courses * 5:,} lessons, {sizes.enrollments:,} enrollments; "
        f"{repeat} run(s) each, medians"
    )
    gens: list[GenerateRun] = []
    bases: list[float] = []
    for _ in range(repeat):  # alternate, so load on the machine hits both alike
        gens.append(run_generate(backend, sizes))
        bases.append(run_baseline(backend, sizes.users))
    gen = sorted(gens, key=lambda g: g.seconds)[len(gens) // 2]
    base_seconds = statistics.median(bases)
    base_rate = sizes.users / base_seconds
    ratio = gen.rate / base_rate

    print(
        f"  generate (service, unit of work):  {gen.seconds:7.2f} s  {gen.rows:>9,} rows  "
        f"{gen.rate:>10,.0f} rows/s"
    )
    for what, (rows, seconds) in gen.phases.items():
        rate = f"{rows / seconds:>10,.0f} rows/s" if rows > 1 and seconds > 0 else ""
        print(f"    {what:<31} {seconds:7.2f} s  {rows:>9,} rows  {rate}")
    print(
        f"  baseline (raw executemany, users): {base_seconds:7.2f} s  {sizes.users:>9,} rows  "
        f"{base_rate:>10,.0f} rows/s"
    )
    users_phase = gen.phases.get("users")
    if users_phase:
        users_rate = users_phase[0] / users_phase[1]
        print(f"  users phase alone / baseline:      {users_rate / base_rate:.2f}")
    print(f"  ratio (generate rows/s / baseline rows/s): {ratio:.2f}")
    if backend.label == "postgresql":
        ev = run_baseline(backend, sizes.users, method="execute_values")
        print(
            f"  for information, psycopg2 execute_values: {ev:7.2f} s  "
            f"{sizes.users / ev:>10,.0f} rows/s (generate / that: "
            f"{gen.rate / (sizes.users / ev):.2f})"
        )

    suffix = "" if backend.label == "sqlite" else "_pg"
    goal = SECONDS_PER_100K_USERS * sizes.users / 100_000
    return [
        target(
            f"generate_{size_name(sizes.users)}_users_seconds{suffix}",
            gen.seconds,
            goal,
            lower_is_better=True,
        ),
        target(f"generate_vs_executemany_ratio{suffix}", ratio, RATIO_GOAL, lower_is_better=False),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5,000 users (CI smoke test)")
    parser.add_argument(
        "--users",
        type=int,
        default=None,
        help="learners to generate (default 100,000; quick 5,000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs of each side, medians reported (default 1; quick 3)",
    )
    parser.add_argument(
        "--pg",
        metavar="URL",
        default=None,
        help="also on this PostgreSQL server, e.g. "
        "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
    )
    args = parser.parse_args(argv)
    if args.users is not None and args.users < 1:
        parser.error("--users must be at least 1")
    sizes = Sizes.for_users(args.users or (5_000 if args.quick else 100_000))
    repeat = args.repeat or (3 if args.quick else 1)

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s){', quick' if args.quick else ''}"
    )
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lms-bench-generate-") as tmp_name:
        tmp = Path(tmp_name)
        lines += bench_backend(Backend("sqlite", sqlite_databases(tmp), tmp), sizes, repeat)
        if args.pg:
            lines += bench_backend(
                Backend("postgresql", postgres_databases(args.pg), tmp), sizes, repeat
            )
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
