"""lmsctl users mfa: enable, confirm, disable, status (TOTP for staff).

Enrollment is two steps, as GitHub's and GitLab's: ``enable`` prints the seed (otpauth://
URI, and a QR code on a terminal) and the recovery codes once; ``confirm`` with a first code
from the app turns MFA on. Until then the login asks for no code, so a mistyped or unscanned
seed never locks anyone out.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lmsctl.options import JsonOpt, group
from lmsctl.output import emit_record, is_terminal, print_json, report_change, say
from lmsctl.runtime import acting, runtime

app = group(
    "Multi-factor login (TOTP): enable, confirm, disable, status.\n\n"
    "Example: lmsctl users mfa enable ada@example.org"
)

EmailArg = Annotated[str, typer.Argument(help="The user's e-mail.", show_default=False)]


def _qr(uri: str) -> None:
    """The URI as a QR code drawn with block characters (segno, already a dependency)."""
    import io

    import segno

    out = io.StringIO()
    segno.make(uri, error="m").terminal(out=out, compact=True)
    typer.echo(out.getvalue())


@app.command("enable")
def enable(ctx: typer.Context, email: EmailArg, json_out: JsonOpt = False) -> None:
    """Start MFA enrollment: print the seed (otpauth:// URI, QR) and 10 recovery codes, once.

    Scan the QR (or type the secret) into an authenticator app, then turn MFA on with a
    first code: `lmsctl users mfa confirm EMAIL CODE`. The recovery codes each log in once
    when the phone is lost; keep them offline. Running it again before the confirmation
    replaces the seed and the codes.

    Example: lmsctl users mfa enable ada@example.org
    """
    rt = runtime(ctx)
    with acting(ctx, as_json=json_out) as (session, actor):
        from lms_core.accounts.mfa import enable as start

        found = start(session, actor=actor, email=email, settings=rt.get_settings())
    if json_out:
        print_json(
            {
                "email": found.email,
                "secret": found.secret,
                "otpauth_uri": found.uri,
                "recovery_codes": found.recovery_codes,
                "mfa": "pending",
            }
        )
        return
    if is_terminal():
        _qr(found.uri)
    say(f"otpauth URI: {found.uri}")
    say(f"secret (to type in instead of scanning): {found.secret}")
    say("recovery codes (each works once; shown only now):")
    for code in found.recovery_codes:
        say(f"  {code}")
    say(f"MFA is not on yet: lmsctl users mfa confirm {found.email} CODE")


@app.command("confirm")
def confirm(
    ctx: typer.Context,
    email: EmailArg,
    code: Annotated[
        str | None,
        typer.Argument(
            help="The 6 digits the authenticator app shows; asked for (not echoed) when left "
            "out. Given here it stays in the shell's history (a used code is never accepted "
            "again, but by hand prefer the prompt); for scripts.",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Turn MFA on with a first code from the app (after `mfa enable`).

    Without CODE it is asked for on the terminal, not echoed (nor kept in the shell's
    history); scripts pass it as the second argument.

    Example: lmsctl users mfa confirm ada@example.org
    """
    if code is None:
        # On stderr, like every message for people: stdout may carry --json.
        code = str(typer.prompt("Code from the authenticator app", hide_input=True, err=True))
    rt = runtime(ctx)
    with acting(ctx, as_json=json_out) as (session, actor):
        from lms_core.accounts.mfa import confirm as finish
        from lms_core.accounts.mfa import status

        settings = rt.get_settings()
        user = finish(session, actor=actor, email=email, code=code, settings=settings)
        row = status(session, actor=actor, email=user.email, settings=settings)
    report_change(f"MFA is on for {row['email']}", row, as_json=json_out)


@app.command("disable")
def disable(ctx: typer.Context, email: EmailArg, json_out: JsonOpt = False) -> None:
    """Turn MFA off and forget the seed and recovery codes (a lost phone; then enroll again).

    Example: lmsctl users mfa disable ada@example.org
    """
    rt = runtime(ctx)
    with acting(ctx, as_json=json_out) as (session, actor):
        from lms_core.accounts.mfa import disable as turn_off
        from lms_core.accounts.mfa import status

        user = turn_off(session, actor=actor, email=email)
        row = status(session, actor=actor, email=user.email, settings=rt.get_settings())
    note = " (its role requires MFA: it cannot log in until enrolled)" if row["required"] else ""
    report_change(f"MFA is off for {row['email']}{note}", row, as_json=json_out)


@app.command("status")
def show_status(ctx: typer.Context, email: EmailArg, json_out: JsonOpt = False) -> None:
    """Show whether MFA is on, pending or off, the recovery codes left, and if it is required.

    Example: lmsctl users mfa status ada@example.org --json
    """
    rt = runtime(ctx)
    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        from lms_core.accounts.mfa import status

        row = status(session, actor=actor, email=email, settings=rt.get_settings())
    emit_record(row, as_json=json_out, title=f"MFA of {row['email']}")
