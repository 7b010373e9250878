"""The scheduled backup: job kind ``backup.create``, queued daily by jobs/schedule.py.

It runs only where a backup folder is configured (LMS_BACKUP_DIR, or ``dir`` in its
arguments): a site that never asked for backups gets no archive under ./var. Once per slot:
the archive's name is derived from the job's key (``lms-backup-<slot>-<kind>-<keyhash8>.tar``),
and the archive is renamed into place only when whole. A second run of the same job (a worker
killed after the rename, before the ledger recorded success) finds that archive, checks it is
a backup of this key, and returns it: there is no second step that a kill could separate from
the first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lms_core.backups import manifest as mf
from lms_core.backups.create import (
    configured_backup_dir,
    create_backup,
    database_kind,
    job_archive_path,
)
from lms_core.backups.retention import prune
from lms_core.jobs.registry import JobContext, handler


def existing_archive(folder: Path, key: str, kind: str) -> Path | None:
    """This key's archive if it is already in ``folder`` and is a backup made for the key."""
    named = job_archive_path(folder, key, kind, datetime.now(UTC))
    # A key naming no slot gets the time of its first run in the name: found by the suffix.
    suffix = named.name.rsplit("-", 1)[1]
    for path in sorted(folder.glob(f"{mf.ARCHIVE_PREFIX}*-{kind}-{suffix}")):
        try:
            manifest = mf.read_manifest(path)
        except ValueError:
            continue  # not readable as a backup: made again (the rename replaces it)
        if path.is_file() and manifest.get("job_key") == key:
            return path
    return None


@handler("backup.create", max_attempts=3, lease_seconds=6 * 3600)
def create(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Write one backup for this job's key, then prune by ``keep_daily``/``keep_weekly``."""
    given = args.get("dir")
    folder = Path(given) if given else configured_backup_dir(ctx.settings)
    if folder is None:
        return {"skipped": "no backup folder configured (set LMS_BACKUP_DIR)"}
    found = existing_archive(folder, ctx.key, database_kind(ctx.settings.database_url))
    if found is not None:
        return {"path": str(found), "created": False}
    made = create_backup(ctx.settings, out_dir=folder, job_key=ctx.key)
    result: dict[str, Any] = {"path": str(made.path), "created": True}
    if args.get("keep_daily") is not None or args.get("keep_weekly") is not None:
        plan = prune(
            folder,
            keep_daily=int(args.get("keep_daily") or 0),
            keep_weekly=int(args.get("keep_weekly") or 0),
        )
        result["pruned"] = [b.path.name for b in plan.delete]
    return result
