"""The import page end to end: a file with a mistake is refused with its line and column and
changes nothing; the fixed file's plan is shown, then applied exactly (the CLI's run and audit
entry), never twice, never once the data changed since; a run is undone from its page."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.accounts import users as users_service
from lms_core.accounts.fields import UserUpdate
from lms_core.actor import Actor
from lms_core.models import AuditEntry, ImportRun, User
from lms_core.settings import Settings
from tests.cli.helpers import db_state
from tests.factories import Factories
from tests.web.conftest import csrf_token

Login = Callable[[User], FlaskClient]
HEADER = "external_id,email,full_name,role\n"
BAD = HEADER + "S-1,ann@x.org,Ann,student\nS-2,not-an-e-mail,Bob,student\nS-3,cy@x.org,Cy,student\n"
GOOD = HEADER + "S-1,ann@x.org,Ann,student\nS-2,bob@x.org,Bob,student\nS-3,cy@x.org,Cy,student\n"
_FLASH = re.compile(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', re.S)


def text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def flashes(response: Any) -> str:
    page = response.get_data(as_text=True)
    return " | ".join(
        re.sub(r"<[^>]+>|\u00d7", "", html.unescape(m)).strip() for m in _FLASH.findall(page)
    )


def upload(
    client: FlaskClient,
    content: bytes | str,
    *,
    name: str = "staff.csv",
    kind: str = "users",
    mode: str = "upsert",
) -> Any:
    """POST the import form as a browser does; the page it lands on (the plan)."""
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/admin/import/",
        data={
            "kind": kind,
            "mode": mode,
            "file": (io.BytesIO(data), name),
            "csrf_token": csrf_token(client, "/admin/import/"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def plan_path(response: Any) -> str:
    found = re.search(r'action="(/admin/import/plan/[0-9a-f]{32}/apply)"', text(response))
    assert found, "no 'Apply this plan' form on the page"
    return found.group(1)


def apply(client: FlaskClient, path: str) -> Any:
    token = csrf_token(client, path.rsplit("/", 1)[0])
    return client.post(path, data={"csrf_token": token}, follow_redirects=True)


def problems(response: Any) -> list[tuple[str, str, str]]:
    """(line, column, message) of each row of the page's problems table."""
    page = text(response)
    rows = re.findall(
        r'<td class="lms-line">(.*?)</td>\s*<td class="lms-column">(.*?)</td>\s*'
        r"<td><code>.*?</code></td>\s*<td>(.*?)</td>",
        page,
        re.S,
    )
    return [(line.strip(), column.strip(), message.strip()) for line, column, message in rows]


def counts(response: Any) -> dict[str, int]:
    found = re.findall(r'data-count="(\w+)">(\d+)<', text(response))
    return {key: int(n) for key, n in found}


def state(session: Session) -> dict[str, Any]:
    """Every table but the login sessions (each request may refresh its ``last_seen_at``)."""
    found = db_state(session)
    found.pop("web_sessions", None)
    return found


def test_mistake_shown_with_line_and_column_then_fixed_applied_once_and_undone(
    logged_in: Login, admin_user: User, session: Session, tmp_path: Path, cli: Any
) -> None:
    client = logged_in(admin_user)
    before = state(session)

    refused = upload(client, BAD)
    assert refused.status_code == 200
    assert problems(refused)[0][:2] == ("3", "email"), problems(refused)
    assert "Apply this plan" not in text(refused)
    assert state(session) == before  # a dry run: no user, no run recorded
    link = re.search(r'href="(/admin/import/plan/[0-9a-f]{32}/errors\.csv)"', text(refused))
    assert link
    errors = client.get(link.group(1))
    assert errors.status_code == 200
    assert errors.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(errors.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["email"] for r in rows] == ["ann@x.org", "not-an-e-mail", "cy@x.org"]
    assert rows[1]["error"].startswith("email:") and not rows[0]["error"]

    planned = upload(client, GOOD)
    assert counts(planned)["create"] == 3 and counts(planned)["update"] == 0
    assert "bob@x.org" in text(planned) and problems(planned) == []
    assert state(session) == before
    path = plan_path(planned)

    applied = apply(client, path)
    assert applied.status_code == 200, flashes(applied)
    assert "Applied import run" in flashes(applied)
    session.expire_all()
    emails = set(session.scalars(select(User.email).where(User.external_id.like("S-%"))))
    assert emails == {"ann@x.org", "bob@x.org", "cy@x.org"}
    run = session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None and run.status == "applied"
    assert (run.actor_id, run.actor_label, run.entity, run.mode) == (
        admin_user.id,
        admin_user.email,
        "users",
        "upsert",
    )
    assert run.counts["create"] == 3
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == "import_run", AuditEntry.entity_id == run.id
        )
    ).one()
    assert entry.action == "import.apply" and entry.actor_id == admin_user.id

    # The CLI's own apply of a plan leaves the same kind of audit entry.
    source = tmp_path / "more.csv"
    source.write_text(HEADER + "S-9,dee@x.org,Dee,student\n")
    plan = tmp_path / "plan.json"
    assert cli("import", "users", str(source), "--dry-run", "--plan-out", str(plan)).exit_code == 0
    assert cli("import", "apply", str(plan), as_=admin_user.email).exit_code == 0
    cli_entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "import.apply").order_by(AuditEntry.id.desc())
    ).first()
    assert cli_entry is not None and cli_entry.id != entry.id
    assert (cli_entry.actor_label, cli_entry.entity_type, sorted(cli_entry.after or {})) == (
        entry.actor_label,
        entry.entity_type,
        sorted(entry.after or {}),
    )

    runs = session.scalar(select(func.count()).select_from(ImportRun))
    again = client.post(path, data={"csrf_token": csrf_token(client, path.rsplit("/", 1)[0])})
    assert again.status_code == 409
    assert "applied already" in flashes(again)
    assert session.scalar(select(func.count()).select_from(ImportRun)) == runs

    preview = client.get(f"/admin/importrun/undo/{run.id}")
    assert preview.status_code == 200
    assert "delete the created 3 user(s)" in text(preview)
    undone = client.post(
        f"/admin/importrun/undo/{run.id}",
        data={"csrf_token": csrf_token(client, f"/admin/importrun/undo/{run.id}")},
        follow_redirects=True,
    )
    assert f"Undid import run {run.id}" in flashes(undone)
    session.expire_all()
    assert not session.scalars(select(User).where(User.email == "ann@x.org")).first()
    assert session.get(ImportRun, run.id).status == "undone"  # type: ignore[union-attr]
    undo_entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "import.undo")).one()
    assert (undo_entry.entity_id, undo_entry.actor_id) == (run.id, admin_user.id)


def test_plan_refused_when_the_data_changed_since(
    logged_in: Login, admin_user: User, make: Factories, session: Session
) -> None:
    ann = make.user("student", email="ann@x.org", name="Ann", external_id="S-1")
    client = logged_in(admin_user)
    planned = upload(client, HEADER + "S-1,ann@x.org,Ann Smith,student\n")
    assert counts(planned)["update"] == 1
    assert "Ann Smith" in text(planned)
    path = plan_path(planned)
    users_service.update_user(
        session,
        actor=Actor.operator("pytest"),
        email=ann.email,
        data=UserUpdate(full_name="Ann Elsewhere"),
    )
    session.flush()
    before = state(session)
    refused = apply(client, path)
    assert refused.status_code == 409
    assert "data changed since" in flashes(refused)
    assert any(
        column == "full_name" and "Ann Elsewhere" in message
        for _, column, message in problems(refused)
    )
    after = state(session)
    assert [r for r in after.pop("import_runs") if r not in before.pop("import_runs")]
    assert after == before
    session.expire_all()
    assert session.get(User, ann.id).full_name == "Ann Elsewhere"  # type: ignore[union-attr]
    run = session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None and run.status == "refused"


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("wrong.csv", "who,what\nann@x.org,Ann\n", ("1", "email")),
        (
            "bad-role.csv",
            HEADER + "S-1,ann@x.org,Ann,student\nS-2,bob@x.org,Bob,wizard\n",
            ("3", "role"),
        ),
        ("fake.xlsx", b"this is not a workbook at all", ("", "")),
        ("empty.csv", b"", ("", "")),
    ],
)
def test_bad_input_shows_the_errors_and_changes_nothing(
    logged_in: Login,
    admin_user: User,
    session: Session,
    name: str,
    content: str | bytes,
    where: tuple[str, str],
) -> None:
    client = logged_in(admin_user)
    before = state(session)
    response = upload(client, content, name=name)
    assert response.status_code == 200
    found = problems(response)
    assert found, text(response)[:2000]
    line, column = where
    if line or column:
        assert any(found_at[:2] == (line, column) for found_at in found), found
    assert "Apply this plan" not in text(response)
    assert state(session) == before


def demoted_learner(logged_in: Login, make: Factories, session: Session) -> FlaskClient:
    """A learner's client: learners cannot log in, so a staff member demoted while logged in."""
    user = make.user("instructor")
    client = logged_in(user)
    user.role = "student"
    session.flush()
    return client


def test_the_page_is_for_administrators_and_plans_are_private(
    logged_in: Login, admin_user: User, make: Factories, session: Session
) -> None:
    assert logged_in(make.user("instructor")).get("/admin/import/").status_code == 403
    assert demoted_learner(logged_in, make, session).get("/admin/import/").status_code == 403
    owner = logged_in(admin_user)
    path = plan_path(upload(owner, GOOD))
    stranger = logged_in(make.user("admin"))  # another session: the id is not in its session
    assert stranger.get(path.rsplit("/", 1)[0]).status_code == 404
    token = csrf_token(stranger, "/admin/import/")
    assert stranger.post(path, data={"csrf_token": token}).status_code == 404
    assert owner.get("/admin/import/plan/..%2f..%2fetc/errors.csv").status_code == 404
    no_form = owner.post("/admin/import/", data={"kind": "users", "mode": "upsert"})
    assert no_form.status_code == 400


def test_courses_with_a_lessons_file_and_templates(
    logged_in: Login, admin_user: User, make: Factories, session: Session
) -> None:
    teacher = make.user("instructor")
    client = logged_in(admin_user)
    lessons = "course_slug,slug,title,lesson_type,duration_minutes\nintro,setup,Setup,video,5\n"
    response = client.post(
        "/admin/import/",
        data={
            "kind": "courses",
            "mode": "upsert",
            "file": (
                io.BytesIO(f"slug,title,instructor_email\nintro,Intro,{teacher.email}\n".encode()),
                "same.csv",
            ),
            "lessons": (io.BytesIO(lessons.encode()), "same.csv"),
            "csrf_token": csrf_token(client, "/admin/import/"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert counts(response)["create"] == 1, text(response)[:3000]
    assert "lessons" in text(response) and "setup" in text(response)
    assert flashes(apply(client, plan_path(response))).startswith("Applied import run")
    session.expire_all()
    from lms_core.models import Course

    course = session.scalars(select(Course).where(Course.slug == "intro")).one()
    assert [lesson.slug for lesson in course.lessons] == ["setup"]

    template = client.get("/admin/import/template/users.csv")
    assert template.headers["Content-Disposition"].startswith("attachment")
    assert template.get_data(as_text=True).lstrip("\ufeff").startswith("external_id,email")
    xlsx = client.get("/admin/import/template/enrollments.xlsx")
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"
    assert client.get("/admin/import/template/passwords.csv").status_code == 404


def test_a_password_column_is_refused_without_storing_a_plan(
    logged_in: Login, admin_user: User, session: Session, settings: Settings
) -> None:
    client = logged_in(admin_user)
    before = state(session)
    stages = settings.files_dir / ".web-imports"
    # Only this upload's stage: other tests of the worker (the API's too) stage files here.
    others = set(stages.iterdir()) if stages.is_dir() else set()
    response = upload(
        client, HEADER.strip() + ",password\nS-1,ann@x.org,Ann,student,Secret-Pass-123\n"
    )
    found = problems(response)
    assert [(c, "password column" in m) for _, c, m in found] == [("password", True)]
    # The upload is not kept once planned (it held a password); what stays is owner-only.
    assert "Apply this plan" not in text(response)
    assert state(session) == before
    mine = set(stages.iterdir()) - others
    staged = [p for folder in mine for p in folder.rglob("*") if p.is_file()]
    assert staged and not [p for p in staged if "input" in p.parts]
    assert all(p.stat().st_mode & 0o077 == 0 for p in staged)  # owner-only files
