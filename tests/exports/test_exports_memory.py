"""Exports stream: exporting 50,000 users takes no more memory than exporting 5,000."""
# A list of the rows would show as megabytes of growth; a streaming export shows none.

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.exports import entities
from lms_core.exports.entities import export
from lms_core.models import User

SMALL, LARGE = 5_000, 50_000
#: Allowed growth of the peak from SMALL to LARGE rows; a list of 45,000 more rows would be
#: several MB (a tuple of five values is ~400 bytes with its strings).
SLACK = 1_000_000


def add_users(session: Session, start: int, stop: int) -> None:
    rows = [
        {
            "email": f"learner-{i:06d}@example.org",
            "full_name": f"Learner Número {i}",
            "role": "student",
            "external_id": f"{i:09d}",
        }
        for i in range(start, stop)
    ]
    for chunk in range(0, len(rows), 10_000):
        session.execute(insert(User), rows[chunk : chunk + 10_000])
    session.flush()


def peak_bytes(session: Session, actor: Actor, path: Path, fmt: str) -> int:
    session.expire_all()
    tracemalloc.start()
    try:
        result = export(session, actor=actor, entity="users", fmt=fmt, out=path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.stat().st_size > 0
    return peak if result.rows["users"] else 0


@pytest.mark.parametrize(
    ("fmt", "small", "large"),
    # openpyxl is slow under tracemalloc: fewer rows, the same tenfold growth.
    [("csv", SMALL, LARGE), ("xlsx", 1_000, 6_000)],
)
def test_export_memory_does_not_grow_with_rows(
    session, operator, tmp_path, monkeypatch, fmt, small, large
):
    # Both sizes above one fetch batch, so the batch buffer is in both peaks.
    monkeypatch.setattr(entities, "BATCH", 250)
    add_users(session, 0, small)
    export(session, actor=operator, entity="users", fmt=fmt, out=tmp_path / f"warm.{fmt}")
    small_peak = peak_bytes(session, operator, tmp_path / f"small.{fmt}", fmt)
    add_users(session, small, large)
    large_peak = peak_bytes(session, operator, tmp_path / f"large.{fmt}", fmt)

    assert large_peak < small_peak + SLACK, (
        f"peak {small_peak / 1e6:.1f} MB for {small} rows, {large_peak / 1e6:.1f} MB for {large}"
    )
