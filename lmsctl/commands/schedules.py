"""lmsctl schedules: named exports written to a folder on a cron schedule, with retention."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lmsctl.options import JsonlOpt, JsonOpt, ListJsonOpt, PageOpt, PerPageOpt, group
from lmsctl.output import emit_query, emit_record, notice, report_change, say
from lmsctl.runtime import acting, runtime

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = group(
    "Scheduled exports: the gradebook, enrollments, users, courses or a report written to a "
    "folder on a cron schedule (UTC), keeping the newest N files; reports maybe mailed."
)

NameArg = Annotated[
    str, typer.Argument(help="The schedule's name (it names its files).", show_default=False)
]
LIST_COLUMNS = (
    "name",
    "cron",
    "export",
    "folder",
    "keep",
    "last_run_at",
    "last_file",
    "last_error",
)


@app.command("add")
def add(
    ctx: typer.Context,
    name: NameArg,
    cron: Annotated[
        str,
        typer.Option(
            "--cron",
            help='Five cron fields, UTC: minute hour day-of-month month day-of-week ("0 2 * * *").',
            show_default=False,
        ),
    ],
    to: Annotated[
        Path,
        typer.Option(
            "--to",
            help="The folder to write to (it must exist and be writable).",
            show_default=False,
        ),
    ],
    export: Annotated[
        str | None,
        typer.Option(
            "--export",
            help="gradebook, enrollments, users, courses, or report (with --report).",
            show_default=False,
        ),
    ] = None,
    course: Annotated[
        str | None,
        typer.Option(
            "--course",
            help="The course's slug (gradebook, course report: required; enrollments, "
            "courses: only this one).",
            show_default=False,
        ),
    ] = None,
    report: Annotated[
        str | None,
        typer.Option(
            "--report",
            help="Run this report (lmsctl reports): system, course (--course), instructor "
            "or student (--user).",
            show_default=False,
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            help="The instructor's or learner's e-mail (their report).",
            show_default=False,
        ),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            help="A report covers the N days before each slot [default: everything before it].",
            show_default=False,
        ),
    ] = None,
    mail: Annotated[
        bool,
        typer.Option("--mail", help="Also mail a report's file to every active administrator."),
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", help="csv or xlsx (json too for the gradebook, reports).")
    ] = "csv",
    keep: Annotated[
        int, typer.Option("--keep", help="How many of this schedule's files to keep.")
    ] = 7,
    json_out: JsonOpt = False,
) -> None:
    """Add an export schedule: files <name>-<UTC timestamp>.<ext> in the folder.

    A worker (lmsctl jobs worker) or cron's lmsctl jobs run-due writes each slot once; the
    oldest files of this schedule beyond --keep are deleted. A report (--report) is the one
    lmsctl reports writes, as at the slot; with --mail each active administrator gets it
    attached, once per slot. Administrators only.

    Example: lmsctl schedules add nightly-grades --cron "0 2 * * *" --export gradebook --course intro-python --format xlsx --to /srv/exports --keep 7

    Example: lmsctl schedules add weekly-site --cron "0 6 * * 1" --report system --days 7 --format xlsx --to /srv/reports --mail
    """
    from lms_core.errors import UsageError
    from lms_core.exports.schedules import ReportSpec, add_schedule, schedule_row

    with acting(ctx, as_json=json_out) as (session, actor):
        if export is None and report is None:
            raise UsageError("give --export KIND or --report NAME", field="export", value=None)
        spec = None
        if report is not None:
            spec = ReportSpec(report, days=days, mail=mail)
        elif days is not None or mail:
            flag = "--days" if days is not None else "--mail"
            raise UsageError(f"{flag} is for a report (--report)", field=flag[2:], value=None)
        schedule = add_schedule(
            session,
            actor=actor,
            name=name,
            cron=cron,
            export=export or "report",
            folder=to,
            keep=keep,
            fmt=fmt,
            course=course,
            report=spec,
            user=user,
        )
        row = schedule_row(schedule)
        nobody = bool(row["args"].get("mail")) and _no_admin_to_mail(session)
    mailed = ", mailed to the administrators," if row["args"].get("mail") else ""
    report_change(
        f"schedule {row['name']}: {_what(row)} to {row['folder']}{mailed} at {row['cron']!r} "
        f"(UTC), keeping {row['keep']}",
        row,
        as_json=json_out,
    )
    if nobody:
        notice(
            "warning: there is no active administrator to mail it to (yet): each slot mails "
            "the administrators active then, and writes the file either way"
        )


def _no_admin_to_mail(session: Session) -> bool:
    """--mail with nobody to mail yet: worth a warning, not a refusal (the administrators are
    whoever is active at each slot; a first one may be added later)."""
    from lms_core.exports.report_runs import active_admins

    return session.scalars(active_admins().limit(1)).first() is None


def _what(row: dict[str, Any]) -> str:
    """What a schedule writes, in words: ``gradebook``, ``report course intro-python (last 7
    days)``; a report's subject and window, which the export kind alone does not say."""
    if row["export"] != "report":
        return str(row["export"])
    from lms_core.exports.report_runs import subject_of

    days = row["args"].get("days")
    return f"report {subject_of(row['args'])}" + (f" (last {days} days)" if days else "")


@app.command("list")
def list_(
    ctx: typer.Context,
    page: PageOpt = None,
    per_page: PerPageOpt = None,
    jsonl_out: JsonlOpt = False,
    json_out: ListJsonOpt = False,
) -> None:
    """List export schedules by name, with what their last run did (a report's subject,
    --days window and --mail shown in the export column).

    Example: lmsctl schedules list --json
    """
    from lms_core.exports.schedules import schedule_row, schedules_query
    from lmsctl.output import listing_format

    def described(schedule: Any) -> dict[str, Any]:
        """For people, a report's subject, window and mail in the export column (scripts
        read ``args``: the JSON row stays the schedule's)."""
        row = schedule_row(schedule)
        mailed = ", mailed" if row["args"].get("mail") else ""
        return {**row, "export": _what(row) + mailed}

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        emit_query(
            session,
            schedules_query(session, actor=actor),
            schedule_row if for_scripts else described,
            LIST_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
            page=page,
            per_page=per_page,
            noun="schedule(s)",
        )


@app.command("remove")
def remove(ctx: typer.Context, name: NameArg, json_out: JsonOpt = False) -> None:
    """Remove an export schedule; the files it wrote stay.

    Example: lmsctl schedules remove nightly-grades
    """
    from lms_core.exports.schedules import remove_schedule

    with acting(ctx, as_json=json_out) as (session, actor):
        row = remove_schedule(session, actor=actor, name=name)
    report_change(f"schedule {name} removed (its files stay)", row, as_json=json_out)


@app.command("run")
def run(ctx: typer.Context, name: NameArg, json_out: JsonOpt = False) -> None:
    """Run a schedule's export now, here, as a job of the ledger (enabled or not).

    Exit 0 with the file written; 1 with the error (also recorded on the schedule).

    Example: lmsctl schedules run nightly-grades
    """
    from lms_core.exports.jobs import queue_run_now
    from lms_core.jobs import ledger
    from lmsctl.output import fail

    rt = runtime(ctx)
    with acting(ctx, as_json=json_out) as (session, actor):
        job_id = queue_run_now(session, actor=actor, name=name).id
    outcome = ledger.run_job(rt.get_session_factory(), rt.get_settings(), job_id)
    if outcome is None:  # a worker woken by the commit took it first
        say(f"job {job_id} queued; a worker is running it (lmsctl jobs show {job_id})")
        return
    if outcome.status != "succeeded":
        fail(
            [{"field": "schedule", "value": name, "message": f"job {job_id}: {outcome.error}"}],
            as_json=json_out,
        )
    with acting(ctx, as_json=json_out, write=False) as (session, _actor):
        from lms_core.models import Job

        result = dict(session.get_one(Job, job_id).result or {})
    result["job"] = job_id
    if json_out:
        emit_record(result, as_json=True)
    else:
        say(f"wrote {result.get('file')}: {result.get('rows')} row(s) (job {job_id})")
        for pruned in result.get("pruned") or []:
            say(f"deleted {pruned} (beyond --keep)")
