"""The example OneRoster bundles end to end: bulk, re-run, delta (drops, deactivation), undo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.imports.runs import undo_import
from lms_core.models import Enrollment, User
from tests.cli.helpers import count
from tests.imports.importing import Importer, messages

EXAMPLES = Path(__file__).resolve().parents[2] / "examples/import"


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


def test_bulk_then_rerun_then_delta_then_undo(
    session: Session, imp: Importer, operator: Any
) -> None:
    dry = imp("oneroster", EXAMPLES / "oneroster", dry_run=True)
    assert not dry.refused, messages(dry)
    bulk = imp("oneroster", EXAMPLES / "oneroster")
    assert bulk.counts["create"] == dry.counts["create"] > 0
    assert bulk.counts["enrollments"]["create"] == dry.counts["enrollments"]["create"]

    again = imp("oneroster", EXAMPLES / "oneroster", recheck=True)
    assert again.counts["create"] == again.counts["update"] == 0
    assert again.counts["unchanged"] == bulk.counts["create"]

    users, enrollments = count(session, User), count(session, Enrollment)
    delta = imp("oneroster", EXAMPLES / "oneroster-delta")
    assert not delta.refused, messages(delta)
    session.expire_all()
    dropped = session.scalars(
        select(Enrollment.status)
        .join(User, User.id == Enrollment.student_id)
        .where(User.external_id == "stu-1009")
    ).all()
    assert dropped and set(dropped) == {"dropped"}
    assert (
        session.scalars(select(User.is_active).where(User.external_id == "stu-1009")).one() is False
    )

    undo_import(session, actor=operator, run_id=delta.run_id)
    session.flush()
    session.expire_all()
    assert (count(session, User), count(session, Enrollment)) == (users, enrollments)
    restored = session.scalars(
        select(Enrollment.status)
        .join(User, User.id == Enrollment.student_id)
        .where(User.external_id == "stu-1009")
    ).all()
    assert set(restored) == {"active"}


def _enabling_delta(folder: Path, sourced_id: str) -> Path:
    """A delta bundle that only enables one user again (as SIS deltas do: no enrollments)."""
    folder.mkdir()
    manifest = (EXAMPLES / "oneroster-delta" / "manifest.csv").read_text(encoding="utf-8")
    manifest = manifest.replace("file.enrollments,delta", "file.enrollments,absent")
    (folder / "manifest.csv").write_text(manifest, encoding="utf-8")
    users = (EXAMPLES / "oneroster" / "users.csv").read_text(encoding="utf-8").splitlines()
    row = next(line for line in users if line.startswith(sourced_id + ","))
    cells = row.split(",")
    cells[3] = "true"  # enabledUser
    (folder / "users.csv").write_text(users[0] + "\n" + ",".join(cells) + "\n", encoding="utf-8")
    return folder


def _enrollments_of(session: Session, sourced_id: str) -> list[str]:
    session.expire_all()
    return list(
        session.scalars(
            select(Enrollment.status)
            .join(User, User.id == Enrollment.student_id)
            .where(User.external_id == sourced_id)
        )
    )


def test_a_disabled_users_enrollments_are_kept_for_when_a_delta_enables_them(
    session: Session, imp: Importer, tmp_path: Path
) -> None:
    """stu-1017 has enabledUser=false and two class enrollments in the bulk bundle."""
    dry = imp("oneroster", EXAMPLES / "oneroster", dry_run=True)
    assert dry.counts["enrollments"]["inactive_learners"] == 2
    bulk = imp("oneroster", EXAMPLES / "oneroster")
    assert not bulk.refused, messages(bulk)
    assert bulk.counts["enrollments"]["inactive_learners"] == 2
    assert _enrollments_of(session, "stu-1017") == ["active", "active"]
    learner = session.scalars(select(User).where(User.external_id == "stu-1017")).one()
    assert learner.is_active is False  # kept, and cannot sign in

    # The bulk bundle again (the user still disabled in the database): nothing refused.
    again = imp("oneroster", EXAMPLES / "oneroster", recheck=True)
    assert not again.refused, messages(again)
    assert again.counts["enrollments"]["inactive_learners"] == 2

    delta = imp("oneroster", _enabling_delta(tmp_path / "delta", "stu-1017"))
    assert not delta.refused, messages(delta)
    session.expire_all()
    assert session.scalars(select(User.is_active).where(User.external_id == "stu-1017")).one()
    assert _enrollments_of(session, "stu-1017") == ["active", "active"]
