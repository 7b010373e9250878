"""The schedule table: valid entries of real kinds, slots found by cron, each slot queued once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.dispatch import queue_periodic
from jobs.schedule import SCHEDULE, Periodic, latest_slot
from lms_core.db import unit_of_work
from lms_core.jobs.registry import kinds
from lms_core.models import Job


def test_every_entry_names_a_registered_kind_and_a_valid_cron() -> None:
    assert len({e.name for e in SCHEDULE}) == len(SCHEDULE)
    for entry in SCHEDULE:
        assert entry.kind in kinds(), entry
        assert latest_slot(entry) is not None, entry


def test_the_latest_slot_is_the_last_matching_minute() -> None:
    nightly = Periodic("n", "17 3 * * *", "maintenance.ping")
    assert latest_slot(nightly, datetime(2026, 12, 6, 3, 16, 59, tzinfo=UTC)) == datetime(
        2026, 12, 5, 3, 17, tzinfo=UTC
    )
    assert latest_slot(nightly, datetime(2026, 12, 6, 3, 17, 30, tzinfo=UTC)) == datetime(
        2026, 12, 6, 3, 17, tzinfo=UTC
    )
    yearly = Periodic("y", "0 0 1 1 *", "maintenance.ping")
    assert latest_slot(yearly, datetime(2026, 12, 6, tzinfo=UTC)) is None  # beyond catch-up


def test_each_slot_is_queued_once(session_factory: Callable[[], Session]) -> None:
    entry = Periodic("hourly", "5 * * * *", "maintenance.ping", {"echo": "hourly"})
    at = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
    first = queue_periodic(session_factory, entry, at)
    assert queue_periodic(session_factory, entry, datetime(2026, 12, 6, 11, 4, tzinfo=UTC)) == first
    later = queue_periodic(session_factory, entry, datetime(2026, 12, 6, 11, 5, tzinfo=UTC))
    assert later != first
    with unit_of_work(session_factory, write=False) as session:
        keys = session.scalars(select(Job.key).where(Job.kind == "maintenance.ping")).all()
    assert sorted(keys) == ["schedule:hourly:2026-12-06T10:05", "schedule:hourly:2026-12-06T11:05"]


def test_the_docs_table_lists_every_periodic_job() -> None:
    """docs/jobs.md "Periodic jobs" has one row per SCHEDULE entry: its name, cron and kind."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "jobs.md").read_text(encoding="utf-8")
    section = docs.split("## Periodic jobs", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0].strip("` "): cells
        for line in section.splitlines()
        if line.startswith("| `")
        and len(cells := [c.strip() for c in line.strip("|").split("|")]) >= 3
    }
    for entry in SCHEDULE:
        assert entry.name in rows, f"docs/jobs.md: no row for periodic job {entry.name}"
        _name, cron, kind = rows[entry.name][:3]
        assert cron == f"`{entry.cron}`", (entry.name, cron)
        assert kind.startswith(f"`{entry.kind}`"), (entry.name, kind)
    assert set(rows) == {entry.name for entry in SCHEDULE}
