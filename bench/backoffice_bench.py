"""How fast the back office's main pages answer, against bare Flask views of the same SQL.

What: a fresh, migrated database (SQLite; PostgreSQL too with ``--pg URL``) with the demo
school (``lms_core.ops.demo.seed``: the administrator we log in as, a certificate) and
100,000 synthetic learners, 200 courses and 300,000 enrollments (``demo.generate``, what
``lmsctl demo generate`` runs; ``--quick``: 5,000 / 10 / 15,000). Then, with Flask's test
client logged in through the real ``/login`` form, each page is requested ``--requests``
times (after two warm-up requests): the users list, the enrollments of one course (the
list's course filter), a course page (the course's lessons), the dashboard (``/admin/``) and
a certificate's public ``/verify/<number>`` page (as its visitors do: not logged in).

Baseline, in the same run with the same client, alternating request by request with the
real page: a bare Flask view on the same app that runs the page's SQL by hand (Core
``text()``, the same tables, rows, count and page size) and renders the same rows in a plain
HTML table (``bench/support/bare_pages.py``) -- no login, no Flask-Admin, no ORM. Both
renderings are checked to show the same rows (the bare page's keys must all be on the real
page), or the run stops.

Figures: median and p95 milliseconds of each, the ratio of the medians, the ratio of the
mean CPU time per request (the process's, ``time.process_time``: on a shared machine the
wall times include waiting for a core), and the SQL
statements one request of each real page runs (counted by a ``before_cursor_execute``
listener on the app's engine; on SQLite each transaction's explicit ``BEGIN`` counts too). The
two list pages are also counted at page sizes 20 and 100.

Targets: ``<page>`` ratio <= 3 for each page (``_pg`` suffix on PostgreSQL), and
``statements_constant``: a list page runs as many statements at 100 rows as at 20 (no query
per row).

Exit status: 0 when the benchmark ran, whether targets pass or miss; non-zero when it could
not run (an error, a page that did not answer 200, pages that do not show the same rows).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, select
from support import bare_pages
from support.databases import postgres_databases, sqlite_databases

from admin_ui.app import EXTENSION, create_app
from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.models import Course
from lms_core.ops import demo, schema
from lms_core.security import PasswordHasher
from lms_core.settings import Environment, Settings

RATIO_GOAL = 3.0
PAGE_SIZES = (20, 100)
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_CELL = re.compile(r"<td>([^<]*)</td>")


@dataclass
class Sizes:
    users: int
    courses: int
    enrollments: int
    requests: int


@dataclass
class Page:
    name: str
    real: str  # URL of the back-office page
    bare: str  # URL of its bare twin
    key_column: int  # the bare table's column whose values must all be on the real page
    endpoint: str | None = None  # a list view's endpoint: counted at two page sizes
    anonymous: bool = False  # a public page: both sides requested without the login cookie


@dataclass
class Timing:
    real: list[float]
    bare: list[float]
    #: CPU seconds of the process per request (``time.process_time``): what the page costs
    #: whatever else the machine runs (wall times on a shared machine include waiting).
    real_cpu: list[float] = field(default_factory=list)
    bare_cpu: list[float] = field(default_factory=list)

    @staticmethod
    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def ratio(self) -> float:
        return statistics.median(self.real) / statistics.median(self.bare)

    @property
    def cpu_ratio(self) -> float:
        """Mean CPU time per request, real over bare."""
        return sum(self.real_cpu) / max(sum(self.bare_cpu), 1e-9)


# --- the database ---------------------------------------------------------------------------


def fill(settings: Settings, engine: Engine, sizes: Sizes) -> float:
    """The demo school and the synthetic crowd, through the services; seconds taken."""
    started = time.perf_counter()
    actor = Actor.operator("bench")
    with unit_of_work(make_session_factory(engine)) as session:
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
            seed_value=13,
        )
    return time.perf_counter() - started


def synthetic_course(engine: Engine) -> tuple[int, str]:
    """A synthetic course's id and slug (the enrollments filter and course page use it)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(Course.id, Course.slug)
            .where(Course.slug.like("synthetic-%"))
            .order_by(Course.id)
            .limit(1)
        ).first()
    if row is None:
        sys.exit("no synthetic course was generated")
    return row.id, row.slug


# --- the app and its client -------------------------------------------------------------------


def logged_in_client(app: Flask) -> FlaskClient:
    client = app.test_client()
    found = _CSRF.search(client.get("/login").get_data(as_text=True))
    if not found:
        sys.exit("/login shows no csrf_token field")
    email, _, _, password = demo.DEMO_USERS[0]
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": found.group(1)}
    )
    if answer.status_code != 302:
        sys.exit(f"login as {email} failed: {answer.status_code}")
    return client


def get(client: FlaskClient, url: str) -> str:
    answer = client.get(url)
    if answer.status_code != 200:
        sys.exit(f"GET {url}: {answer.status_code}\n{answer.get_data(as_text=True)[:800]}")
    return answer.get_data(as_text=True)


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on ``engine`` meanwhile."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def list_view(app: Flask, endpoint: str) -> Any:
    admin = app.extensions["admin"][0]
    for view in admin._views:
        if view.endpoint == endpoint:
            return view
    sys.exit(f"no view with endpoint {endpoint!r}")


def statements_by_page_size(app: Flask, client: FlaskClient, page: Page) -> dict[int, int]:
    """Statements of one request of a list page at each page size (the view's own setting)."""
    assert page.endpoint is not None
    view = list_view(app, page.endpoint)
    engine = app.extensions[EXTENSION].engine
    kept = view.page_size
    counts: dict[int, int] = {}
    try:
        for size in PAGE_SIZES:
            view.page_size = size
            get(client, page.real)  # warm: caches filled at this size
            with counting(engine) as seen:
                html = get(client, page.real)
            counts[size] = len(seen)
            rows = html.count('name="rowid"')
            if rows < min(size, 20):
                sys.exit(f"{page.name}: {rows} rows shown at page size {size}")
    finally:
        view.page_size = kept
    return counts


def same_rows(page: Page, real_html: str, bare_html: str) -> None:
    """Every key the bare page shows is on the real page too (both show the same rows)."""
    cells = _CELL.findall(bare_html)
    width = bare_html.count("<th>")
    keys = [cells[i] for i in range(page.key_column, len(cells), width)]
    missing = [k for k in keys if k and k not in real_html]
    if not keys or missing:
        sys.exit(f"{page.name}: the real page lacks {missing[:5] or 'rows'} of the bare page")


def same_weeks(page: Page, real_html: str, bare_html: str) -> None:
    """The bare twin's weekly rows (``data-weeks``) are in the page's weekly chart's <desc>."""
    block = re.search(r"<pre data-weeks>(.*?)</pre>", bare_html, re.S)
    if block is None:
        return
    weeks = [w for w in block.group(1).split("\n") if w]
    missing = [w for w in weeks if w not in real_html]
    if not weeks or missing:
        sys.exit(f"{page.name}: the page's weekly chart lacks {missing[:3] or 'weeks'}")


def time_page(client: FlaskClient, page: Page, n: int) -> Timing:
    real_html, bare_html = get(client, page.real), get(client, page.bare)
    same_rows(page, real_html, bare_html)
    same_weeks(page, real_html, bare_html)
    for _ in range(2):
        get(client, page.real)
        get(client, page.bare)
    timing = Timing([], [])
    for _ in range(n):
        for url, into, cpu in (
            (page.real, timing.real, timing.real_cpu),
            (page.bare, timing.bare, timing.bare_cpu),
        ):
            started, cpu_started = time.perf_counter(), time.process_time()
            get(client, url)
            into.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
    return timing


# --- one backend --------------------------------------------------------------------------------


def course_filter(app: Flask, slug: str) -> str:
    """The enrollments list's query string for "course is <slug>" (the view's own filter)."""
    view = list_view(app, "enrollment")
    with app.test_request_context():
        for index, flt in enumerate(view._filters or ()):
            if "course" in str(flt.name).lower():
                return f"flt0_{view.get_filter_arg(index, flt)}={slug}"
    sys.exit("the enrollments list has no course filter")


def pages_for(app: Flask, course: tuple[int, str]) -> list[Page]:
    course_id, slug = course
    verify = demo.DEMO_CERTIFICATE_NUMBER
    users_size = list_view(app, "user").page_size
    enrollments_size = list_view(app, "enrollment").page_size
    return [
        Page("users_list", "/admin/user/", f"/bare/users?size={users_size}", 0, endpoint="user"),
        Page(
            "enrollments_by_course",
            f"/admin/enrollment/?{course_filter(app, slug)}",
            f"/bare/enrollments?course={slug}&size={enrollments_size}",
            0,
            endpoint="enrollment",
        ),
        Page(
            "course_page",
            f"/admin/course/lessons/?id={course_id}",
            f"/bare/course?course={slug}",
            1,
        ),
        Page("dashboard", "/admin/", "/bare/dashboard", 1),
        Page("verify_page", f"/verify/{verify}", f"/bare/verify/{verify}", 1, anonymous=True),
    ]


def bench_backend(
    label: str, fresh: Callable[[], AbstractContextManager[str]], tmp: Path, sizes: Sizes
) -> list[str]:
    suffix = "" if label == "sqlite" else "_pg"
    with fresh() as url:
        settings = Settings(
            database_url=url, files_dir=tmp / f"files-{label}", environment=Environment.development
        )
        engine = make_engine(settings)
        try:
            schema.upgrade(engine)
            seconds = fill(settings, engine, sizes)
            print(
                f"\n[{label}] {sizes.users:,} users, {sizes.courses} courses, "
                f"{sizes.enrollments:,} enrollments generated in {seconds:.1f}s"
            )
            course = synthetic_course(engine)
        finally:
            engine.dispose()
        app = create_app(settings)
        bare_pages.install(app)
        try:
            return measure(app, pages_for(app, course), sizes, suffix)
        finally:
            app.extensions[EXTENSION].dispose()


def measure(app: Flask, pages: list[Page], sizes: Sizes, suffix: str) -> list[str]:
    client = logged_in_client(app)
    engine = app.extensions[EXTENSION].engine
    print(
        f"{'page':<24}{'median ms':>10}{'p95 ms':>9}{'bare med':>10}{'bare p95':>10}"
        f"{'ratio':>7}{'cpu ratio':>10}{'SQL':>5}"
    )
    lines: list[str] = []
    constant: list[str] = []
    all_constant = True
    anonymous = app.test_client()
    for page in pages:
        user = anonymous if page.anonymous else client
        timing = time_page(user, page, sizes.requests)
        with counting(engine) as seen:
            get(user, page.real)
        print(
            f"{page.name:<24}{statistics.median(timing.real):>10.1f}{Timing.p95(timing.real):>9.1f}"
            f"{statistics.median(timing.bare):>10.1f}{Timing.p95(timing.bare):>10.1f}"
            f"{timing.ratio:>7.2f}{timing.cpu_ratio:>10.2f}{len(seen):>5}"
        )
        ok = timing.ratio <= RATIO_GOAL
        lines.append(
            f"target {page.name}{suffix}: {timing.ratio:.2f} (goal <= {RATIO_GOAL:g}) "
            f"{'PASS' if ok else 'MISS'} (cpu ratio {timing.cpu_ratio:.2f})"
        )
        if page.endpoint:
            counts = statements_by_page_size(app, client, page)
            constant.append(f"{page.name} " + "/".join(str(counts[s]) for s in PAGE_SIZES))
            all_constant &= len(set(counts.values())) == 1
    sizes_text = "/".join(str(s) for s in PAGE_SIZES)
    lines.append(
        f"target statements_constant{suffix}: {', '.join(constant)} statements at page sizes "
        f"{sizes_text} (goal: equal) {'PASS' if all_constant else 'MISS'}"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="5,000 users, 15,000 enrollments (CI smoke test)"
    )
    parser.add_argument(
        "--requests", type=int, default=None, help="timed requests per page (default 40; quick 8)"
    )
    parser.add_argument(
        "--pg",
        metavar="URL",
        default=None,
        help="also on PostgreSQL: a database <name>_bench_<pid> is created beside the one this "
        "URL names, and dropped, e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/lms",
    )
    args = parser.parse_args(argv)
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.quick:
        sizes = Sizes(5_000, 10, 15_000, args.requests or 8)
    else:
        sizes = Sizes(100_000, 200, 300_000, args.requests or 40)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s){', quick' if args.quick else ''}"
    )
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lms-bench-backoffice-") as tmp_name:
        tmp = Path(tmp_name)
        lines += bench_backend("sqlite", sqlite_databases(tmp), tmp, sizes)
        if args.pg:
            lines += bench_backend("postgresql", postgres_databases(args.pg), tmp, sizes)
    print()
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
