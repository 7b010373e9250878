"""Applying imports: one transaction, the ledger, idempotent re-runs, modes, sync thresholds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import (
    AuditEntry,
    Course,
    Enrollment,
    ImportChange,
    ImportRun,
    Lesson,
    User,
)
from tests.cli.helpers import count, db_state
from tests.imports.importing import Importer, messages, problems

USERS = """
external_id,email,full_name,role
S-001,ann@x.org,Ann Able,student
S-002,bob@x.org,Bob Best,student
T-001,tess@x.org,Tess Teach,instructor
"""


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


def _user(session: Session, email: str) -> User:
    session.expire_all()
    return session.scalars(select(User).where(User.email == email)).one()


def test_users_created_then_rerun_changes_nothing(session: Session, imp: Importer) -> None:
    path = imp.file("users.csv", USERS)
    report = imp("users", path)
    assert not report.refused
    assert report.counts == {
        "create": 3,
        "update": 0,
        "unchanged": 0,
        "deactivate": 0,
        "skipped": 0,
    }
    ann = _user(session, "ann@x.org")
    assert (ann.external_id, ann.full_name, ann.role, ann.is_active) == (
        "S-001",
        "Ann Able",
        "student",
        True,
    )
    assert ann.password_hash is None
    assert count(session, ImportChange, ImportChange.run_id == report.run_id) == 3
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "import.apply")).one()
    assert (entry.entity_type, entry.entity_id) == ("import_run", report.run_id)

    state = db_state(session)
    again = imp("users", path, recheck=True)  # read again: the unchanged file is not skipped
    assert again.counts["unchanged"] == 3 and again.counts["create"] == again.counts["update"] == 0
    assert again.changes_list == []  # type: ignore[attr-defined]
    assert count(session, ImportChange, ImportChange.run_id == again.run_id) == 0
    later = db_state(session)
    for table in ("import_runs", "audit_log"):
        later.pop(table), state.pop(table)
    assert later == state


def test_update_records_before_and_after_of_changed_fields(session: Session, imp: Importer) -> None:
    imp("users", imp.file("users.csv", USERS))
    path = imp.file(
        "users2.csv", "external_id,email,full_name,role\nS-001,ann.new@x.org,Ann Able,instructor\n"
    )
    report = imp("users", path)
    assert report.counts["update"] == 1
    (change,) = report.changes_list  # type: ignore[attr-defined]
    assert change["action"] == "update" and change["key"] == "S-001"
    assert change["before"] == {"email": "ann@x.org", "role": "student"}
    assert change["after"] == {"email": "ann.new@x.org", "role": "instructor"}
    row = session.scalars(select(ImportChange).where(ImportChange.run_id == report.run_id)).one()
    assert row.before == change["before"] and row.after == change["after"]


def test_users_matched_by_email_adopt_the_external_id(
    session: Session, imp: Importer, make: Any
) -> None:
    make.user("student", email="ann@x.org", name="Ann Able")
    report = imp("users", imp.file("u.csv", USERS))
    assert report.counts["update"] == 1 and report.counts["create"] == 2
    assert _user(session, "ann@x.org").external_id == "S-001"


def test_mode_add_creates_only(session: Session, imp: Importer) -> None:
    imp("users", imp.file("users.csv", USERS))
    path = imp.file(
        "u2.csv",
        "external_id,email,full_name,role\nS-001,ann@x.org,Changed,student\nS-003,cid@x.org,Cid,student\n",
    )
    report = imp("users", path, mode="add")
    assert (report.counts["create"], report.counts["update"], report.counts["skipped"]) == (1, 0, 1)
    assert _user(session, "ann@x.org").full_name == "Ann Able"


def test_mode_update_skips_unknown_records(session: Session, imp: Importer) -> None:
    imp("users", imp.file("users.csv", USERS))
    path = imp.file(
        "u2.csv",
        "external_id,email,full_name,role\nS-001,ann@x.org,Changed,student\nS-003,cid@x.org,Cid,student\n",
    )
    report = imp("users", path, mode="update")
    assert (report.counts["create"], report.counts["update"], report.counts["skipped"]) == (0, 1, 1)
    skipped = [c for c in report.changes_list if c["action"] == "skip"]  # type: ignore[attr-defined]
    assert [c["key"] for c in skipped] == ["S-003"]
    assert count(session, User, User.email == "cid@x.org") == 0


def test_sync_deactivates_absent_users_within_the_threshold(
    session: Session, imp: Importer, make: Any
) -> None:
    admin = make.user("admin", email="boss@x.org")
    imp("users", imp.file("users.csv", USERS + "S-003,cid@x.org,Cid,student\n"))
    path = imp.file("sync.csv", USERS)
    report = imp("users", path, mode="sync", max_removals=1)
    assert report.counts["deactivate"] == 1
    assert _user(session, "cid@x.org").is_active is False
    assert _user(session, "boss@x.org").is_active is True and admin.role == "admin"
    assert count(session, User, User.email == "cid@x.org") == 1  # deactivated, never deleted


def test_sync_over_the_threshold_is_refused_then_forced(session: Session, imp: Importer) -> None:
    imp("users", imp.file("users.csv", USERS + "S-003,cid@x.org,Cid,student\n"))
    path = imp.file(
        "sync.csv", "external_id,email,full_name,role\nS-001,ann@x.org,Ann Able,student\n"
    )
    before = db_state(session)
    report = imp("users", path, mode="sync")
    assert report.refused and report.counts["deactivate"] == 2
    assert "would deactivate 2 of the 3 users in scope" in messages(report)
    after = db_state(session)
    before.pop("import_runs"), after.pop("import_runs")
    assert after == before
    run = session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None and run.status == "refused" and "force the sync" in (run.message or "")
    assert "--" not in (run.message or "")  # the ledger's message is for every front door

    forced = imp("users", path, mode="sync", force=True)
    assert not forced.refused and forced.counts["deactivate"] == 2
    assert _user(session, "bob@x.org").is_active is False


def test_courses_lessons_and_enrollments(session: Session, imp: Importer) -> None:
    imp("users", imp.file("users.csv", USERS))
    courses = imp.file(
        "courses.csv",
        "external_id,slug,title,instructor_email,is_published,estimated_duration_minutes\n"
        "C-1,intro,Intro,tess@x.org,yes,90\nC-2,sql,SQL,tess@x.org,no,\n",
    )
    lessons = imp.file(
        "lessons.csv",
        "course_slug,slug,title,lesson_type,duration_minutes\nintro,setup,Setup,video,5\n"
        "intro,vars,Variables,,\nsql,select,Select,text,\n",
    )
    report = imp("courses", courses, lessons=lessons)
    assert not report.refused, messages(report)
    assert report.counts["create"] == 2 and report.counts["lessons"]["create"] == 3
    session.expire_all()
    intro = session.scalars(select(Course).where(Course.slug == "intro")).one()
    assert (intro.is_published, intro.estimated_duration_minutes, intro.instructor.email) == (
        True,
        90,
        "tess@x.org",
    )
    order = session.execute(
        select(Lesson.slug, Lesson.order_index)
        .where(Lesson.course_id == intro.id)
        .order_by(Lesson.order_index)
    ).all()
    assert [tuple(r) for r in order] == [("setup", 1), ("vars", 2)]

    enr = imp.file(
        "enr.csv",
        "user_external_id,course_external_id,status\nS-001,C-1,\nS-002,C-1,completed\nS-001,C-2,dropped\n",
    )
    report = imp("enrollments", enr)
    assert report.counts["create"] == 3, messages(report)
    rows = session.execute(
        select(
            User.email,
            Course.slug,
            Enrollment.status,
            Enrollment.completed_at.is_not(None),
            Enrollment.dropped_at.is_not(None),
        )
        .join(User, User.id == Enrollment.student_id)
        .join(Course, Course.id == Enrollment.course_id)
        .order_by(User.email, Course.slug)
    ).all()
    assert [tuple(r) for r in rows] == [
        ("ann@x.org", "intro", "active", False, False),
        ("ann@x.org", "sql", "dropped", False, True),
        ("bob@x.org", "intro", "completed", True, False),
    ]
    assert imp("enrollments", enr, recheck=True).counts["unchanged"] == 3


def test_enrollments_sync_drops_absent_active_enrollments(session: Session, imp: Importer) -> None:
    imp("users", imp.file("users.csv", USERS + "S-003,cid@x.org,Cid,student\n"))
    imp("courses", imp.file("c.csv", "slug,title,instructor_email\nintro,Intro,tess@x.org\n"))
    full = imp.file(
        "e.csv", "user_email,course_slug\nann@x.org,intro\nbob@x.org,intro\ncid@x.org,intro\n"
    )
    imp("enrollments", full)
    partial = imp.file("e2.csv", "user_email,course_slug\nann@x.org,intro\nbob@x.org,intro\n")
    refused = imp("enrollments", partial, mode="sync", max_removals=0)
    assert refused.refused and "would drop 1 of the 3" in messages(refused)
    report = imp("enrollments", partial, mode="sync", max_removals=1)
    assert report.counts["deactivate"] == 1
    session.expire_all()
    stmt = select(User.email, Enrollment.status).join(User, User.id == Enrollment.student_id)
    statuses = {email: status for email, status in session.execute(stmt)}
    assert statuses == {"ann@x.org": "active", "bob@x.org": "active", "cid@x.org": "dropped"}


def test_passwords_hashed_never_in_ledger_or_output(
    session: Session, imp: Importer, hasher: Any
) -> None:
    path = imp.file(
        "p.csv", "email,full_name,role,password\nann@x.org,Ann,student,Str0ng-Passw0rd!\n"
    )
    report = imp("users", path)
    assert not report.refused, messages(report)
    ann = _user(session, "ann@x.org")
    assert ann.password_hash and ann.password_hash.startswith("$argon2id$")
    assert hasher.verify("Str0ng-Passw0rd!", ann.password_hash)[0]
    change = session.scalars(select(ImportChange)).one()
    text = json.dumps([change.before, change.after, report.changes_list])  # type: ignore[attr-defined]
    assert "Str0ng" not in text and "argon2" not in text
    assert change.after is not None and change.after["password"] == "(set)"


def test_plan_out_refused_for_a_password_column(
    session: Session, imp: Importer, tmp_path: Path
) -> None:
    from lms_core.errors import ValidationError

    path = imp.file(
        "p.csv", "email,full_name,role,password\nann@x.org,Ann,student,Str0ng-Passw0rd!\n"
    )
    with pytest.raises(ValidationError, match="never carry passwords"):
        imp("users", path, dry_run=True, plan_out=tmp_path / "plan.json")
    assert not (tmp_path / "plan.json").exists()


def test_dry_run_writes_nothing(session: Session, imp: Importer) -> None:
    before = db_state(session)
    report = imp("users", imp.file("users.csv", USERS), dry_run=True)
    assert report.run_id is None and report.counts["create"] == 3
    assert len(report.changes_list) == 3  # type: ignore[attr-defined]
    assert db_state(session) == before


def test_administrators_not_demoted_by_an_import(
    session: Session, imp: Importer, make: Any
) -> None:
    make.user("admin", email="boss@x.org")
    make.user("admin", email="boss2@x.org")
    path = imp.file("u.csv", "email,full_name,role\nboss@x.org,Boss,student\n")
    report = imp("users", path)
    assert problems(report) == [("u.csv", 2, "role", "student")]
    assert _user(session, "boss@x.org").role == "admin"


def test_passwords_hashed_in_a_process_pool(session: Session, imp: Importer, hasher: Any) -> None:
    lines = "".join(f"p{i}@x.org,P {i},student,Str0ng-Pass-{i:03d}!\n" for i in range(6))
    report = imp("users", imp.file("p.csv", "email,full_name,role,password\n" + lines))
    assert report.counts["create"] == 6, messages(report)
    session.expire_all()
    for user in session.scalars(select(User)):
        number = int(user.email[1 : user.email.index("@")])
        assert hasher.verify(f"Str0ng-Pass-{number:03d}!", user.password_hash)[0]
    from lms_core.models import OneTimeToken

    assert count(session, OneTimeToken) == 0  # users with a password get no invitation


def test_courses_workbook_with_a_lessons_sheet(session: Session, imp: Importer, make: Any) -> None:
    from openpyxl import Workbook

    make.user("instructor", email="tess@x.org")
    book = Workbook()
    courses = book.active
    courses.title = "courses"
    courses.append(["slug", "title", "instructor_email", "is_published"])
    courses.append(["intro", "Intro", "tess@x.org", "yes"])
    lessons = book.create_sheet("lessons")
    lessons.append(["course_slug", "slug", "title", "order_index"])
    lessons.append(["intro", "b", "Second", 2])
    lessons.append(["intro", "a", "First", 1])
    path = imp.tmp / "courses.xlsx"
    book.save(path)
    report = imp("courses", path)
    assert not report.refused, messages(report)
    assert report.counts["create"] == 1 and report.counts["lessons"]["create"] == 2
    session.expire_all()
    stmt = (
        select(Lesson.slug).join(Course).where(Course.slug == "intro").order_by(Lesson.order_index)
    )
    assert list(session.scalars(stmt)) == ["a", "b"]


def test_a_first_sync_keeps_what_it_creates(session: Session, imp: Importer) -> None:
    """The scope is read after the rows are written: the run's own creations are in the file."""
    users = imp("users", imp.file("users.csv", USERS), mode="sync")
    assert not users.refused, messages(users)
    assert users.counts["create"] == 3 and users.counts["deactivate"] == 0
    assert _user(session, "ann@x.org").is_active is True
    imp("courses", imp.file("c.csv", "slug,title,instructor_email\nintro,Intro,tess@x.org\n"))
    enr = imp.file("e.csv", "user_email,course_slug\nann@x.org,intro\nbob@x.org,intro\n")
    report = imp("enrollments", enr, mode="sync")
    assert not report.refused, messages(report)
    assert report.counts["create"] == 2 and report.counts["deactivate"] == 0
    session.expire_all()
    statuses = {s for (s,) in session.execute(select(Enrollment.status))}
    assert statuses == {"active"}
    # Mixed: one new learner, one kept, one absent: only the absent one is dropped.
    imp("users", imp.file("u2.csv", USERS + "S-003,cid@x.org,Cid,student\n"))
    mixed = imp.file("e2.csv", "user_email,course_slug\nann@x.org,intro\ncid@x.org,intro\n")
    again = imp("enrollments", mixed, mode="sync", max_removals=1)
    assert (again.counts["create"], again.counts["deactivate"]) == (1, 1)
