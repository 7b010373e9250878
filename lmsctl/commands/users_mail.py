"""What ``lmsctl users invite`` and ``users reset-password --token`` print: the links made,
the users skipped and the mails queued (kept apart from the commands so users.py stays small).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lmsctl.output import emit_record, emit_rows, print_json, say

if TYPE_CHECKING:
    from lms_core.imports.invites import InviteReport

#: Who sends what a command queued: the job worker, or a cron job running the due jobs.
SENT_BY = "sent by the job worker: lmsctl jobs worker, or lmsctl jobs run-due"
NoEmailOpt = Annotated[
    bool,
    typer.Option("--no-email", help="Queue no e-mail: hand the links out yourself."),
]


def report_reset_token(email: str, raw: str, *, mailed: bool, json_out: bool) -> None:
    """The reset token (stdout), and the mail queued for it (stderr)."""
    if json_out:
        emit_record({"email": email, "token": raw, "mailed": mailed}, as_json=True)
    else:
        say(f"reset token for {email} (valid 2 hours, works once): {raw}")
    if mailed:
        say(f"queued 1 password reset e-mail ({SENT_BY})", as_json=True)


def report_invites(
    report: InviteReport, *, output: Path | None, dry_run: bool, json_out: bool
) -> None:
    """The users skipped and the mails queued (stderr); the links, or where they went."""
    for skipped in report.skipped:
        reset = f" (lmsctl users reset-password {skipped.email} --token)"
        say(
            f"skipped {skipped.email}: {skipped.message}"
            + (reset if skipped.reason == "password" else ""),
            as_json=True,
        )
    verb = "would invite" if dry_run else "invited"
    if report.mailed:
        say(f"queued {report.mailed} invitation e-mail(s) ({SENT_BY})", as_json=True)
    if json_out:
        data = report.as_dict()
        if output is not None:
            data["output"] = str(output)
            data["invited"] = [{**i, "link": None} for i in data["invited"]]
        print_json(data)
    elif output is not None or dry_run or not report.invited:
        where = f": links in {output}" if output is not None and not dry_run else ""
        say(f"{verb} {len(report.invited)} user(s){where}")
    else:
        emit_rows(
            ({"email": i.email, "full_name": i.full_name, "link": i.link} for i in report.invited),
            ("email", "full_name", "link"),
            as_json=False,
            footer=f"{verb} {len(report.invited)} user(s); the links work once, for 14 days",
        )
