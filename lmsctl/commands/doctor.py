"""lmsctl doctor: is everything in place to run?"""

from __future__ import annotations

from typing import Annotated

import typer

from lmsctl.options import JsonOpt, single
from lmsctl.output import emit_rows, print_json, reporting, with_hint
from lmsctl.runtime import runtime

app = single("Check settings, database, migrations and files dir.")

#: ``lmsctl doctor``'s exit code when everything is in place but the database is empty:
#: a container entry point runs ``lmsctl init`` on it (README, "Exit codes" and "PostgreSQL").
EXIT_EMPTY = 3


@app.command()
def doctor(
    ctx: typer.Context,
    wait: Annotated[
        float,
        typer.Option("--wait", help="Retry the database for up to N seconds (containers).", min=0),
    ] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Check settings, database reachable, migrations current, files dir writable.

    Exit 0 when all pass, 3 when the only problem is an empty database (run lmsctl init
    next), 1 on any other failure. A SQLite file that does not exist is reported, not created.

    Example: lmsctl doctor --wait 30 || [ $? -eq 3 ] && lmsctl init
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.db import database_missing
        from lms_core.ops import health

        engine = rt.get_engine(missing_ok=True)
        if rt.actor_email and wait and not database_missing(engine.url):
            health.wait_for_database(engine, wait)  # --as is looked up there: wait for it first
        checks = health.diagnose(
            rt.get_settings(), engine, actor=rt.schema_actor(), wait_seconds=wait
        )
        empty = health.is_empty_only(checks)
    ok = all(c.ok for c in checks)
    rows = [
        {"check": c.name, "ok": c.ok, "detail": c.detail}
        | ({"hint": c.hint.as_dict()} if c.hint is not None else {})
        | ({"warning": True} if c.warning else {})
        for c in checks
    ]
    if json_out:
        print_json({"ok": ok, "checks": rows})
    else:
        worded = [
            {**row, "detail": with_hint(c.detail, c.hint)}
            for row, c in zip(rows, checks, strict=True)
        ]
        emit_rows(worded, ("check", "ok", "detail"), as_json=False)
        for check in checks:
            if check.warning:
                typer.echo(f"warning: {check.name}: {check.detail}", err=True)
            if not check.ok:
                typer.echo(f"error: {check.name}: {with_hint(check.detail, check.hint)}", err=True)
    if not ok:
        raise typer.Exit(EXIT_EMPTY if empty else 1)
