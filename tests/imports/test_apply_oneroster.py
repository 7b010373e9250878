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

    again = imp("oneroster", EXAMPLES / "oneroster")
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
