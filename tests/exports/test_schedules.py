"""Export schedules: cron and folder checks, due slots, one file per slot, retention, failures."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.db import unit_of_work
from lms_core.errors import ValidationError
from lms_core.exports.jobs import file_name, own_files, queue_due, run_schedule
from lms_core.exports.schedules import add_schedule, check_cron, due_slots
from lms_core.jobs import ledger
from lms_core.models import ExportSchedule, Job
from lms_core.settings import Settings

Factory = Callable[[], Session]


@pytest.mark.parametrize(
    ("cron", "says"),
    [
        ("61 * * * *", "field 1 (minute) '61'"),
        ("0 25 * * *", "field 2 (hour) '25'"),
        ("0 2 32 * *", "field 3 (day) '32'"),
        ("0 2 * 13 *", "field 4 (month) '13'"),
        ("0 2 * * 8", "field 5 (day-of-week) '8'"),
        ("*/0 * * * *", "field 1 (minute) '*/0'"),
        ("0 2 * *", "needs 5 fields"),
        ("", "needs 5 fields"),
    ],
)
def test_a_bad_cron_expression_names_its_field(cron: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_cron(cron)
    assert caught.value.field == "cron"
    assert says in caught.value.message


def test_a_good_cron_expression_is_kept_in_one_spacing() -> None:
    assert check_cron(" 0  2 * * 1-5 ") == "0 2 * * 1-5"
    assert check_cron("*/15 * * * *") == "*/15 * * * *"


def _add(session: Session, folder: Path, **kw: Any) -> ExportSchedule:
    values: dict[str, Any] = {"name": "people", "cron": "0 2 * * *", "export": "users"}
    values.update(kw)
    return add_schedule(session, actor=Actor.operator("pytest"), folder=folder, **values)


def test_a_new_schedule_waits_for_its_first_slot(session: Session, tmp_path: Path) -> None:
    schedule = _add(session, tmp_path)
    created = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
    schedule.created_at = created
    session.flush()
    assert due_slots(session, created + timedelta(hours=3)) == []  # 02:00 was before it
    [(found, slot)] = due_slots(session, created + timedelta(days=1))
    assert found.id == schedule.id and slot == datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    schedule.enabled = False
    session.flush()
    assert due_slots(session, created + timedelta(days=1)) == []


def test_each_slot_is_queued_once_and_writes_one_file(
    session: Session, session_factory: Factory, tmp_path: Path
) -> None:
    schedule = _add(session, tmp_path, cron="*/5 * * * *")
    schedule.created_at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    session.flush()
    at = datetime(2026, 12, 6, 10, 7, 30, tzinfo=UTC)
    first = [job.id for job in queue_due(session, at)]
    again = [job.id for job in queue_due(session, at + timedelta(seconds=20))]
    assert first == again and len(first) == 1
    job = session.get_one(Job, first[0])
    assert job.key == "export:people:2026-12-06T10:05"
    slot = datetime.fromisoformat(job.args["at"])
    run_schedule(session_factory, schedule.id, slot)
    run_schedule(session_factory, schedule.id, slot)  # a retry after a lost lease
    assert [p.name for p in own_files(tmp_path, "people")] == ["people-20261206T100500Z.csv"]
    assert "email" in (tmp_path / "people-20261206T100500Z.csv").read_text(encoding="utf-8-sig")


def test_retention_keeps_the_newest_files_of_this_schedule_only(
    session: Session, session_factory: Factory, tmp_path: Path
) -> None:
    schedule = _add(session, tmp_path, keep=3)
    session.flush()
    old = [datetime(2026, 12, day, 2, 0, tzinfo=UTC) for day in (1, 2, 3, 4, 5)]
    for moment in old:
        (tmp_path / file_name("people", moment, "csv")).write_text("old\n")
    others = ["people-weekly-20261201T020000Z.csv", "notes.txt", "people-latest.csv"]
    for other in others:
        (tmp_path / other).write_text("keep me\n")
    result = run_schedule(session_factory, schedule.id, datetime(2026, 12, 6, 2, 0, tzinfo=UTC))
    kept = [p.name for p in own_files(tmp_path, "people")]
    assert kept == [
        "people-20261206T020000Z.csv",
        "people-20261205T020000Z.csv",
        "people-20261204T020000Z.csv",
    ]
    assert sorted(result["pruned"]) == [file_name("people", m, "csv") for m in old[:3]]
    assert all((tmp_path / other).exists() for other in others)
    with unit_of_work(session_factory, write=False) as check:
        row = check.get_one(ExportSchedule, schedule.id)
        assert row.last_file == str(tmp_path / "people-20261206T020000Z.csv")
        assert row.last_error is None and row.last_run_at is not None


def test_a_removed_folder_fails_the_job_and_says_so_on_the_schedule(
    session: Session, session_factory: Factory, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    schedule = _add(session, folder, cron="* * * * *")
    schedule.created_at -= timedelta(minutes=5)
    session.flush()
    [job] = queue_due(session)
    session.flush()
    shutil.rmtree(folder)
    outcome = ledger.run_job(session_factory, settings, job.id)
    assert outcome is not None and outcome.status == "failed"
    assert outcome.error is not None and f"folder: {folder} does not exist" in outcome.error
    assert not folder.exists()  # never created by the export
    with unit_of_work(session_factory, write=False) as check:
        row = check.scalars(select(ExportSchedule).where(ExportSchedule.id == schedule.id)).one()
        assert row.last_error is not None and str(folder) in row.last_error
        assert row.last_file is None


def test_a_gradebook_schedule_writes_the_formula_safe_gradebook(
    session: Session, session_factory: Factory, make: Any, tmp_path: Path
) -> None:
    course = make.course(lessons=1, published=True)
    learner = make.user(name="=HYPERLINK(1)")
    make.enroll(learner, course)
    schedule = _add(session, tmp_path, name="grades", export="gradebook", course=course.slug)
    session.flush()
    result = run_schedule(session_factory, schedule.id, datetime(2026, 12, 6, 2, 0, tzinfo=UTC))
    text = Path(result["file"]).read_text(encoding="utf-8-sig")
    assert result["rows"] == 1 and "'=HYPERLINK(1)" in text
