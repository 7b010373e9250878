"""Job kinds of the import page's large files: ``imports.plan`` and ``imports.apply``.

The back office queues these instead of planning or applying in the request when a file is
large (``LMS_IMPORT_JOB_ROWS`` / ``LMS_IMPORT_JOB_MB``). Each works on one staged upload
(:mod:`lms_core.imports.staged`), as the user who uploaded it, and writes what the page
shows into the stage, with ``progress.json`` updated as rows are read or changes written.

Run twice (a worker lost its lease): planning again rewrites the same plan; applying again
finds ``applied.json`` and stops, or, if the first attempt died after its commit but before
writing it, finds the first attempt's run in the ledger, under the import lock, by the plan
file's name (unique to the stage): "applied", never applied twice nor refused by its own changes.
"""

from __future__ import annotations

from typing import Any

from lms_core.actor import Actor
from lms_core.db import SessionFactory, unit_of_work
from lms_core.errors import PermissionDenied
from lms_core.imports.staged import ProgressFile, StageFiles, apply_stage, plan_stage, stage_at
from lms_core.jobs.registry import JobContext, handler
from lms_core.models import User

PLAN_KIND = "imports.plan"
APPLY_KIND = "imports.apply"
#: Longer than the slowest import we expect, as the drop folder's (a second worker would
#: otherwise start the same plan while the first still runs it).
LEASE_SECONDS = 3600
#: An apply queued while another import runs waits this long for its lock (in a request it
#: would be refused at once: nobody waits for a page that long).
LOCK_WAIT_SECONDS = 600


def actor_of(factory: SessionFactory, user_id: int) -> Actor:
    """The uploader, read again when the job runs: a user deactivated meanwhile imports nothing
    (and a demoted one is refused by the run's own rule)."""
    with unit_of_work(factory, write=False) as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            raise PermissionDenied(f"user {user_id} is no longer active: the import was not run")
        return Actor.for_user(user)


def _stage(ctx: JobContext, args: dict[str, Any]) -> StageFiles | None:
    return stage_at(ctx.settings, str(args.get("stage", "")))


@handler(PLAN_KIND, max_attempts=3, lease_seconds=LEASE_SECONDS)
def plan_upload(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Plan a staged upload (a dry run writing the plan and errors file), with progress."""
    stage = _stage(ctx, args)
    if stage is None:
        return {"stage": "gone"}  # swept (a day old): nothing left to plan
    if stage.read(stage.report) is not None:
        return {"stage": "planned already"}
    try:
        actor = actor_of(ctx.session_factory, int(args["actor_id"]))
    except PermissionDenied as exc:
        stage.discard_inputs()
        problem = {"file": args.get("file"), "line": None, "column": None, "value": None}
        data = {
            "kind": args["kind"],
            "mode": args["mode"],
            "file": args.get("file"),
            "counts": {},
            "errors": [{**problem, "message": str(exc)}],
            "error_count": 1,
            "warnings": [],
            "changes": [],
            "changes_total": 0,
            "has_plan": False,
            "errors_files": [],
            "has_errors_file": False,
        }
        stage.write(stage.report, data)
        return {"error_count": 1}
    progress = ProgressFile(stage, "plan", args.get("rows"))
    data = plan_stage(ctx.session_factory, ctx.settings, actor, stage, args, progress=progress)
    stage.progress.unlink(missing_ok=True)
    return {
        "counts": data["counts"],
        "error_count": data["error_count"],
        "changes_total": data["changes_total"],
    }


@handler(APPLY_KIND, max_attempts=3, lease_seconds=LEASE_SECONDS)
def apply_upload(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Apply a staged plan, exactly, once; refused if its records changed since."""
    stage = _stage(ctx, args)
    if stage is None:
        return {"status": "gone"}
    try:
        actor = actor_of(ctx.session_factory, int(args["actor_id"]))
    except PermissionDenied as exc:
        outcome: dict[str, Any] = {"status": "error", "message": str(exc), "field": None}
    else:
        progress = ProgressFile(stage, "apply", args.get("changes"))
        outcome = apply_stage(
            ctx.session_factory,
            ctx.settings,
            actor,
            stage,
            progress=progress,
            wait=LOCK_WAIT_SECONDS,
        )
    if outcome["status"] == "already":  # an attempt that died after applying: done, not refused
        outcome = {**outcome, "status": "applied"}
    stage.write(stage.outcome, outcome)
    stage.progress.unlink(missing_ok=True)
    summary: dict[str, Any] = {
        k: outcome[k] for k in ("status", "run_id", "counts", "message") if k in outcome
    }
    if "problems" in outcome:
        summary["problems"] = len(outcome["problems"])
    return summary
