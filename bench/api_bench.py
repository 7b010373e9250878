"""How many requests a second the JSON API answers under load, against a trivial endpoint.

What: a fresh, migrated PostgreSQL database with the demo school (``lms_core.ops.demo.seed``:
its Python Basics course and checkpoint quiz) and 20,000 synthetic learners, 200 courses and
60,000 enrollments (``demo.generate``; ``--quick``: 500 / 10 / 1,500). One learner per
connection (``bench-learner-<n>@example.org``, created by the users service) is enrolled in Python Basics and given a personal access token (scopes
``courses:read quizzes:write``), created up front. Then gunicorn is started the way
production starts it -- ``gunicorn -c gunicorn.conf.py`` (the project's config: sync workers,
its access log), ``LMS_WEB_WORKERS=2``, bound to 127.0.0.1 -- with ``LMS_API_RATE_LIMIT`` set
high enough that the load is never refused (the default per-address ceiling would answer 429
within a second: the bench prints the limit it set), and ``GUNICORN_CMD_ARGS=--max-requests 0``
(the config's ``max_requests = 2000`` would recycle each worker several times during the load;
the bench prints the worker restarts it saw in gunicorn's log). Each learner starts its quiz attempt once.

Load: ``--connections`` client connections (200; quick 10) kept busy for ``--seconds`` (30;
quick 3) on one endpoint at a time, by an asyncio client in this process
(``bench/support/http_load.py``: HTTP/1.1 over raw streams, keep-alive when the server keeps
the connection; gunicorn's sync workers close it after each answer, and the client
reconnects): the catalog (``GET /api/v1/courses``,
its first page), the outline of Python Basics (``GET /api/v1/courses/demo-python-basics``), and
saving a quiz answer (``PUT /api/v1/attempts/<id>/answers``, each connection its own learner
and attempt: a write, committed).

Baseline, in the same run on the same server: the same load on ``/healthz`` (a JSON answer
that touches nothing: the cost of gunicorn, Flask and the client), measured alongside each
endpoint: the endpoint's ``--seconds`` are cut into 6 slices, each paired with a slice of
``/healthz`` as long (run just before it, then just after it, in turn), and the ratio is the
endpoint's requests over the baseline's in those slices. The host's speed drifts (between
two 5 s loads of one endpoint, every process here -- the workers, PostgreSQL, the client --
was seen to take 35% more CPU a request), so a baseline measured a minute before or after
compared unlike conditions. A slice's rate counts the answers read within it (``support/http_load.py``; those still in flight at its end are
printed as late). The bench prints the pairs' lowest, median and highest ratio too.

Figures: requests/s, p50 and p99 latency (client side, from sending the request to reading
the whole answer, connection set-up included), errors (anything but a 2xx, or a connection
failure), each endpoint's rate over the trivial one's alongside it, and the lowest, median
and highest ratio of its slices.

Targets: ``api_catalog_vs_trivial`` and ``api_outline_vs_trivial`` >= 0.5,
``api_answer_vs_trivial`` >= 0.3, ``api_errors`` = 0.

Note: the client shares the machine with the server; on a small machine it takes a core the
server would otherwise use, for every endpoint alike.

Exit status: 0 when the benchmark ran, whether targets pass or miss; non-zero when it could
not run (the server did not start, setup failed). The server is stopped in every case.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from sqlalchemy import Engine
from support.databases import postgres_databases
from support.http_load import Result, Target, run_load

from lms_core.accounts import users
from lms_core.accounts.api_tokens import create_personal_token
from lms_core.accounts.fields import UserCreate
from lms_core.actor import Actor
from lms_core.catalog import enrollments
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.ops import demo, demo_quiz, schema
from lms_core.security import PasswordHasher
from lms_core.settings import Environment, Settings

ROOT = Path(__file__).resolve().parents[1]
READ_GOAL = 0.5
WRITE_GOAL = 0.3
#: High enough never to be reached by the load (the default ceiling is 600 per minute).
BENCH_RATE_LIMIT = "100000000 per minute"
#: gunicorn's workers (LMS_WEB_WORKERS).
WORKERS = 2
DEFAULT_PG = os.environ.get(
    "LMS_CI_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
#: The answer each learner saves, again and again: question 3 (true/false) of the demo quiz.
ANSWER = json.dumps({"answers": {"3": True}}).encode()


@dataclass
class Sizes:
    users: int
    courses: int
    enrollments: int
    connections: int
    seconds: float


# --- the site ---------------------------------------------------------------------------------


def fill(settings: Settings, engine: Engine, sizes: Sizes) -> list[str]:
    """The demo school, the synthetic crowd, and one enrolled learner with a token per
    connection; the raw tokens."""
    actor = Actor.operator("bench")
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        demo.seed(
            session, actor=actor, hasher=PasswordHasher.from_settings(settings), settings=settings
        )
        demo.generate(
            session,
            actor=actor,
            settings=settings,
            n_users=sizes.users,
            n_courses=sizes.courses,
            n_enrollments=sizes.enrollments,
            seed_value=14,
        )
    tokens = []
    with unit_of_work(factory) as session:
        for n in range(sizes.connections):
            learner, _ = users.create_user(
                session,
                actor=actor,
                data=UserCreate(
                    email=f"bench-learner-{n:04d}@example.org",
                    full_name=f"Bench Learner {n}",
                    role="student",
                ),
            )
            enrollments.enroll(
                session, actor=actor, email=learner.email, course_slug=demo_quiz.COURSE
            )
            _, raw = create_personal_token(
                session,
                actor=Actor.for_user(learner),
                name="api bench",
                scopes=["courses:read", "quizzes:write"],
            )
            tokens.append(raw)
    return tokens


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(url: str, tmp: Path, port: int) -> dict[str, str]:
    """The server's environment: the project's config, two workers, never rate-limited, and
    no worker recycling (``--max-requests 0`` through ``GUNICORN_CMD_ARGS``, which gunicorn
    applies over the config file): production's ``max_requests = 2000`` would restart each
    worker several times during the load, and the restarts would be measured as the API's."""
    env = {
        **os.environ,
        "LMS_DATABASE_URL": url,
        "LMS_FILES_DIR": str(tmp / "files"),
        "LMS_BIND": f"127.0.0.1:{port}",
        "LMS_WEB_WORKERS": str(WORKERS),
        "LMS_API_RATE_LIMIT": BENCH_RATE_LIMIT,
        "LMS_ENVIRONMENT": "development",
        "GUNICORN_CMD_ARGS": "--max-requests 0",
    }
    for name in ("LMS_REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    return env


def worker_restarts(log: str) -> int:
    """Workers booted after the first ones (a restart: recycled, or killed on timeout)."""
    return max(log.count("Booting worker with pid") - WORKERS, 0)


@contextmanager
def gunicorn(url: str, tmp: Path) -> Iterator[int]:
    """gunicorn with the project's config and two workers; its port. Stopped (SIGTERM, then
    SIGKILL) whatever happens; its log is printed when it did not start."""
    port = _free_port()
    env = server_env(url, tmp, port)
    log_path = tmp / "gunicorn.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                print(log_path.read_text()[-3000:], file=sys.stderr)
                sys.exit(f"gunicorn did not start (exit {server.poll()})")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5):
                    break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=35)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


# --- the client -------------------------------------------------------------------------------


#: Each endpoint's load is cut into this many slices, each paired with a slice of the baseline.
SLICES = 6


def show(result: Result, extra: str = "") -> None:
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(result.errors.items())) or "none"
    print(
        f"  {result.name:<10} {result.rate:8.1f} req/s  p50 {result.percentile(0.5):7.1f} ms  "
        f"p99 {result.percentile(0.99):7.1f} ms  {result.requests} requests "
        f"(+{result.late} late)  errors: {errors}{extra}"
    )


def alongside(port: int, target: Target, trivial: Target, sizes: Sizes) -> tuple[Result, Result]:
    """``target`` and the trivial endpoint in alternate slices (SLICES each, as long as
    ``--seconds`` in all; the pair's order swapped each time, so that neither always runs
    in the other's wake): what each measured, summed; the pairs' ratios printed."""
    run_load(port, target, sizes.connections, min(1.0, sizes.seconds))  # warm up
    mine, base = Result(target.name), Result(f"{trivial.name}*")
    ratios = []
    for n in range(SLICES):
        order = (trivial, target) if n % 2 == 0 else (target, trivial)
        first, second = (
            run_load(port, t, sizes.connections, sizes.seconds / SLICES) for t in order
        )
        baseline, measured = (first, second) if n % 2 == 0 else (second, first)
        ratios.append(measured.rate / baseline.rate if baseline.rate else 0.0)
        base.add(baseline)
        mine.add(measured)
    ratios.sort()
    show(mine, f"  (slices {ratios[0]:.2f}-{ratios[-1]:.2f}x, median {median(ratios):.2f}x)")
    show(base)
    return mine, base


def start_attempts(port: int, tokens: list[str]) -> list[str]:
    """Each learner starts (or resumes) its attempt once; the answer paths."""
    paths = []
    for token in tokens:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/courses/{demo_quiz.COURSE}/lessons/{demo_quiz.LESSON}"
            "/quiz/attempts",
            method="POST",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(req, timeout=30) as answer:  # noqa: S310
            attempt = json.loads(answer.read())["attempt"]["id"]
        paths.append(f"/api/v1/attempts/{attempt}/answers")
    return paths


def ratio_line(name: str, result: Result, trivial: Result, goal: float) -> str:
    ratio = result.rate / trivial.rate if trivial.rate else 0.0
    verdict = "PASS" if ratio >= goal else "MISS"
    return f"target {name}: {ratio:.2f} (goal >= {goal}) {verdict}"


def run(pg_url: str, sizes: Sizes, tmp: Path) -> list[str]:
    with postgres_databases(pg_url)() as url:
        settings = Settings(
            database_url=url, files_dir=tmp / "files", environment=Environment.development
        )
        engine = make_engine(settings)
        try:
            schema.upgrade(engine)
            started = time.perf_counter()
            tokens = fill(settings, engine, sizes)
            print(
                f"[postgresql] {sizes.users:,} users, {sizes.courses} courses, "
                f"{sizes.enrollments:,} enrollments and {len(tokens)} learner tokens in "
                f"{time.perf_counter() - started:.1f}s"
            )
        finally:
            engine.dispose()
        with gunicorn(url, tmp) as port:
            print(
                f"gunicorn -c gunicorn.conf.py, 2 workers, 127.0.0.1:{port}; "
                f"LMS_API_RATE_LIMIT={BENCH_RATE_LIMIT!r} (the bench is never rate-limited); "
                "GUNICORN_CMD_ARGS='--max-requests 0' (no worker recycled during the load)"
            )
            answers = start_attempts(port, tokens)
            print(
                f"{sizes.connections} connections x {sizes.seconds:g}s per endpoint "
                f"(after a 1 s warm-up), in {SLICES} slices, each paired with a slice of the "
                "trivial endpoint as long (before it, then after it, in turn)"
            )
            trivial = Target("trivial", "GET", ["/healthz"], [None])
            catalog = Target("catalog", "GET", ["/api/v1/courses"], list(tokens))
            outline = Target(
                "outline", "GET", [f"/api/v1/courses/{demo_quiz.COURSE}"], list(tokens)
            )
            answer = Target("answer", "PUT", answers, list(tokens), ANSWER)
            run_load(port, trivial, sizes.connections, min(1.0, sizes.seconds))  # warm up
            pairs = [alongside(port, t, trivial, sizes) for t in (catalog, outline, answer)]
        restarts = worker_restarts((tmp / "gunicorn.log").read_text())
        print(f"  worker restarts during the run: {restarts} (0 expected: none recycled)")
        print("  (trivial*: the baseline's slices alongside the endpoint above it)")
    errors = sum(sum(r.errors.values()) for pair in pairs for r in pair)
    return [
        ratio_line("api_catalog_vs_trivial", *pairs[0], READ_GOAL),
        ratio_line("api_outline_vs_trivial", *pairs[1], READ_GOAL),
        ratio_line("api_answer_vs_trivial", *pairs[2], WRITE_GOAL),
        f"target api_errors: {errors} (goal = 0) {'PASS' if errors == 0 else 'MISS'}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small site, 10 connections, 3 s")
    parser.add_argument(
        "--pg",
        metavar="URL",
        default=DEFAULT_PG,
        help="the PostgreSQL server: a database lms_bench_<pid>_<n> is created on it and "
        "dropped (LMS_BENCH_DB_PREFIX replaces lms_bench); default $LMS_CI_PG_URL or "
        "%(default)s",
    )
    parser.add_argument("--connections", type=int, default=None, help="default 200; quick 10")
    parser.add_argument("--seconds", type=float, default=None, help="default 30; quick 3")
    args = parser.parse_args(argv)
    # A SIGTERM (CI's timeout) unwinds like an error: the server is stopped, the database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.quick:
        sizes = Sizes(500, 10, 1_500, args.connections or 10, args.seconds or 3.0)
    else:
        sizes = Sizes(20_000, 200, 60_000, args.connections or 200, args.seconds or 30.0)
    if sizes.connections < 1 or sizes.seconds <= 0:
        parser.error("--connections and --seconds must be positive")
    if not args.quick and sizes.seconds / SLICES < 1:
        # A slice must hold many answers per connection, or its rate is a count of a few.
        parser.error(f"--seconds must be at least {SLICES} (a second per slice) without --quick")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s){', quick' if args.quick else ''}"
    )
    with tempfile.TemporaryDirectory(prefix="lms-bench-api-") as tmp_name:
        lines = run(args.pg, sizes, Path(tmp_name))
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
