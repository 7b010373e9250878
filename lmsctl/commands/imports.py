"""lmsctl import: users, courses, enrollments, oneroster, apply, history, undo, template."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from lmsctl.commands.import_output import progress_display, render
from lmsctl.options import DryRunOpt, F, JsonOpt, file_out, group, with_options
from lmsctl.output import emit_rows, print_json, reporting, say
from lmsctl.runtime import Runtime, acting, runtime

app = group(
    "Bulk import from CSV, XLSX and OneRoster: plan, apply in one transaction, history, undo.\n\n"
    "Exit codes: 0 done (or a clean dry run), 1 refused (problems in the file, lock held, "
    "sync threshold, stale plan), 2 usage."
)

PathArg = Annotated[
    Path,
    typer.Argument(
        help="The file to import (CSV or XLSX).", exists=True, dir_okay=False, show_default=False
    ),
]


class Mode(StrEnum):
    add = "add"
    update = "update"
    upsert = "upsert"
    sync = "sync"


ModeOpt = Annotated[
    Mode,
    typer.Option(
        "--mode",
        help="add (create only), update (update only), upsert, or sync (also deactivates "
        "users / drops enrollments in scope that the file leaves out).",
    ),
]
MaxRemovalsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-removals",
        min=0,
        help="Sync: refuse above N removals (default 10% of those in scope).",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Sync: remove above --max-removals (look at --dry-run first).",
    ),
]
RecheckOpt = Annotated[
    bool,
    typer.Option(
        "--recheck",
        help="Read the file even when it is the one the last run applied, unchanged "
        "(e.g. after records were edited by hand since).",
    ),
]
PlanOutOpt = file_out("--plan-out", "Write the plan (JSON) for 'lmsctl import apply'.")
ErrorsOutOpt = file_out("--errors-out", "On problems, write the rows with an 'error' column (CSV).")
InvitesOutOpt = file_out("--invites-out", "Write new users' set-password links (CSV).")
EncodingOpt = Annotated[
    str | None,
    typer.Option("--encoding", help="CSV encoding when it is not UTF-8/UTF-16 (e.g. cp1252)."),
]
SheetOpt = Annotated[
    str | None, typer.Option("--sheet", help="XLSX: the sheet to read (default: the first).")
]
WaitOpt = Annotated[
    float, typer.Option("--wait", min=0, help="Wait up to N seconds for another import to finish.")
]


#: The options the import commands share, each declared once; a command names the ones it takes.
_OPTIONS: dict[str, tuple[Any, Any]] = {
    "mode": (ModeOpt, Mode.upsert),
    "max_removals": (MaxRemovalsOpt, None),
    "force": (ForceOpt, False),
    "recheck": (RecheckOpt, False),
    "dry_run": (DryRunOpt, False),
    "plan_out": (PlanOutOpt, None),
    "errors_out": (ErrorsOutOpt, None),
    "invites_out": (InvitesOutOpt, None),
    "encoding": (EncodingOpt, None),
    "sheet": (SheetOpt, None),
    "wait": (WaitOpt, 0),
}


def import_options(*names: str) -> Callable[[F], F]:
    """The shared options ``names``, in the order given, added to an import command."""
    return with_options(*((name, *_OPTIONS[name]) for name in names))


#: What every file import takes; OneRoster bundles have no encoding or sheet to choose.
_SYNC = ("mode", "max_removals", "force", "recheck", "dry_run", "plan_out", "errors_out")
_READ = ("encoding", "sheet", "wait")


def _run(ctx: typer.Context, as_json: bool, run: Callable[..., Any], **arguments: Any) -> None:
    """Call an import run (a ``lms_core.imports.runs`` function) as the actor, with a progress
    bar, and render its report."""
    rt: Runtime = runtime(ctx)
    with reporting(as_json=as_json):
        _check_outputs(arguments)
        actor = rt.actor()
        with progress_display(as_json) as tick:
            report = run(
                rt.get_session_factory(),
                actor=actor,
                settings=rt.get_settings(),
                progress=tick,
                **arguments,
            )
    render(report, as_json)


#: The files an import writes, each in one format (lms_core.formats.output).
_OUTPUTS = {"errors_out": "csv", "invites_out": "csv", "plan_out": "json"}


def _check_outputs(arguments: dict[str, Any]) -> None:
    """Refuse an output file named for a format it is not written in (``--errors-out x.xlsx``),
    before any work: exit 2, as for every usage error."""
    from lms_core.formats.output import output_format

    options = arguments.get("options")
    for name, fmt in _OUTPUTS.items():
        path = getattr(options, name, None) or arguments.get(name)
        if path is not None:
            output_format(path, (fmt,), field=name)


def _import(
    ctx: typer.Context,
    entity: str,
    path: Path,
    *,
    as_json: bool,
    **options: Any,
) -> None:
    from lms_core.imports.options import ImportOptions
    from lms_core.imports.runs import import_file

    options["mode"] = options["mode"].value
    _run(ctx, as_json, import_file, entity=entity, path=path, options=ImportOptions(**options))


@app.command("users")
@import_options(*_SYNC, "invites_out", *_READ)
def users(ctx: typer.Context, path: PathArg, json_out: JsonOpt = False, **options: Any) -> None:
    """Import users: external_id, email, full_name, role (optional: password, is_active).

    Key: external_id, else e-mail. New users without a password get an invitation link.

    Example: lmsctl import users staff.xlsx --dry-run --plan-out plan.json
    """
    _import(ctx, "users", path, as_json=json_out, **options)


@app.command("courses")
@import_options("mode", "recheck", "dry_run", "plan_out", "errors_out", *_READ)
def courses(
    ctx: typer.Context,
    path: PathArg,
    lessons: Annotated[
        Path | None,
        typer.Option(
            "--lessons",
            exists=True,
            dir_okay=False,
            help="The lessons file (default: an XLSX 'lessons' sheet).",
        ),
    ] = None,
    json_out: JsonOpt = False,
    **options: Any,
) -> None:
    """Import courses (key: external_id, else slug) and their lessons (course_slug + slug).

    Example: lmsctl import courses courses.csv --lessons lessons.csv
    """
    _import(ctx, "courses", path, as_json=json_out, lessons=lessons, **options)


@app.command("enrollments")
@import_options(*_SYNC, *_READ)
def enrollments(
    ctx: typer.Context, path: PathArg, json_out: JsonOpt = False, **options: Any
) -> None:
    """Import enrollments (user_email or user_external_id, course_slug or course_external_id, status).

    With --mode sync, active enrollments of the file's courses that it leaves out are dropped.

    Example: lmsctl import enrollments term.csv --mode sync --dry-run
    """
    _import(ctx, "enrollments", path, as_json=json_out, **options)


@app.command("oneroster")
@import_options(*_SYNC, "invites_out", "wait")
def oneroster(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="A OneRoster 1.1 CSV bundle: a zip or a folder.", exists=True, show_default=False
        ),
    ],
    json_out: JsonOpt = False,
    **options: Any,
) -> None:
    """Import a OneRoster 1.1 bundle: users, classes as courses, enrollments, in one run.

    Example: lmsctl import oneroster sis-export.zip --dry-run
    """
    _import(ctx, "oneroster", path, as_json=json_out, **options)


@app.command("apply")
@import_options("invites_out", "wait")
def apply(
    ctx: typer.Context,
    plan: Annotated[
        Path,
        typer.Argument(
            help="A plan written by --plan-out.", exists=True, dir_okay=False, show_default=False
        ),
    ],
    json_out: JsonOpt = False,
    **options: Any,
) -> None:
    """Apply exactly a saved plan; refused if a record it names changed since.

    Example: lmsctl import apply plan.json
    """
    from lms_core.imports.runs import apply_plan_file

    _run(ctx, json_out, apply_plan_file, path=plan, **options)


HISTORY_COLUMNS = (
    "id",
    "started_at",
    "actor",
    "entity",
    "file",
    "sha256",
    "mode",
    "counts",
    "duration_ms",
    "status",
)


def _counts_text(counts: dict[str, Any]) -> str:
    top = {k: v for k, v in counts.items() if not isinstance(v, dict) and v}
    return ", ".join(f"{k} {v}" for k, v in top.items()) or "no changes"


@app.command("history")
def history(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10000, help="Most recent N runs.")
    ] = 20,
    json_out: JsonOpt = False,
) -> None:
    """List import runs, newest first: who, when, file, mode, counts, duration, outcome.

    Example: lmsctl import history --limit 5
    """
    from lms_core.imports.runs import import_history

    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        rows = import_history(session, actor=actor, limit=limit)
    if json_out:
        print_json(rows)
        return
    emit_rows(
        [{**r, "counts": _counts_text(r["counts"])} for r in rows], HISTORY_COLUMNS, as_json=False
    )


@app.command("undo")
def undo(
    ctx: typer.Context,
    run: Annotated[
        int, typer.Argument(help="The import run's id (see 'import history').", show_default=False)
    ],
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Restore every record of an import run as it was before; all or nothing.

    Refused, with the list, where a later change touched the same records.

    Example: lmsctl import undo 12 --dry-run
    """
    from lms_core.imports.runs import undo_import

    with acting(ctx, as_json=json_out, write=not dry_run) as (session, actor):
        report = undo_import(session, actor=actor, run_id=run, dry_run=dry_run)
        data = report.as_dict()
    if json_out:
        print_json(data)
        return
    verb = "would restore" if dry_run else "restored"
    parts = [f"{n} {t}(s)" for t, n in data["restored"].items() if n]
    removed = [f"{n} {t}(s)" for t, n in data["deleted"].items() if n]
    say(
        f"import run {run}: {verb} {', '.join(parts) or 'nothing'}; "
        f"{'would delete' if dry_run else 'deleted'} the created {', '.join(removed) or 'none'}"
    )


@app.command("template")
def template(
    entity: Annotated[
        str, typer.Argument(help="users, courses, lessons or enrollments.", show_default=False)
    ],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="csv or xlsx [default: from the -o suffix, else csv].",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            dir_okay=False,
            help="File to write, .csv or .xlsx (CSV: standard output if omitted).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write an empty import template: the header row and one example row.

    Example: lmsctl import template users --format xlsx -o users.xlsx
    """
    with reporting(as_json=json_out):
        from lms_core.errors import UsageError
        from lms_core.exports.templates import write_template
        from lms_core.formats.output import output_format

        fmt = output_format(out, ("csv", "xlsx"), fmt, default="csv")
        if out is None:
            if fmt != "csv" or json_out:
                raise UsageError("needs -o FILE (XLSX, or with --json)", field="output")
            write_template(entity, fmt, sys.stdout.buffer)
            sys.stdout.flush()
            return
        write_template(entity, fmt, out)
    if json_out:
        print_json({"entity": entity, "format": fmt, "file": str(out)})
    else:
        say(f"wrote {out}")
