"""Plan files: written by --plan-out, applied exactly by apply_plan_file, refused when stale."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.accounts import users as users_service
from lms_core.accounts.fields import UserCreate, UserUpdate
from lms_core.imports.runs import ImportOptions, apply_plan_file
from lms_core.models import ImportRun, User
from tests.cli.helpers import db_state
from tests.imports.importing import Importer

USERS = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\nS-2,bob@x.org,Bob,student\n"


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


def _apply(imp: Importer, plan: Path) -> Any:
    return apply_plan_file(imp.factory, actor=imp.actor, settings=imp.settings, path=plan)


def test_plan_file_shape_then_applied_exactly(
    session: Session, imp: Importer, tmp_path: Path
) -> None:
    imp("users", imp.file("u.csv", USERS))
    source = imp.file(
        "u2.csv",
        "external_id,email,full_name,role\nS-1,ann@x.org,Ann B,student\nS-3,cy@x.org,Cy,student\n",
    )
    plan = tmp_path / "plan.json"
    before = db_state(session)
    dry = imp("users", source, dry_run=True, plan_out=plan)
    assert db_state(session) == before
    data = json.loads(plan.read_text())
    assert data["format"] == "lms-import-plan" and data["version"] == 1
    assert (data["entity"], data["mode"], data["file"]) == ("users", "upsert", "u2.csv")
    assert len(data["sha256"]) == 64 and data["created_at"]
    assert data["counts"] == dry.counts
    assert [(c["action"], c["key"]) for c in data["changes"]] == [
        ("create", "S-3"),
        ("update", "S-1"),
    ] or [(c["action"], c["key"]) for c in data["changes"]] == [
        ("update", "S-1"),
        ("create", "S-3"),
    ]
    update = next(c for c in data["changes"] if c["action"] == "update")
    assert set(update) == {"entity_type", "key", "action", "entity_id", "before", "after"}
    assert update["before"] == {"full_name": "Ann"} and update["after"] == {"full_name": "Ann B"}

    source.write_text("external_id,email,full_name,role\nS-1,ann@x.org,Something else,admin\n")
    report = _apply(imp, plan)
    assert not report.refused and report.run_id is not None
    session.expire_all()
    names = dict(session.execute(select(User.email, User.full_name)).all())  # type: ignore[arg-type]
    assert names == {"ann@x.org": "Ann B", "bob@x.org": "Bob", "cy@x.org": "Cy"}
    assert report.counts["create"] == 1 and report.counts["update"] == 1


def test_stale_plan_refused_listing_the_records(
    session: Session, imp: Importer, tmp_path: Path, operator: Any
) -> None:
    imp("users", imp.file("u.csv", USERS))
    plan = tmp_path / "plan.json"
    imp(
        "users",
        imp.file(
            "u2.csv",
            "external_id,email,full_name,role\nS-1,ann@x.org,Ann B,student\nS-3,cy@x.org,Cy,student\n",
        ),
        dry_run=True,
        plan_out=plan,
    )
    users_service.update_user(
        session, actor=operator, email="ann@x.org", data=UserUpdate(full_name="Ann Elsewhere")
    )
    users_service.create_user(
        session,
        actor=operator,
        data=UserCreate(email="cy@x.org", full_name="Cy", external_id="S-3"),
    )
    session.flush()
    before = db_state(session)
    report = _apply(imp, plan)
    assert report.refused
    found = sorted((e.column, e.value) for e in report.errors)
    assert found == [("full_name", "S-1"), ("user", "S-3")]
    assert "Ann Elsewhere" in str(report.errors)
    after = db_state(session)
    before.pop("import_runs"), after.pop("import_runs")
    assert after == before
    run = session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None and run.status == "refused"


def test_not_a_plan_is_refused(imp: Importer, tmp_path: Path) -> None:
    from lms_core.errors import FileProblem

    bad = tmp_path / "plan.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(FileProblem, match="not an import plan"):
        _apply(imp, bad)


@pytest.mark.parametrize(
    ("field", "value", "found"),
    [
        ("full_name", "A\x00nn", "NUL"),
        ("full_name", "Ann \u202eevil", "U+202E"),
        ("external_id", "S-\u202e3", "U+202E"),
        ("bio", "line one\nline two\x1b[2J", "U+001B"),
    ],
)
def test_a_hand_edited_plan_cannot_bring_control_characters(
    session: Session, imp: Importer, tmp_path: Path, field: str, value: str, found: str
) -> None:
    """A plan is a file anyone may edit: its values meet the import's character rules."""
    from lms_core.errors import FileProblem

    plan = tmp_path / "plan.json"
    imp("users", imp.file("u.csv", USERS), dry_run=True, plan_out=plan)
    data = json.loads(plan.read_text())
    data["changes"][0]["after"][field] = value
    plan.write_text(json.dumps(data))
    before = db_state(session)
    with pytest.raises(FileProblem, match=re.escape(found)) as refused:
        _apply(imp, plan)
    assert refused.value.column == field
    assert db_state(session) == before


def test_a_plan_whose_file_name_holds_a_nul_is_refused(
    session: Session, imp: Importer, tmp_path: Path
) -> None:
    from lms_core.errors import FileProblem

    plan = tmp_path / "plan.json"
    imp("users", imp.file("u.csv", USERS), dry_run=True, plan_out=plan)
    data = json.loads(plan.read_text())
    data["file"] = "u\x00.csv"
    plan.write_text(json.dumps(data))
    before = db_state(session)
    with pytest.raises(FileProblem, match="NUL"):
        _apply(imp, plan)
    assert db_state(session) == before


def test_links_file_failing_after_the_commit_leaves_the_run_applied(
    session: Session, imp: Importer, tmp_path: Path
) -> None:
    """The import committed; the links file cannot be put in place afterwards. The error
    reaches the caller, and the history still says applied (it is: undo can reverse it)."""
    from lms_core.imports.runs import import_file

    out = tmp_path / "links.csv"

    def block_the_links_file(_what: str, _n: int) -> None:
        out.mkdir(exist_ok=True)  # the rename into place will fail: a folder has the name

    with pytest.raises(OSError):
        import_file(
            imp.factory,
            actor=imp.actor,
            settings=imp.settings,
            entity="users",
            path=imp.file("u.csv", USERS),
            options=ImportOptions(invites_out=out),
            progress=block_the_links_file,
        )
    session.expire_all()
    run = session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert run is not None and run.status == "applied"
    assert session.scalar(select(func.count()).select_from(User)) == 2
