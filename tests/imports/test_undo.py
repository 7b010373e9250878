"""Undo of an import run: the records as they were, or a refusal naming what changed since."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts import users as users_service
from lms_core.accounts.fields import UserUpdate
from lms_core.errors import Conflict, ErrorList, LmsError
from lms_core.imports.runs import import_history, undo_import
from lms_core.models import AuditEntry, ImportRun, OneTimeToken, User
from tests.cli.helpers import count, db_state
from tests.imports.importing import Importer

USERS = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\nS-2,bob@x.org,Bob,student\n"


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


def _undo(session: Session, operator: Any, run_id: int, **kw: Any) -> Any:
    report = undo_import(session, actor=operator, run_id=run_id, **kw)
    session.flush()
    return report


def _without_ledger(state: dict[str, Any]) -> dict[str, Any]:
    """The tables an import writes, users without ``updated_at`` (undo is a change too)."""
    skip = {"import_runs", "import_changes", "audit_log"}
    out = {k: v for k, v in state.items() if k not in skip}
    updated_at = [c.name for c in User.__table__.columns].index("updated_at")
    out["users"] = [row[:updated_at] + row[updated_at + 1 :] for row in out["users"]]
    return out


def test_undo_restores_updates_and_deletes_creates(
    session: Session, imp: Importer, operator: Any
) -> None:
    first = imp("users", imp.file("u.csv", USERS))
    state = db_state(session)
    second = imp(
        "users",
        imp.file(
            "u2.csv",
            "external_id,email,full_name,role\nS-1,ann@x.org,Ann Renamed,instructor\nS-3,cy@x.org,Cy,student\n",
        ),
    )
    assert second.counts["create"] == 1 and second.counts["update"] == 1

    dry = _undo(session, operator, second.run_id, dry_run=True)
    assert dry.restored["user"] == 1 and dry.deleted["user"] == 1
    assert count(session, User) == 3

    report = _undo(session, operator, second.run_id)
    assert report.deleted["user"] == 1
    assert _without_ledger(db_state(session)) == _without_ledger(state)
    run = session.get(ImportRun, second.run_id)
    assert run is not None and run.status == "undone" and run.undone_by == operator.label
    assert (
        session.scalars(select(AuditEntry).where(AuditEntry.action == "import.undo"))
        .one()
        .entity_id
        == run.id
    )
    with pytest.raises(Conflict, match="undone"):
        _undo(session, operator, second.run_id)
    assert first.run_id is not None


def test_undo_refused_after_a_later_change(session: Session, imp: Importer, operator: Any) -> None:
    run = imp("users", imp.file("u.csv", USERS))
    users_service.update_user(
        session, actor=operator, email="ann@x.org", data=UserUpdate(full_name="Ann Changed By Hand")
    )
    session.flush()
    imp(
        "users",
        imp.file("u2.csv", "external_id,email,full_name,role\nS-2,bob@x.org,Bob Later,student\n"),
    )
    before = db_state(session)
    with pytest.raises(LmsError) as caught:
        _undo(session, operator, run.run_id)
    errors = caught.value.errors if isinstance(caught.value, ErrorList) else [caught.value]
    fields = {e.field for e in errors}
    assert "user S-1.full_name" in fields
    assert "user S-2" in fields  # changed again by the later import run
    assert any("import run" in e.message for e in errors)
    assert db_state(session) == before


def test_undo_refused_for_a_created_user_who_gained_rows(
    session: Session, imp: Importer, operator: Any, make: Any
) -> None:
    run = imp("users", imp.file("u.csv", USERS))
    course = make.course(lessons=1, published=True)
    from lms_core.catalog.enrollments import enroll

    enroll(session, actor=operator, email="ann@x.org", course_slug=course.slug)
    session.flush()
    with pytest.raises(Conflict, match="gained enrollments"):
        _undo(session, operator, run.run_id)


def test_undo_of_created_users_removes_their_invitations(
    session: Session, imp: Importer, operator: Any
) -> None:
    run = imp("users", imp.file("u.csv", USERS), invites_out=imp.tmp / "invites.csv")
    assert count(session, OneTimeToken) == 2
    _undo(session, operator, run.run_id)
    assert count(session, OneTimeToken) == 0 and count(session, User) == 0


def test_history_lists_runs_newest_first(session: Session, imp: Importer, operator: Any) -> None:
    imp("users", imp.file("u.csv", USERS))
    imp("users", imp.file("bad.csv", "email,full_name,role\nbad,Ann,student\n"))
    rows = import_history(session, actor=operator, limit=10)
    assert [r["status"] for r in rows] == ["refused", "applied"]
    assert rows[0]["file"] == "bad.csv" and "line 2" in rows[0]["message"]
    assert rows[1]["counts"]["create"] == 2 and len(rows[1]["sha256"]) == 12
