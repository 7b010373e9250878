"""The back-office bench's baseline: bare Flask views that run each page's SQL by hand.

Each view here does what the real page minimally must -- the same rows from the same tables,
counted and paged the same way -- with hand-written Core SQL on the app's own engine, and
renders them in a plain HTML table: no login check, no Flask-Admin, no ORM objects, no
layout. ``bench/backoffice_bench.py`` times the real page against its bare twin in the same
run with the same test client; the ratio is the cost of everything the back office adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, current_app, request
from jinja2 import Template
from sqlalchemy import Connection, bindparam, text

TABLE = """<!doctype html><html><head><title>{{ title }}</title></head><body>
<h1>{{ title }}</h1>{% if total is not none %}<p>{{ total }} rows</p>{% endif %}
<table><thead><tr>{% for h in header %}<th>{{ h }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr>{% for v in row %}<td>{{ v if v is not none else '' }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></body></html>"""


def _page(header: Sequence[str], rows: Sequence[Any], title: str, total: int | None) -> str:
    """The rows in a plain table (the template compiled once, at install, like Flask's)."""
    template: Template = current_app.extensions["bare_table"]
    return template.render(
        title=title,
        header=header,
        rows=[(*r, *[None] * (len(header) - len(r))) for r in rows],
        total=total,
    )


def _conn() -> Connection:
    from admin_ui.app import state

    return state().engine.connect()


def _page_args() -> tuple[int, int]:
    size = request.args.get("size", 20, type=int)
    return size, request.args.get("page", 0, type=int) * size


def users() -> str:
    """The users list: count, then one page ordered by e-mail."""
    size, offset = _page_args()
    header = ("email", "full_name", "role", "is_active", "last_login_at", "created_at")
    with _conn() as conn:
        total = conn.execute(text("SELECT count(*) FROM users")).scalar_one()
        rows = conn.execute(
            text(
                "SELECT email, full_name, role, is_active, last_login_at, created_at FROM users "
                "ORDER BY email LIMIT :n OFFSET :o"
            ),
            {"n": size, "o": offset},
        ).all()
    return _page(header, rows, "Users", total)


def enrollments() -> str:
    """Enrollments of one course (by slug), newest first, with the learner's e-mail."""
    size, offset = _page_args()
    slug = request.args.get("course", "")
    header = ("email", "slug", "status", "progress", "enrolled_at", "completed_at")
    with _conn() as conn:
        course_id = conn.execute(
            text("SELECT id FROM courses WHERE slug = :s"), {"s": slug}
        ).scalar_one()
        total = conn.execute(
            text("SELECT count(*) FROM enrollments WHERE course_id = :c"), {"c": course_id}
        ).scalar_one()
        rows = conn.execute(
            text(
                "SELECT u.email, c.slug, e.status, e.progress_percentage, e.enrolled_at, "
                "e.completed_at FROM enrollments e JOIN users u ON u.id = e.student_id "
                "JOIN courses c ON c.id = e.course_id WHERE e.course_id = :c "
                "ORDER BY e.enrolled_at DESC, e.id DESC LIMIT :n OFFSET :o"
            ),
            {"c": course_id, "n": size, "o": offset},
        ).all()
    return _page(header, rows, "Enrollments", total)


def course() -> str:
    """One course with its instructor and its lessons in order."""
    slug = request.args.get("course", "")
    with _conn() as conn:
        head = conn.execute(
            text(
                "SELECT c.id, c.slug, c.title, c.is_published, u.email FROM courses c "
                "JOIN users u ON u.id = c.instructor_id WHERE c.slug = :s"
            ),
            {"s": slug},
        ).one()
        lessons = conn.execute(
            text(
                "SELECT order_index, slug, title, lesson_type, duration_minutes FROM lessons "
                "WHERE course_id = :c ORDER BY order_index"
            ),
            {"c": head.id},
        ).all()
    rows = [tuple(head)[1:], *lessons]
    return _page(("#", "slug", "title", "type", "minutes"), rows, head.title, None)


def dashboard() -> str:
    """The figures (users by role, courses, enrollments by status, certificates this month,
    failing jobs), the latest audit entries, import runs and failed jobs, and the site report
    (:func:`_site_report`)."""
    month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    recent = request.args.get("recent", 8, type=int)
    one = "SELECT count(*) FROM {} WHERE {}"
    with _conn() as conn:
        rows: list[tuple[Any, ...]] = list(
            conn.execute(text("SELECT role, count(*) FROM users GROUP BY role")).all()
        )
        for what, table, where, args in (
            ("courses", "courses", "1 = 1", {}),
            ("published", "courses", "is_published", {}),
            ("active", "enrollments", "status = 'active'", {}),
            ("completed", "enrollments", "status = 'completed'", {}),
            ("certificates", "certificates", "issued_at >= :m", {"m": month.replace(tzinfo=None)}),
            ("failed jobs", "jobs", "status = 'failed'", {}),
            ("dead jobs", "jobs", "status = 'dead'", {}),
        ):
            rows.append((what, conn.execute(text(one.format(table, where)), args).scalar_one()))
        rows += conn.execute(
            text(
                "SELECT created_at, action, actor_label, entity_type, entity_id FROM audit_log "
                "ORDER BY id DESC LIMIT :n"
            ),
            {"n": recent},
        ).all()
        rows += conn.execute(
            text(
                "SELECT started_at, file_name, entity, mode, status, message FROM import_runs "
                "ORDER BY id DESC LIMIT :n"
            ),
            {"n": recent},
        ).all()
        rows += conn.execute(
            text(
                "SELECT id, kind, status, attempts, error FROM jobs "
                "WHERE status IN ('failed', 'dead') ORDER BY id DESC LIMIT :n"
            ),
            {"n": recent},
        ).all()
        report = _site_report(conn)
    # The site report's rows (the dashboard's charts and tables) follow as plain text: the
    # bench's row check reads the first table only, its weekly check the data-weeks block.
    return _page(("what", "value", "", "", "", ""), rows, "Dashboard", None) + report


#: The site report's statements written by hand (``lms_core.reports.system`` builds them with
#: SQLAlchemy); ``{week}`` and ``{month}`` are the dialect's bucket of a timestamp.
SITE_REPORT = {
    "totals": "SELECT (SELECT count(*) FROM users WHERE deleted_at IS NULL), "
    "(SELECT count(*) FROM courses), (SELECT count(*) FROM courses WHERE is_published), "
    "(SELECT count(*) FROM enrollments), (SELECT count(*) FROM certificates "
    "WHERE revoked_at IS NULL AND superseded_at IS NULL)",
    "users": "SELECT role, CASE WHEN deleted_at IS NOT NULL THEN 'deleted' WHEN is_active "
    "THEN 'active' ELSE 'inactive' END AS state, count(*) FROM users GROUP BY role, state "
    "ORDER BY role, state",
    "active_learners": "SELECT coalesce(sum(CASE WHEN last_activity_at >= :d7 THEN 1 "
    "ELSE 0 END), 0), count(*) FROM users WHERE role = 'student' "
    "AND last_activity_at >= :d30 AND last_activity_at < :now",
    "enrollments_per_week": "SELECT week, sum(enrolled), sum(completed) FROM ("
    "SELECT {week_enrolled} AS week, 1 AS enrolled, 0 AS completed FROM enrollments "
    "WHERE enrolled_at >= :since UNION ALL SELECT {week_completed}, 0, 1 FROM enrollments "
    "WHERE completed_at IS NOT NULL AND completed_at >= :since) AS ev "
    "GROUP BY week ORDER BY week",
    "certificates_per_month": "SELECT {month} AS month, count(*), sum(CASE WHEN revoked_at "
    "IS NOT NULL THEN 1 ELSE 0 END) FROM certificates WHERE issued_at >= :since "
    "GROUP BY month ORDER BY month",
    "imports": "SELECT entity, count(*), sum(CASE WHEN status = 'applied' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN status = 'refused' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN status = 'undone' THEN 1 ELSE 0 END), max(started_at) FROM import_runs "
    "WHERE started_at >= :since GROUP BY entity ORDER BY entity",
    "dead_jobs": "SELECT id, kind, attempts, finished_at, substr(error, 1, 200) FROM jobs "
    "WHERE status = 'dead' ORDER BY id LIMIT :shown",
}


def _buckets(dialect: str) -> dict[str, str]:
    """The week (Monday, UTC) and month of a timestamp, as ``lms_core.reports.sql`` has them."""
    if dialect == "postgresql":
        week = "to_char(date_trunc('week', {} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
        month = "to_char(issued_at AT TIME ZONE 'UTC', 'YYYY-MM')"
    else:
        week = "date(substr({}, 1, 19), 'weekday 0', '-6 days')"
        month = "strftime('%Y-%m', substr(issued_at, 1, 19))"
    return {
        "week_enrolled": week.format("enrolled_at"),
        "week_completed": week.format("completed_at"),
        "month": month,
    }


def _site_report(conn: Connection) -> str:
    """The site report as the dashboard reads it -- the same period (``dashboard_period``:
    the last ``DASHBOARD_WEEKS`` weeks from a Monday), dead jobs capped as the page reads them
    (``SHOWN`` and one more) -- in hand-written SQL on the connection, rows as text. The weekly
    rows are written as the weekly chart's description writes them (``week: enrolled /
    completed``), so the bench can check the page shows the same weeks."""
    from datetime import timedelta

    from admin_ui.report_figures import DASHBOARD_WEEKS, SHOWN, dashboard_period
    from lms_core.models.base import UtcDateTime

    period, _, _ = dashboard_period({}, DASHBOARD_WEEKS)
    assert period.since is not None and period.until is None
    now = period.now
    values = {
        "since": period.since,
        "now": now,
        "d30": now - timedelta(days=30),
        "d7": now - timedelta(days=7),
    }
    buckets = _buckets(conn.dialect.name)
    lines, weeks = [], []
    for name, sql in SITE_REPORT.items():
        stmt = text(sql.format(**buckets)).bindparams(
            *[bindparam(k, v, type_=UtcDateTime()) for k, v in values.items() if f":{k}" in sql]
        )
        for row in conn.execute(stmt, {"shown": SHOWN + 1} if ":shown" in sql else {}):
            lines.append(f"{name}: {tuple(row)}")
            if name == "enrollments_per_week":
                weeks.append(f"{row[0]}: {row[1]} / {row[2]}")
    report = "\n".join(lines).replace("<", "&lt;")
    return f"<pre>{report}</pre><pre data-weeks>" + "\n".join(weeks) + "</pre>"


def verify(number: str) -> str:
    """A certificate by number: its status, the learner's name, the course, the date."""
    with _conn() as conn:
        row = conn.execute(
            text(
                "SELECT number, learner_name, course_title, issued_at, revoked_at, "
                "revoked_reason, superseded_at FROM certificates WHERE number = :n"
            ),
            {"n": number},
        ).one()
    status = "revoked" if row.revoked_at else "superseded" if row.superseded_at else "valid"
    return _page(
        ("number", "name", "course", "issued", "status"), [(*row[:4], status)], number, None
    )


def install(app: Flask) -> None:
    """Add the bare pages under ``/bare/`` (before the app's first request)."""
    app.extensions["bare_table"] = app.jinja_env.from_string(TABLE)
    bare = Blueprint("bare", __name__, url_prefix="/bare")
    bare.add_url_rule("/users", view_func=users)
    bare.add_url_rule("/enrollments", view_func=enrollments)
    bare.add_url_rule("/course", view_func=course)
    bare.add_url_rule("/dashboard", view_func=dashboard)
    bare.add_url_rule("/verify/<number>", view_func=verify)
    app.register_blueprint(bare)
