"""The import page's large files: queue the job that plans or applies them, and follow it.

A stage worked on by a job holds ``job.json`` (the job's id and phase). Until the job has
written what the page shows (``report.json`` once planned; ``outcome.json`` once applied or
refused), the plan page shows the job row's status and the figure of ``progress.json``,
and reloads itself (``data-lms-refresh``, read by ``static/lms-admin.js``: the CSP allows no
inline script). The outcome of an apply is shown once, then forgotten, as a request's would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from admin_ui.auth import current_actor
from admin_ui.import_staging import Stage, Upload
from lms_core.actor import Actor
from lms_core.db import SessionFactory, unit_of_work
from lms_core.imports.rerun import file_sha256
from lms_core.imports.staged import applied_in_ledger
from lms_core.jobs.ledger import enqueue
from lms_core.models.jobs import Job
from lms_core.settings import Settings

#: Job statuses after which the job will not run again by itself (the page stops reloading).
ENDED = frozenset({"succeeded", "dead", "cancelled"})
#: Seconds between two reloads of the progress page.
REFRESH_SECONDS = 2


def is_large(settings: Settings, uploads: Sequence[Upload]) -> bool:
    """More rows (a CSV's lines) than ``import_job_rows``, or more bytes than ``import_job_mb``:
    too long for a request, so a job plans it. XLSX and zip files count by their bytes."""
    size = sum(u.size for u in uploads)
    rows = sum(u.rows for u in uploads)
    return size > settings.import_job_mb * 1024 * 1024 or rows > settings.import_job_rows


def queue(factory: SessionFactory, stage: Stage, kind: str, args: dict[str, Any]) -> int:
    """Queue ``kind`` for the stage, as the logged-in user (:func:`queue_for`)."""
    return queue_for(factory, stage, kind, args, current_actor())


def queue_for(
    factory: SessionFactory, stage: Stage, kind: str, args: dict[str, Any], actor: Actor
) -> int:
    """Queue ``kind`` for the stage, as ``actor``, and remember it in ``job.json``: the back
    office's page and the API (which has no logged-in user) both queue through here.

    An apply is keyed by the stage and its plan's SHA-256: two clicks (two requests that both
    passed the page's checks before either wrote ``job.json``) get one job. Once that job has
    ended without applying (refused, an error, cancelled), a click queues the next one, keyed
    after it (two clicks again get one): without that, the stage would hold on to the ended
    job for ever. The ledger, looked at under the import lock, still has the last word
    (:func:`lms_core.imports.staged.apply_stage`).
    """
    phase = kind.rsplit(".", 1)[-1]
    job_args = {**args, "stage": stage.id, "actor_id": actor.user_id}
    # Before the job exists: a fast worker's outcome is never the one removed.
    stage.outcome.unlink(missing_ok=True)
    base = f"{kind}:{stage.id}:{file_sha256(stage.plan)}" if phase == "apply" else None
    with unit_of_work(factory) as session:
        job = enqueue(session, kind, job_args, key=base)
        while base is not None and job.status in ENDED:
            job = enqueue(session, kind, job_args, key=f"{base}:after-{job.id}")
        job_id = job.id
    report = stage.read(stage.report) or {}
    stage.write(
        stage.job,
        {
            "job_id": job_id,
            "phase": phase,
            "kind": args.get("kind", report.get("kind")),
            "file": args.get("file", report.get("file")),
        },
    )
    return job_id


def working(factory: SessionFactory, stage: Stage) -> dict[str, Any] | None:
    """What the progress page shows while a job works on the stage; None when there is no such
    job, or it has written its result (the plan, or the apply's outcome)."""
    queued = stage.read(stage.job)
    if queued is None:
        return None
    phase = queued.get("phase")
    done = stage.report if phase == "plan" else stage.outcome
    if done.is_file() or (phase == "apply" and stage.applied.is_file()):
        return None
    with unit_of_work(factory, write=False) as session:
        job = session.get(Job, int(queued["job_id"]))
        row = (
            None
            if job is None
            else {
                "id": job.id,
                "status": job.status,
                "attempts": job.attempts,
                "max_attempts": job.max_attempts,
                "error": job.error,
                "run_at": job.run_at,
            }
        )
    ended = row is None or row["status"] in ENDED
    if ended and phase == "apply" and applied_in_ledger(factory, stage) is not None:
        stage.job.unlink(missing_ok=True)  # killed after its commit: the plan page says so
        return None
    return {
        "phase": phase,
        "kind": queued.get("kind"),
        "file": queued.get("file"),
        "job": row,
        "progress": stage.read(stage.progress),
        "refresh": None if ended else REFRESH_SECONDS,
    }


def take_outcome(stage: Stage) -> dict[str, Any] | None:
    """A background apply's outcome, once: read, then removed with ``job.json``."""
    queued = stage.read(stage.job)
    if queued is None or queued.get("phase") != "apply":
        return None
    outcome = stage.read(stage.outcome)
    if outcome is None:
        return None
    stage.outcome.unlink(missing_ok=True)
    stage.job.unlink(missing_ok=True)
    return outcome
