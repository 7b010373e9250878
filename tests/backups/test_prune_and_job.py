"""Retention on fake dated archives, and the scheduled backup job through lmsctl jobs run-due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lms_core.backups.jobs import create as backup_job
from lms_core.backups.manifest import read_manifest
from lms_core.backups.retention import backups_in
from lms_core.db import make_session_factory, unit_of_work
from lms_core.jobs.registry import JobContext
from lms_core.models import Job
from tests.backups.conftest import Site, only_archive
from tests.cli.helpers import ok_json

#: Sunday 2026-12-06, 02:30 UTC.
NOW = datetime(2026, 12, 6, 2, 30, tzinfo=UTC)


def _fake(folder: Path, when: datetime, kind: str = "sqlite") -> str:
    name = f"lms-backup-{when:%Y%m%dT%H%M%SZ}-{kind}.tar"
    (folder / name).write_bytes(b"x")
    return name


def test_prune_keeps_the_newest_of_each_day_and_week(site: Site) -> None:
    folder = site.tmp / "fake"
    folder.mkdir()
    names = {}
    for days in range(0, 40):  # one nightly backup for 40 days, plus a second one today
        names[days] = _fake(folder, NOW - timedelta(days=days))
    extra_today = _fake(folder, NOW - timedelta(hours=1))
    (folder / "notes.txt").write_text("not a backup")
    args = ["backup", "prune", "--dir", str(folder), "--keep-daily", "3", "--keep-weekly", "3"]

    planned = ok_json(site.run(*args, "--dry-run", "--json"))
    assert len(list(folder.iterdir())) == 42  # a dry run deletes nothing
    # Days: the 3 newest (6th, 5th, 4th December). ISO weeks: the newest of this week (Sunday
    # the 6th, kept already), of the week before (Sunday 29 Nov) and before that (22 Nov).
    kept = {names[0], names[1], names[2], names[7], names[14]}
    assert set(planned["kept"]) == kept
    assert extra_today in planned["deleted"] and len(planned["deleted"]) == 41 - len(kept)

    done = ok_json(site.run(*args, "--json"))
    assert done["deleted"] == planned["deleted"]
    assert {b.path.name for b in backups_in(folder)} == kept
    assert (folder / "notes.txt").exists()
    text = site.run(*args)
    assert text.exit_code == 0 and "5 kept, 0 deleted" in text.stdout


def test_scheduled_backup_runs_once_per_slot(
    site: Site, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    jobbed = site.settings.model_copy(
        update={
            "huey_url": f"sqlite:///{tmp_path / 'huey.db'}",
            "jobs_backoff_base_seconds": 0.0,
            "backup_dir": site.backups,
        }
    )
    first = json.loads(site.run("jobs", "run-due", "--json", settings=jobbed).stdout)
    mine = [j for j in first["jobs"] if j["kind"] == "backup.create"]
    assert [j["status"] for j in mine] == ["succeeded"], first
    archive = only_archive(site.backups)
    with unit_of_work(make_session_factory(site.engine), write=False) as session:
        job = session.scalars(select(Job).where(Job.kind == "backup.create")).one()
        key, job_id = job.key, job.id
    assert key.startswith("schedule:backup:") and key.endswith("02:30")
    assert read_manifest(archive)["job_key"] == key
    again = json.loads(site.run("jobs", "run-due", "--json", settings=jobbed).stdout)
    assert not [j for j in again["jobs"] if j["kind"] == "backup.create"]
    assert only_archive(site.backups) == archive  # the slot ran once

    # The same job run again (a worker killed after the archive was written) makes no second.
    ctx = JobContext(make_session_factory(site.engine), jobbed, job_id, 2, key)
    assert backup_job(ctx, {}) == {"path": str(archive), "created": False}
    assert only_archive(site.backups) == archive


def test_scheduled_backup_does_nothing_without_a_backup_folder(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert site.settings.backup_dir is None
    ctx = JobContext(make_session_factory(site.engine), site.settings, 1, 1, "schedule:backup:x")
    result = backup_job(ctx, {})
    assert "no backup folder configured" in result["skipped"]
    assert not site.backups.exists()
