"""lmsctl jobs: run the worker, drain due jobs from cron, and look after the job ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lmsctl.options import JsonlOpt, JsonOpt, ListJsonOpt, PageOpt, PerPageOpt, group
from lmsctl.output import emit_query, emit_record, listing_format, print_json, report_change, say
from lmsctl.runtime import acting, runtime

if TYPE_CHECKING:
    from jobs.tasks import Tasks
    from lms_core.db import SessionFactory
    from lms_core.settings import Settings

app = group(
    "Background jobs: run a worker (or drain due jobs from cron), list, show, retry, cancel."
)

IdArg = Annotated[int, typer.Argument(help="The job's number (see jobs list).", show_default=False)]
LIST_COLUMNS = ("id", "kind", "status", "attempts", "run_at", "worker", "error")


def _require_admin(ctx: typer.Context, what: str, *, as_json: bool) -> None:
    from lms_core.permissions import require_admin

    with acting(ctx, as_json=as_json, write=False) as (_session, actor):
        require_admin(actor, what)


def _tasks(settings: Settings, *, as_json: bool, factory: SessionFactory | None = None) -> Tasks:
    """The queue and its tasks; a queue URL that cannot be used is a clean refusal."""
    from jobs.huey_app import make_huey
    from jobs.tasks import register_tasks
    from lmsctl.output import fail

    try:
        queue = make_huey(settings)
    except ValueError as exc:  # make_huey names the field in its message
        fail([{"field": None, "value": None, "message": str(exc)}], as_json=as_json)
    return register_tasks(queue, settings, session_factory=factory)


@app.command("worker")
def worker(
    ctx: typer.Context,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, max=64, help="Jobs run at once.")
    ] = 2,
    worker_type: Annotated[
        str,
        typer.Option("--worker-type", "-k", help="thread or process (process: CPU-heavy jobs)."),
    ] = "thread",
    periodic: Annotated[
        bool,
        typer.Option(
            "--periodic/--no-periodic",
            help="Queue the scheduled jobs (jobs/schedule.py); several workers may all do it.",
        ),
    ] = True,
    json_out: Annotated[
        bool, typer.Option("--json", help="Report a refusal to start as one JSON document.")
    ] = False,
) -> None:
    """Run the job worker in the foreground until SIGINT or SIGTERM.

    It runs Huey's consumer on the queue the settings name (SqliteHuey beside the database,
    or LMS_HUEY_URL=redis://...), wakes due jobs every LMS_JOBS_POLL_SECONDS, and queues the
    periodic jobs. SIGINT (Ctrl-C) lets running jobs finish; SIGTERM stops at once (a job cut
    short runs again when its lease expires).

    Example: lmsctl jobs worker --workers 4
    """
    import logging

    from lms_core.errors import UsageError
    from lmsctl.output import reporting

    with reporting(as_json=json_out):
        if worker_type not in ("thread", "process"):
            raise UsageError("must be thread or process", field="worker_type", value=worker_type)
    _require_admin(ctx, "run the job worker", as_json=json_out)
    from jobs.worker import LedgerConsumer

    settings = runtime(ctx).get_settings()
    tasks = _tasks(settings, as_json=json_out)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    consumer = LedgerConsumer(
        tasks,
        poll_seconds=settings.jobs_poll_seconds,
        workers=workers,
        worker_type=worker_type,
        periodic=periodic,
        # How long an idle worker thread may wait before it looks at the queue again.
        max_delay=min(1.0, settings.jobs_poll_seconds),
    )
    try:
        consumer.run()
    finally:
        tasks.close()


@app.command("run-due")
def run_due(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Run every due job and each periodic job's latest slot once, then exit (for cron).

    Exit 0 when every job run succeeded; 1 when one failed (each is named) or a forged queue
    entry was refused. A failed job waits for its next try; a later run-due retries it. From
    cron, every minute: "* * * * * lmsctl jobs run-due".

    Example: lmsctl jobs run-due --json
    """
    _require_admin(ctx, "run background jobs", as_json=json_out)
    from jobs.dispatch import drain
    from lmsctl.output import fail, reporting

    rt = runtime(ctx)
    settings = rt.get_settings()
    factory = rt.get_session_factory()
    tasks = _tasks(settings, as_json=json_out, factory=factory)
    with reporting(as_json=json_out):
        report = drain(tasks, factory)
    if json_out:
        print_json(report.as_dict())
    else:
        for outcome in report.outcomes:
            line = f"job {outcome.job_id} {outcome.kind}: {outcome.status}"
            say(line + (f" ({outcome.error})" if outcome.error else ""))
        say(f"{len(report.outcomes)} job(s) run, {len(report.failed)} not succeeded")
    if not report.ok:
        problems = [
            {
                "field": "job",
                "value": o.job_id,
                "message": f"{o.job_id} ({o.kind}) {o.status}: {o.error}",
            }
            for o in report.failed
        ] + [{"field": "queue", "value": None, "message": r} for r in report.refused]
        if json_out:
            raise typer.Exit(1)
        fail(problems, as_json=False)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option("--status", help="queued, running, succeeded, failed, dead or cancelled."),
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    page: PageOpt = None,
    per_page: PerPageOpt = None,
    jsonl_out: JsonlOpt = False,
    json_out: ListJsonOpt = False,
) -> None:
    """List jobs, newest first.

    Example: lmsctl jobs list --status dead --json
    """
    from lms_core.jobs.admin import job_row, jobs_query

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        stmt = jobs_query(session, actor=actor, status=status, kind=kind)
        emit_query(
            session,
            stmt,
            job_row,
            LIST_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
            page=page,
            per_page=per_page,
            noun="job(s)",
        )


@app.command("show")
def show(ctx: typer.Context, job_id: IdArg, json_out: JsonOpt = False) -> None:
    """Show one job: its arguments, attempts, last error and result.

    Example: lmsctl jobs show 42 --json
    """
    from lms_core.jobs.admin import get_job, job_row

    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        row = job_row(get_job(session, actor=actor, job_id=job_id), detail=True)
    emit_record(row, as_json=json_out)


@app.command("retry")
def retry(ctx: typer.Context, job_id: IdArg, json_out: JsonOpt = False) -> None:
    """Queue a dead, failed or cancelled job again, due now (a dead one gets its tries back).

    Example: lmsctl jobs retry 42
    """
    from lms_core.jobs.admin import job_row
    from lms_core.jobs.admin import retry as retry_job

    with acting(ctx, as_json=json_out) as (session, actor):
        row = job_row(retry_job(session, actor=actor, job_id=job_id))
    report_change(f"job {job_id} queued again", row, as_json=json_out)


@app.command("cancel")
def cancel(ctx: typer.Context, job_id: IdArg, json_out: JsonOpt = False) -> None:
    """Cancel a job that has not finished (a running one once its lease has expired).

    Example: lmsctl jobs cancel 42
    """
    from lms_core.jobs.admin import cancel as cancel_job
    from lms_core.jobs.admin import job_row

    with acting(ctx, as_json=json_out) as (session, actor):
        row = job_row(cancel_job(session, actor=actor, job_id=job_id))
    report_change(f"job {job_id} cancelled", row, as_json=json_out)
