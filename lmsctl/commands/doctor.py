"""lmsctl doctor: is everything in place to run?"""

from __future__ import annotations

from typing import Annotated

import typer

from lmsctl.options import JsonOpt, single
from lmsctl.output import emit_rows, print_json, reporting
from lmsctl.runtime import runtime

app = single("Check settings, database, migrations and files dir.")


@app.command()
def doctor(
    ctx: typer.Context,
    wait: Annotated[
        float,
        typer.Option("--wait", help="Retry the database for up to N seconds (containers).", min=0),
    ] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Check settings, database reachable, migrations current, files dir writable; exit 1 on any failure.

    Example: lmsctl doctor --wait 30 && lmsctl db upgrade
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.ops.health import run_checks

        checks = run_checks(rt.get_settings(), rt.get_engine(), wait_seconds=wait)
    ok = all(c.ok for c in checks)
    rows = [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in checks]
    if json_out:
        print_json({"ok": ok, "checks": rows})
    else:
        emit_rows(rows, ("check", "ok", "detail"), as_json=False)
        for check in checks:
            if not check.ok:
                typer.echo(f"error: {check.name}: {check.detail}", err=True)
    if not ok:
        raise typer.Exit(1)
