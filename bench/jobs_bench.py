"""Background jobs at scale: jobs/s through our job ledger against bare Huey, in the same run.

What: 10,000 no-op jobs (``--quick``: 500), ``maintenance.ping``, through the ledger two ways,
on a fresh migrated SQLite file (and PostgreSQL with ``--pg URL``):

* **drain**: every job queued in one transaction (``ledger.enqueue``, one flush each, as a
  service does), then run by ``groups.run_due``, the loop ``lmsctl jobs run-due`` runs
  (jobs claimed in groups, the outcomes of one group written in the transaction claiming the
  next: ``lms_core/jobs/groups.py``);
* **worker**: a real ``lmsctl jobs worker --workers 2`` process, started and warmed up first;
  the jobs are queued in one transaction whose commit sends the wake-ups (the front door's
  ``jobs.wakeup``: one ``run_jobs`` message per chunk of up to 50 job ids), timed until the
  ledger shows every job succeeded. The queue is the embedded SqliteHuey, then RedisHuey
  (``LMS_HUEY_URL``). Each job is still its own ledger row, claim, lease and outcome.

Baseline, in the same run and the same way: the same no-op task on bare Huey (default
pickle serializer, no ledger): enqueued one by one then run by a dequeue/execute loop in
this process (against **drain**), and run by a Huey consumer process with two thread workers
(against **worker**), timed until its result store holds every result. SqliteHuey in a
temporary file; RedisHuey on ``--redis URL`` (default ``redis://127.0.0.1:6379/14``, used if
it answers; otherwise its lines say ``skipped: no redis``).

Targets: ``jobs_vs_huey_sqlite`` and ``jobs_vs_huey_redis``, ours jobs/s over bare Huey's with
two workers each (the deployment an operator runs), goal >= 0.5. The drain ratio is printed
too. Exit 0 when the benchmark ran, whether targets pass or miss; non-zero when it could
not (an error, a job that did not succeed, a worker that did not finish within
``--timeout``).

Sections: the benchmark is a list of sections (:data:`SECTIONS`), each a function taking the
shared :class:`Run` and returning its summary lines (printed at the end, ``target`` lines
included); ``--sections`` picks some. A new section (webhook deliveries, backups) is one
function and one entry.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import huey
from huey.consumer import Consumer
from pydantic import SecretStr
from sqlalchemy import func, select
from support.databases import FreshDatabases, postgres_databases, sqlite_databases

from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.models import Job
from lms_core.ops import schema
from lms_core.settings import Settings

GOAL = 0.5
KIND = "maintenance.ping"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
SECRET = "bench-secret-key-0123456789abcdef0123456789"  # noqa: S105 - a throw-away queue
ROOT = Path(__file__).resolve().parent.parent
#: How often a timed wait looks at the ledger or the result store (seconds).
POLL = 0.05


@dataclass
class Run:
    """What every section shares: sizes, a scratch folder, the databases and Redis to use."""

    jobs: int
    tmp: Path
    sqlite: FreshDatabases
    pg: FreshDatabases | None
    #: None when no Redis answers (sections print "skipped: no redis").
    redis: str | None
    timeout: float


def target(name: str, value: float) -> str:
    return f"target {name}: {value:.2f} (goal >= {GOAL:g}) {'PASS' if value >= GOAL else 'MISS'}"


def rate_line(label: str, jobs: int, seconds: float) -> float:
    rate = jobs / seconds
    print(f"  {label:<44} {seconds:7.2f} s  {rate:>9,.0f} jobs/s")
    return rate


def settings_for(url: str, tmp: Path, huey_url: str | None = None) -> Settings:
    return Settings(
        database_url=url,
        files_dir=tmp / "files",
        secret_key=SecretStr(SECRET),
        huey_url=huey_url,
    )


def redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


# -- bare Huey ----------------------------------------------------------------------------------


def bare_huey(kind: str, where: str) -> tuple[huey.Huey, Any]:
    """A bare queue (pickle, no signing, no ledger) and its no-op task (call it to enqueue)."""
    queue: huey.Huey
    if kind == "sqlite":
        queue = huey.SqliteHuey("lms-bench-bare", filename=where)
    else:
        queue = huey.RedisHuey("lms-bench-bare", url=where)
    return queue, queue.task(name="bench_noop")(_noop)


def _noop(i: int) -> int:
    return i  # a result, as the ledger records one: the store tells when all have run


def bare_drain(kind: str, where: str, jobs: int) -> float:
    """Enqueue ``jobs`` no-ops, then dequeue and execute them here; seconds taken."""
    queue, task = bare_huey(kind, where)
    started = time.perf_counter()
    for i in range(jobs):
        task(i)
    while (message := queue.dequeue()) is not None:
        queue.execute(message)
    seconds = time.perf_counter() - started
    if queue.result_count() != jobs:
        raise RuntimeError(f"bare huey ran {queue.result_count()} of {jobs} tasks")
    return seconds


def bare_consumer_main(kind: str, where: str) -> None:
    """``--bare-consumer``: Huey's consumer, two thread workers, until SIGINT."""
    queue, _task = bare_huey(kind, where)
    Consumer(queue, workers=2, worker_type="thread", max_delay=1.0, periodic=False).run()


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not done after {timeout:.0f} s")
        time.sleep(POLL)


@contextmanager
def process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, stopped with SIGINT (running work finishes) when the block ends."""
    with log.open("wb") as out:
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            yield child
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def bare_worker(run: Run, kind: str, where: str) -> float:
    """Seconds for a bare consumer process (2 workers, warmed up) to run ``run.jobs`` no-ops."""
    queue, task = bare_huey(kind, where)
    queue.flush()
    argv = [sys.executable, str(Path(__file__).resolve()), "--bare-consumer", kind, where]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with process(argv, env, run.tmp / f"bare-consumer-{kind}.log"):
        task(-1)
        wait_until(lambda: queue.result_count() >= 1, run.timeout, "bare consumer start")
        started = time.perf_counter()
        for i in range(run.jobs):
            task(i)
        wait_until(lambda: queue.result_count() >= run.jobs + 1, run.timeout, "bare consumer")
        seconds = time.perf_counter() - started
    queue.flush()
    return seconds


# -- the ledger ---------------------------------------------------------------------------------


def enqueue_all(factory: Any, jobs: int, batch: int = 1000) -> None:
    """Queue ``jobs`` pings in one transaction, ``batch`` at a time (the session flushes each)."""
    from lms_core.jobs import ledger

    with unit_of_work(factory) as session:
        for start in range(0, jobs, batch):
            for i in range(start, min(start + batch, jobs)):
                ledger.enqueue(session, KIND, {"echo": i})
            session.expunge_all()  # a batch writer keeps no identity map of 10,000 jobs


def succeeded(factory: Any) -> int:
    with unit_of_work(factory, write=False) as session:
        return int(
            session.scalar(select(func.count()).select_from(Job).where(Job.status == "succeeded"))
            or 0
        )


def ledger_drain(url: str, run: Run) -> tuple[float, float]:
    """(seconds to queue, seconds to run) ``run.jobs`` pings, drained by ``groups.run_due``."""
    from lms_core.jobs import groups

    settings = settings_for(url, run.tmp)
    engine = make_engine(settings)
    try:
        schema.upgrade(engine)
        factory = make_session_factory(engine)
        started = time.perf_counter()
        enqueue_all(factory, run.jobs)
        queued = time.perf_counter()
        outcomes = groups.run_due(factory, settings)
        ran = time.perf_counter()
        bad = [o for o in outcomes if o.status != "succeeded"]
        if len(outcomes) != run.jobs or bad:
            raise RuntimeError(f"run_due ran {len(outcomes)} of {run.jobs} jobs, {len(bad)} bad")
        return queued - started, ran - queued
    finally:
        engine.dispose()


def ledger_worker(url: str, run: Run, huey_url: str) -> float:
    """Seconds for ``lmsctl jobs worker --workers 2`` (warmed up) to run ``run.jobs`` pings
    queued in one transaction that wakes it on commit."""
    from jobs import wakeup
    from jobs.huey_app import make_huey
    from jobs.tasks import register_tasks

    settings = settings_for(url, run.tmp, huey_url)
    engine = make_engine(settings)
    queue = make_huey(settings)
    queue.flush()
    tasks = register_tasks(queue, settings)
    env = {
        **os.environ,
        "LMS_DATABASE_URL": url,
        "LMS_FILES_DIR": str(run.tmp / "files"),
        "LMS_SECRET_KEY": SECRET,
        "LMS_HUEY_URL": huey_url,
    }
    env.pop("LMS_ACTOR", None)
    argv = [str(ROOT / ".venv/bin/lmsctl"), "jobs", "worker", "--workers", "2", "--no-periodic"]
    if not Path(argv[0]).exists():
        argv = [sys.executable, "-c", "from lmsctl.main import run; run()", *argv[1:]]
    try:
        schema.upgrade(engine)
        factory = make_session_factory(engine)
        wakeup.attach(factory, tasks.wake)
        kind = "redis" if huey_url.startswith("redis") else "sqlite"
        with process(argv, env, run.tmp / f"worker-{kind}.log"):
            enqueue_all(factory, 1)
            wait_until(lambda: succeeded(factory) >= 1, run.timeout, "lmsctl jobs worker start")
            started = time.perf_counter()
            enqueue_all(factory, run.jobs)
            wait_until(
                lambda: succeeded(factory) >= run.jobs + 1, run.timeout, "lmsctl jobs worker"
            )
            seconds = time.perf_counter() - started
        return seconds
    finally:
        queue.flush()
        tasks.close()
        engine.dispose()


# -- sections -----------------------------------------------------------------------------------


def jobs_section(run: Run) -> list[str]:
    """Ledger vs bare Huey: drain in-process, then two workers in a process, SQLite and Redis."""
    lines: list[str] = []
    print(f"\n== jobs: {run.jobs:,} no-op jobs")
    with run.sqlite() as url:
        enq, drained = ledger_drain(url, run)
        print(f"  ledger queue ({run.jobs:,} in one transaction): {enq:.2f} s")
        ours_drain = rate_line("ledger queue + run_due (sqlite db)", run.jobs, enq + drained)
    drained = bare_drain("sqlite", str(run.tmp / "bare-drain.db"), run.jobs)
    bare_drain_rate = rate_line("bare SqliteHuey enqueue + dequeue/execute", run.jobs, drained)
    lines.append(
        f"jobs drain (run_due) vs bare SqliteHuey drain: {ours_drain / bare_drain_rate:.2f}x"
    )
    if run.pg is not None:
        with run.pg() as url:
            enq, drained = ledger_drain(url, run)
            ours_pg = rate_line("ledger queue + run_due (postgresql db)", run.jobs, enq + drained)
        lines.append(f"jobs drain (run_due, postgresql) vs bare SqliteHuey drain: "
                     f"{ours_pg / bare_drain_rate:.2f}x")  # fmt: skip

    with run.sqlite() as url:
        ours = rate_line(
            "lmsctl jobs worker -w 2 (huey.db wake-ups)",
            run.jobs,
            ledger_worker(url, run, f"sqlite:///{run.tmp / 'ours-huey.db'}"),
        )
    bare = rate_line(
        "bare SqliteHuey consumer -w 2", run.jobs,
        bare_worker(run, "sqlite", str(run.tmp / "bare-consumer.db")),
    )  # fmt: skip
    lines.append(f"jobs worker (sqlite queue) {ours:,.0f} jobs/s, bare huey {bare:,.0f} jobs/s")
    lines.append(target("jobs_vs_huey_sqlite", ours / bare))

    if run.redis is None:
        print("  redis: skipped: no redis")
        lines.append("target jobs_vs_huey_redis: skipped: no redis")
        return lines
    with run.sqlite() as url:
        ours = rate_line(
            "lmsctl jobs worker -w 2 (redis wake-ups)", run.jobs, ledger_worker(url, run, run.redis)
        )
    bare_r = rate_line(
        "bare RedisHuey consumer -w 2", run.jobs, bare_worker(run, "redis", run.redis)
    )
    lines.append(f"jobs worker (redis queue) {ours:,.0f} jobs/s, bare huey {bare_r:,.0f} jobs/s")
    lines.append(target("jobs_vs_huey_redis", ours / bare_r))
    if run.pg is not None:  # several hosts share PostgreSQL: the Redis deployment's database
        with run.pg() as url:
            pg = rate_line(
                "lmsctl jobs worker -w 2 (redis, postgresql db)",
                run.jobs,
                ledger_worker(url, run, run.redis),
            )
        lines.append(
            f"jobs worker (redis queue, postgresql db) vs bare RedisHuey: {pg / bare_r:.2f}x"
        )
    return lines


# -- webhook deliveries -------------------------------------------------------------------------

#: Deliveries with ``--quick`` (whose job count is 500); otherwise as many as ``--jobs``.
QUICK_DELIVERIES = 300
HOOK_SECRET = "bench-hook-secret-0123456789abcdef"  # noqa: S105 - a throw-away receiver
#: The local receiver, a process of its own (not competing with the timed loop for the GIL):
#: HTTP/1.1 keep-alive, reads the body, answers 200; prints its port first.
RECEIVER = """
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each answer's second write waits for a delayed ACK
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_port, flush=True)
server.serve_forever()
"""


@contextmanager
def hook_receiver() -> Iterator[int]:
    """The receiver's port, for the block's duration."""
    child = subprocess.Popen(
        [sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert child.stdout is not None
        yield int(child.stdout.readline())
    finally:
        child.terminate()
        child.wait(timeout=10)


def plain_posts(port: int, count: int) -> float:
    """Seconds for a loop of ``count`` signed POSTs over one kept-alive connection."""
    import http.client
    import uuid
    from datetime import UTC, datetime

    from lms_core.webhooks.signing import body_of, headers_for

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for i in range(count):
        delivery_id = uuid.uuid4().hex
        body = body_of(delivery_id, "user.created", now, {"user_id": i})
        conn.request(
            "POST", "/hooks", body=body, headers=headers_for(HOOK_SECRET, delivery_id, body)
        )
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"plain loop: the receiver answered {answer.status}")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def delivered(factory: Any) -> int:
    from lms_core.models.webhooks import WebhookDelivery

    with unit_of_work(factory, write=False) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == "succeeded")
            )
            or 0
        )


def record_events(factory: Any, endpoint_id: int, count: int, batch: int = 1000) -> float:
    """``count`` user.created events for the endpoint in one transaction (one delivery each,
    sent by ``webhooks.deliver_many`` jobs of a hundred), as a service records them; the
    ``time.perf_counter()`` just before the commit that wakes the workers."""
    from lms_core.events import record

    with unit_of_work(factory) as session:
        for start in range(0, count, batch):
            for i in range(start, min(start + batch, count)):
                record(session, "user.created", {"user_id": i}, [endpoint_id])
            session.expunge_all()
        committing = time.perf_counter()
    return committing


def ledger_webhooks(url: str, run: Run, port: int, count: int) -> tuple[float, float]:
    """Seconds for ``lmsctl jobs worker --workers 2`` (warmed up) to deliver ``count`` events
    to the receiver, recorded in one transaction that wakes it on commit: (from that commit,
    from the start of the recording). The first is the workers' throughput, what the plain
    loop of posts compares with; the second adds the service's cost of recording the events
    (events, delivery rows and jobs written in its transaction)."""
    from jobs import wakeup
    from jobs.huey_app import make_huey
    from jobs.tasks import register_tasks
    from lms_core.actor import Actor
    from lms_core.webhooks.endpoints import add_endpoint

    huey_url = f"sqlite:///{run.tmp / 'hooks-huey.db'}"
    settings = settings_for(url, run.tmp, huey_url).model_copy(
        update={"webhooks_allow_private": True}
    )
    engine = make_engine(settings)
    queue = make_huey(settings)
    queue.flush()
    tasks = register_tasks(queue, settings)
    env = {
        **os.environ,
        "LMS_DATABASE_URL": url,
        "LMS_FILES_DIR": str(run.tmp / "files"),
        "LMS_SECRET_KEY": SECRET,
        "LMS_HUEY_URL": huey_url,
        "LMS_WEBHOOKS_ALLOW_PRIVATE": "1",
    }
    env.pop("LMS_ACTOR", None)
    argv = [str(ROOT / ".venv/bin/lmsctl"), "jobs", "worker", "--workers", "2", "--no-periodic"]
    if not Path(argv[0]).exists():
        argv = [sys.executable, "-c", "from lmsctl.main import run; run()", *argv[1:]]
    try:
        schema.upgrade(engine)
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            endpoint_id = add_endpoint(
                session,
                settings,
                actor=Actor.operator("bench"),
                url=f"http://127.0.0.1:{port}/hooks",
                events=["user.created"],
                secret=HOOK_SECRET,
            ).id
        wakeup.attach(factory, tasks.wake)
        with process(argv, env, run.tmp / "worker-webhooks.log"):
            record_events(factory, endpoint_id, 1)
            wait_until(lambda: delivered(factory) >= 1, run.timeout, "webhook worker start")
            started = time.perf_counter()
            committing = record_events(factory, endpoint_id, count)
            wait_until(lambda: delivered(factory) >= count + 1, run.timeout, "webhook worker")
            finished = time.perf_counter()
        return finished - committing, finished - started
    finally:
        queue.flush()
        tasks.close()
        engine.dispose()


def webhooks_section(run: Run) -> list[str]:
    """Signed deliveries by two workers through the ledger vs a plain loop of POSTs over one
    kept-alive connection, to the same local receiver."""
    count = QUICK_DELIVERIES if run.jobs <= 500 else run.jobs
    print(f"\n== webhooks: {count:,} deliveries to a local receiver")
    lines: list[str] = []
    with hook_receiver() as port:
        plain = rate_line("plain loop, one kept-alive connection", count, plain_posts(port, count))
        with run.sqlite() as url:
            sending, overall = ledger_webhooks(url, run, port, count)
            ours = rate_line("lmsctl jobs worker -w 2 (sqlite db)", count, sending)
            whole = rate_line("  the same, recording the events included", count, overall)
        lines.append(f"webhooks worker {ours:,.0f} deliveries/s, plain loop {plain:,.0f} posts/s")
        lines.append(target("webhooks_vs_plain_loop", ours / plain))
        lines.append(f"webhooks recording included vs plain loop: {whole / plain:.2f}x")
        if run.pg is not None:
            with run.pg() as url:
                sending, overall = ledger_webhooks(url, run, port, count)
                pg = rate_line("lmsctl jobs worker -w 2 (postgresql db)", count, sending)
            lines.append(f"webhooks worker (postgresql db) vs plain loop: {pg / plain:.2f}x")
    return lines


#: Every section, in the order they run: name -> function of the shared :class:`Run`.
SECTIONS: dict[str, Callable[[Run], list[str]]] = {
    "jobs": jobs_section,
    "webhooks": webhooks_section,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="500 jobs (CI smoke test)")
    parser.add_argument("--jobs", type=int, default=None, help="default 10,000")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, of: {', '.join(SECTIONS)} (default all)",
    )
    parser.add_argument(
        "--pg",
        metavar="URL",
        default=None,
        help="also on this PostgreSQL server (databases lms_bench_* are created and dropped)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help=f"Redis for the RedisHuey runs (default {DEFAULT_REDIS}, if it answers)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds a worker may take (default 600)"
    )
    parser.add_argument(
        "--bare-consumer", nargs=2, metavar=("KIND", "WHERE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.bare_consumer:
        bare_consumer_main(*args.bare_consumer)
        return 0
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; there are {', '.join(SECTIONS)}")
    redis_url = args.redis or DEFAULT_REDIS
    if not redis_answers(redis_url):
        if args.redis:
            parser.error(f"--redis {args.redis}: no answer")
        redis_url = None
    jobs = args.jobs or (500 if args.quick else 10_000)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), huey {huey.__version__}, "
        f"redis {redis_url or 'none'}"
    )
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lms-bench-jobs-") as tmp_name:
        tmp = Path(tmp_name)
        run = Run(
            jobs=jobs,
            tmp=tmp,
            sqlite=sqlite_databases(tmp),
            pg=postgres_databases(args.pg) if args.pg else None,
            redis=redis_url,
            timeout=args.timeout,
        )
        for name in chosen:
            lines += SECTIONS[name](run)
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
