"""lmsctl email: test the SMTP settings, read the mail outbox."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsctl.options import JsonlOpt, JsonOpt, ListJsonOpt, PageOpt, PerPageOpt, group
from lmsctl.output import emit_query, emit_record, listing_format, say
from lmsctl.runtime import acting, runtime

app = group("Send a test e-mail, list the mail outbox.")

OUTBOX_COLUMNS = ("id", "status", "template", "to", "subject", "attempts", "last_error", "sent_at")


@app.command("test")
def test(
    ctx: typer.Context,
    to: Annotated[str, typer.Argument(help="The address to send it to.", show_default=False)],
    json_out: JsonOpt = False,
) -> None:
    """Send one test e-mail now, through the SMTP server the settings name (not queued).

    Exit 0 when the server accepted it; 1 with the server's answer when mail is not
    configured, the server cannot be reached or it refuses the mail.

    Example: lmsctl email test me@example.org

    (A local debugging server: LMS_SMTP_HOST=localhost LMS_SMTP_PORT=1025
    LMS_SMTP_SECURITY=none.)
    """
    rt = runtime(ctx)
    with acting(ctx, as_json=json_out, write=False) as (_session, actor):
        from lms_core.mail.delivery import send_test

        sent = send_test(rt.get_settings(), actor=actor, to=to)
    if json_out:
        emit_record(sent.as_dict(), as_json=True)
    else:
        say(f"sent a test e-mail to {sent.to} through {sent.server} ({sent.message_id})")


@app.command("outbox")
def outbox(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only mails in this status: queued, sending, sent, failed, cancelled."
        ),
    ] = None,
    page: PageOpt = None,
    per_page: PerPageOpt = None,
    json_out: ListJsonOpt = False,
    jsonl: JsonlOpt = False,
) -> None:
    """The mails queued and sent, newest first (never their bodies: they hold links).

    Queued mails wait for the job worker (lmsctl jobs worker, or lmsctl jobs run-due); when
    mail is not configured (no LMS_SMTP_HOST) they stay queued, and this says so.

    Example: lmsctl email outbox --status failed
    """
    for_scripts = listing_format(json_out, jsonl)
    rt = runtime(ctx)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        from lms_core.mail.outbox import outbox_query, outbox_row, outbox_summary
        from lms_core.mail.smtp import NOT_CONFIGURED, smtp_config

        stmt = outbox_query(session, actor=actor, status=status)
        counts = outbox_summary(session).counts
        emit_query(
            session,
            stmt,
            outbox_row,
            OUTBOX_COLUMNS,
            as_json=json_out,
            jsonl=jsonl,
            page=page,
            per_page=per_page,
            noun="mail(s)",
        )
    typer.echo(", ".join(f"{n} {s}" for s, n in counts.items()), err=True)
    if smtp_config(rt.get_settings()) is None:
        typer.echo(f"warning: {NOT_CONFIGURED}", err=True)
