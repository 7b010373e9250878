"""lmsctl doctor: is everything in place to run?"""

from __future__ import annotations

from typing import Annotated

import typer

from lmsctl.options import JsonOpt, single
from lmsctl.output import emit_rows, print_json, reporting, with_hint
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
    rows = [
        {"check": c.name, "ok": c.ok, "detail": c.detail}
        | ({"hint": c.hint.as_dict()} if c.hint is not None else {})
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
            if not check.ok:
                typer.echo(f"error: {check.name}: {with_hint(check.detail, check.hint)}", err=True)
    if not ok:
        raise typer.Exit(1)
