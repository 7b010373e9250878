"""Maintenance job kinds: prove the pipeline (``ping``, ``touch``) and keep the ledger small.

``maintenance.touch`` is the smallest real effect with the exactly-once discipline every
handler follows: its effect (a marker file) appears whole, at once, under a name derived
from the job's key (written apart, then hard-linked into place, which fails if the name
exists), so a second run after a lost lease finds it and does nothing. A monitoring check
can queue one and look for the file; the kill tests count them and read each.
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from lms_core.db import unit_of_work
from lms_core.jobs.registry import JobContext, handler
from lms_core.models import utcnow
from lms_core.models.jobs import FINISHED, Job

#: Finished jobs older than this are deleted by ``maintenance.prune_jobs`` (default args).
KEEP_FINISHED_DAYS = 30


@handler("maintenance.ping", max_attempts=3, lease_seconds=60, groupable=True)
def ping(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Prove a worker runs jobs: returns ``echo`` and the process that ran it."""
    if args.get("fail"):
        raise RuntimeError(str(args["fail"]))
    return {"echo": args.get("echo", "pong"), "pid": os.getpid(), "attempt": ctx.attempt}


def touch_path(files_dir: Path, key: str) -> Path:
    """Where ``maintenance.touch`` puts the marker of the job with ``key``."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return files_dir / "jobs" / "touch" / f"{digest}.txt"


@handler("maintenance.touch", max_attempts=5, lease_seconds=60)
def touch(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Create the job's marker file once, whole, after ``sleep`` seconds of "work".

    Created with ``O_EXCL`` and then written, a worker killed between the two left an empty
    marker that every later run took as done (the kill test saw one). The content is now
    written to a file of its own in ``touch-writing/`` and hard-linked to the marker's name:
    the link fails if the name exists, and a name that exists holds the whole line. A kill
    before the link leaves only that scratch file behind."""
    time.sleep(float(args.get("sleep", 0)))
    path = touch_path(Path(ctx.settings.files_dir), ctx.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return {"path": str(path), "created": False}
    scratch = path.parent.with_name("touch-writing") / f"{path.stem}.{os.getpid()}.{time.time_ns()}"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"{ctx.key}\n")
        try:
            os.link(scratch, path)
        except FileExistsError:
            return {"path": str(path), "created": False}
    finally:
        scratch.unlink(missing_ok=True)
    return {"path": str(path), "created": True}


@handler("maintenance.prune_jobs", max_attempts=3, lease_seconds=600)
def prune_jobs(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Delete finished jobs (succeeded, dead, cancelled) older than ``days`` (30)."""
    days = int(args.get("days", KEEP_FINISHED_DAYS))
    cutoff = utcnow() - timedelta(days=days)
    with unit_of_work(ctx.session_factory) as session:
        result = session.execute(
            delete(Job).where(
                Job.status.in_([s.value for s in FINISHED]),
                Job.finished_at < cutoff,
                Job.id != ctx.job_id,
            )
        )
        return {"deleted": int(getattr(result, "rowcount", 0)), "days": days}
