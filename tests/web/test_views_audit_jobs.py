"""Import history, audit log and jobs in the back office: who sees them, filters and search in
SQL, read only where it must be, retry and cancel through the services (with their audit
entries), and SQL statements per list page that do not grow with the page size."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, event, insert, select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.catalog import courses
from lms_core.imports.runs import ImportOptions, import_file
from lms_core.jobs import ledger
from lms_core.models import AuditEntry, ImportRun, Role, User, utcnow
from lms_core.models.jobs import Job
from lms_core.settings import Settings
from tests.factories import Factories
from tests.web.conftest import csrf_token

Login = Callable[[User], FlaskClient]
_FLASH = re.compile(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', re.S)
_ROW = re.compile(r'name="rowid" value="(\d+)"')


def flashes(response: Any) -> str:
    page = response.get_data(as_text=True)
    return " | ".join(
        re.sub(r"<[^>]+>|\u00d7", "", html.unescape(m)).strip() for m in _FLASH.findall(page)
    )


def listed(client: FlaskClient, path: str) -> list[int]:
    """The ids a list page shows (its row checkboxes, or its detail links)."""
    response = client.get(path)
    assert response.status_code == 200, path
    page = response.get_data(as_text=True)
    ids = _ROW.findall(page) or re.findall(r"details/\?id=(\d+)", page)
    return sorted({int(i) for i in ids})


def demoted_learner(logged_in: Login, make: Factories, session: Session) -> FlaskClient:
    """A learner's client: learners cannot log in, so a staff member demoted while logged in."""
    user = make.user("instructor")
    client = logged_in(user)
    user.role = "student"
    session.flush()
    return client


@contextmanager
def statements(connection: Connection) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", count)


def _import(
    session_factory: Any, settings: Settings, actor: Actor, path: Path, text: str
) -> int | None:
    path.write_text(text)
    report = import_file(
        session_factory,
        actor=actor,
        settings=settings,
        entity="users",
        path=path,
        options=ImportOptions(),
    )
    report.close()
    return report.run_id


# -- import history ------------------------------------------------------------------------


def test_history_lists_runs_filters_them_and_shows_a_runs_changes(
    logged_in: Login,
    admin_user: User,
    make: Factories,
    session: Session,
    session_factory: Any,
    settings: Settings,
    tmp_path: Path,
) -> None:
    actor = Actor(label=admin_user.email, role=Role.admin, user_id=admin_user.id)
    header = "external_id,email,full_name,role\n"
    applied = _import(
        session_factory,
        settings,
        actor,
        tmp_path / "ok.csv",
        header + "S-1,ann@x.org,Ann,student\n",
    )
    _import(
        session_factory, settings, actor, tmp_path / "bad.csv", header + "S-2,nope,Bob,student\n"
    )
    session.expire_all()
    runs = {r.status: r.id for r in session.scalars(select(ImportRun))}
    assert applied == runs["applied"] and "refused" in runs

    client = logged_in(admin_user)
    assert listed(client, "/admin/importrun/") == sorted(runs.values())
    assert listed(client, "/admin/importrun/?flt0_status_equals=refused") == [runs["refused"]]
    assert listed(client, "/admin/importrun/?flt0_kind_equals=courses") == []
    assert listed(client, "/admin/importrun/?search=bad.csv") == [runs["refused"]]
    details = client.get(f"/admin/importrun/details/?id={applied}").get_data(as_text=True)
    assert "ann@x.org" in details and "S-1" in details and "Undo this run" in details
    refused = client.get(f"/admin/importrun/details/?id={runs['refused']}").get_data(as_text=True)
    assert "Undo this run" not in refused and "line 2, column email" in refused

    teacher = make.user("instructor")
    assert logged_in(teacher).get("/admin/importrun/").status_code == 403
    assert logged_in(teacher).get(f"/admin/importrun/undo/{applied}").status_code == 403
    assert demoted_learner(logged_in, make, session).get("/admin/importrun/").status_code == 403


# -- audit log -----------------------------------------------------------------------------


def test_audit_log_filters_search_and_scope(
    logged_in: Login, admin_user: User, make: Factories, session: Session
) -> None:
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=1)
    teacher_actor = Actor(label=teacher.email, role=Role.instructor, user_id=teacher.id)
    courses.publish_course(session, actor=teacher_actor, slug=course.slug)
    session.flush()
    admin, instructor = logged_in(admin_user), logged_in(teacher)  # logins are audited too
    session.expire_all()
    entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    mine = [e.id for e in entries if e.actor_id == teacher.id]
    published = [e.id for e in entries if e.action == "course.publish"]
    assert set(published) <= set(mine) and len(published) == 1

    assert listed(admin, "/admin/audit/?page_size=500") == [e.id for e in entries]
    assert listed(admin, f"/admin/audit/?flt0_actor_equals={teacher.email}") == mine
    assert listed(admin, "/admin/audit/?flt0_action_equals=course.publish") == published
    only_courses = [e.id for e in entries if e.entity_type == "courses"]
    assert listed(admin, "/admin/audit/?flt0_entity_equals=courses") == only_courses
    assert listed(admin, "/admin/audit/?search=course.publish") == published
    now = utcnow()
    today = (
        f"{(now - timedelta(hours=1)):%Y-%m-%d %H:%M:%S} to "
        f"{(now + timedelta(hours=1)):%Y-%m-%d %H:%M:%S}"
    )
    assert listed(admin, f"/admin/audit/?flt0_when_utc_between={today}&page_size=500") == [
        e.id for e in entries
    ]
    assert listed(admin, "/admin/audit/?flt0_when_utc_smaller_than=2000-01-01 00:00:00") == []

    assert listed(instructor, "/admin/audit/") == mine
    other = next(e.id for e in entries if e.actor_id != teacher.id)
    hidden = instructor.get(f"/admin/audit/details/?id={other}", follow_redirects=True)
    assert "Record does not exist" in flashes(hidden)
    assert demoted_learner(logged_in, make, session).get("/admin/audit/").status_code == 403


def test_audit_log_is_read_only(
    logged_in: Login, admin_user: User, make: Factories, session: Session
) -> None:
    make.course(lessons=1)
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
    assert entry is not None
    client = logged_in(admin_user)
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert "/admin/audit/new/" not in page and "/admin/audit/edit/" not in page
    assert 'action="/admin/audit/delete/"' not in page
    assert client.get("/admin/audit/new/").status_code == 302
    assert client.get(f"/admin/audit/edit/?id={entry.id}").status_code == 302
    token = csrf_token(client, "/admin/audit/")
    client.post("/admin/audit/delete/", data={"id": entry.id, "csrf_token": token})
    client.post(
        "/admin/audit/new/",
        data={"action": "x.y", "entity_type": "z", "actor_label": "me", "csrf_token": token},
    )
    session.expire_all()
    assert session.get(AuditEntry, entry.id) is not None
    assert not session.scalars(select(AuditEntry).where(AuditEntry.action == "x.y")).first()


# -- jobs ----------------------------------------------------------------------------------


def _enqueue(session_factory: Any, **kw: Any) -> int:
    s = session_factory()
    try:
        job_id = ledger.enqueue(s, "maintenance.ping", kw.pop("args", {}), **kw).id
        s.commit()
        return job_id
    finally:
        s.close()


def _job(session: Session, job_id: int) -> tuple[str, int]:
    session.expire_all()
    job = session.get(Job, job_id)
    assert job is not None
    return job.status, job.attempts


def test_jobs_list_filter_retry_and_cancel_through_the_services(
    logged_in: Login,
    admin_user: User,
    make: Factories,
    session: Session,
    session_factory: Any,
    settings: Settings,
) -> None:
    dead = _enqueue(session_factory, args={"fail": "boom"}, max_attempts=1)
    ledger.run_job(session_factory, settings, dead)
    queued = _enqueue(session_factory, run_at=utcnow() + timedelta(hours=1))
    later = _enqueue(session_factory, run_at=utcnow() + timedelta(hours=2))
    assert _job(session, dead) == ("dead", 1)

    client = logged_in(admin_user)
    assert listed(client, "/admin/job/") == sorted([dead, queued, later])
    assert listed(client, "/admin/job/?flt0_status_equals=dead") == [dead]
    details = client.get(f"/admin/job/details/?id={dead}").get_data(as_text=True)
    assert "boom" in details and "Retry now" in details

    done = client.post(
        f"/admin/job/retry/{dead}",
        data={"csrf_token": csrf_token(client, f"/admin/job/details/?id={dead}")},
        follow_redirects=True,
    )
    assert f"Retried job(s) #{dead}" in flashes(done)
    assert _job(session, dead) == ("queued", 0)
    retried = session.scalars(select(AuditEntry).where(AuditEntry.action == "job.retry")).one()
    assert (retried.entity_id, retried.actor_id) == (dead, admin_user.id)

    refused = client.post(
        f"/admin/job/retry/{queued}",
        data={"csrf_token": csrf_token(client, "/admin/job/")},
        follow_redirects=True,
    )
    assert "only a dead, failed or cancelled job" in flashes(refused)
    assert _job(session, queued) == ("queued", 0)

    token = csrf_token(client, "/admin/job/")
    cancelled = client.post(
        "/admin/job/action/",
        data={"action": "cancel", "rowid": [str(queued), str(later)], "csrf_token": token},
        follow_redirects=True,
    )
    assert "Cancelled job(s)" in flashes(cancelled)
    assert _job(session, queued)[0] == "cancelled" and _job(session, later)[0] == "cancelled"
    assert (
        len(list(session.scalars(select(AuditEntry).where(AuditEntry.action == "job.cancel")))) == 2
    )

    again = client.post(
        f"/admin/job/cancel/{queued}",
        data={"csrf_token": csrf_token(client, "/admin/job/")},
        follow_redirects=True,
    )
    assert "nothing to cancel" in flashes(again)

    teacher = make.user("instructor")
    assert logged_in(teacher).get("/admin/job/").status_code == 403
    token = csrf_token(logged_in(admin_user), "/admin/job/")
    assert logged_in(teacher).post(
        f"/admin/job/retry/{dead}", data={"csrf_token": token}
    ).status_code in (400, 403)
    assert demoted_learner(logged_in, make, session).get("/admin/job/").status_code == 403


# -- SQL per page --------------------------------------------------------------------------


def _seed(session: Session, admin: User, n: int) -> None:
    now = utcnow()
    session.execute(
        insert(AuditEntry),
        [
            {"actor_label": "bulk", "action": "x.bulk", "entity_type": "users", "created_at": now}
            for _ in range(n)
        ],
    )
    session.execute(
        insert(Job),
        [
            {
                "kind": "maintenance.ping",
                "args": {},
                "key": f"bulk:{i}",
                "status": "queued",
                "attempts": 0,
                "max_attempts": 1,
                "run_at": now,
                "created_at": now,
            }
            for i in range(n)
        ],
    )
    session.execute(
        insert(ImportRun),
        [
            {
                "actor_id": admin.id,
                "actor_label": admin.email,
                "entity": "users",
                "mode": "upsert",
                "file_name": f"f{i}.csv",
                "file_sha256": "0" * 64,
                "status": "applied",
                "counts": {"create": 1},
                "started_at": now,
                "finished_at": now,
            }
            for i in range(n)
        ],
    )
    session.flush()


@pytest.mark.parametrize("path", ["/admin/audit/", "/admin/job/", "/admin/importrun/"])
def test_statements_per_list_page_do_not_grow_with_the_page(
    logged_in: Login, admin_user: User, session: Session, connection: Connection, path: str
) -> None:
    _seed(session, admin_user, 110)
    client = logged_in(admin_user)
    seen = []
    for size in (50, 100):
        client.get(f"{path}?page_size={size}")
        with statements(connection) as sql:
            response = client.get(f"{path}?page_size={size}")
        assert response.status_code == 200
        rows = len(_ROW.findall(response.get_data(as_text=True))) or len(
            set(re.findall(r"details/\?id=(\d+)", response.get_data(as_text=True)))
        )
        assert rows == size
        seen.append(len(sql))
    assert seen[0] == seen[1], seen
