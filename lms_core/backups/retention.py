"""Which backups to keep: the newest of each of the last N days and of the last M ISO weeks.

The date is read from the archive's name (``lms-backup-20261206T023000Z-sqlite.tar``), not
its mtime (a copy or a restore from tape changes the mtime). Days and weeks count those that
have a backup, so a site that was down a week still keeps N backups. Files that are not
backups are never touched; the newest backup is always kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

#: ``-<n>`` tells apart two archives of one second; ``-<8 hex>`` names a job's (its key).
NAME = re.compile(r"^lms-backup-(\d{8}T\d{6}Z)-(sqlite|postgresql)(?:-\d+|-[0-9a-f]{8})?\.tar$")


@dataclass(frozen=True)
class Backup:
    path: Path
    created: datetime


@dataclass(frozen=True)
class Plan:
    keep: list[Backup]
    delete: list[Backup]


def backups_in(folder: Path) -> list[Backup]:
    """The backup archives in ``folder``, newest first."""
    found: list[Backup] = []
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        match = NAME.match(path.name)
        if match and path.is_file():
            stamp = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            found.append(Backup(path, stamp))
    return sorted(found, key=lambda b: (b.created, b.path.name), reverse=True)


def plan_prune(backups: list[Backup], *, keep_daily: int, keep_weekly: int) -> Plan:
    """Keep the newest backup of each of the ``keep_daily`` newest days, and of each of the
    ``keep_weekly`` newest ISO weeks; delete the rest."""
    if keep_daily < 0 or keep_weekly < 0:
        raise ValueError("keep counts must be 0 or more")
    ordered = sorted(backups, key=lambda b: (b.created, b.path.name), reverse=True)
    keep: dict[Path, Backup] = {}
    days: set[date] = set()
    weeks: set[tuple[int, int]] = set()
    for backup in ordered:
        day = backup.created.date()
        if day not in days and len(days) < keep_daily:
            days.add(day)
            keep[backup.path] = backup
        week = tuple(backup.created.isocalendar())[:2]
        if week not in weeks and len(weeks) < keep_weekly:
            weeks.add((week[0], week[1]))
            keep[backup.path] = backup
    if ordered:
        keep.setdefault(ordered[0].path, ordered[0])  # never delete the newest backup
    return Plan(
        keep=[b for b in ordered if b.path in keep],
        delete=[b for b in ordered if b.path not in keep],
    )


def prune(folder: Path, *, keep_daily: int, keep_weekly: int, dry_run: bool = False) -> Plan:
    """Delete what :func:`plan_prune` does not keep (nothing with ``dry_run``)."""
    plan = plan_prune(backups_in(folder), keep_daily=keep_daily, keep_weekly=keep_weekly)
    if not dry_run:
        for backup in plan.delete:
            backup.path.unlink(missing_ok=True)
    return plan
