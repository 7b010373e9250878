"""lmsctl certificates: eligible, issue, verify, revoke, reinstate, reissue, list, export, preview."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lmsctl.options import DryRunOpt, JsonlOpt, JsonOpt, group
from lmsctl.output import (
    emit_rows,
    is_terminal,
    listing_format,
    print_json,
    report_change,
    reporting,
    say,
)
from lmsctl.runtime import acting, runtime

app = group(
    "Certificates: eligibility, issue runs, verification, revocation and reinstatement, "
    "reissue, export."
)

CourseArg = Annotated[str, typer.Argument(help="The course's slug.", show_default=False)]
NumberArg = Annotated[
    str, typer.Argument(help="Certificate number, e.g. LMS-7K4F-9QX2-H.", show_default=False)
]
TemplateOpt = Annotated[
    Path | None,
    typer.Option(
        "--template",
        help="A template JSON file (default: the bundled one).",
        exists=True,
        dir_okay=False,
    ),
]
LIST_COLUMNS = ("number", "learner", "email", "course", "status", "issued_at", "version")


@app.command("eligible")
def eligible(ctx: typer.Context, course: CourseArg, json_out: JsonOpt = False) -> None:
    """List who is eligible for a certificate and who is not, with the reason.

    Status: issued (holds a valid certificate), revoked (their certificate was revoked: issue
    runs skip them until an administrator reinstates it), eligible, or not eligible.

    Example: lmsctl certificates eligible demo-sql-essentials
    """
    from lms_core.certificates.registry import eligibility

    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        rows = [r.as_row() for r in eligibility(session, actor=actor, course_slug=course)]
    revoked = sum(r["status"] == "revoked" for r in rows)
    emit_rows(
        rows,
        ("learner", "email", "eligible", "status", "reason", "certificate"),
        as_json=json_out,
        footer=f"{sum(1 for r in rows if r['eligible'])} of {len(rows)} eligible"
        + (f", {revoked} revoked" if revoked else ""),
    )


@app.command("issue")
def issue(
    ctx: typer.Context,
    course: CourseArg,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Render processes.")] = 1,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Certificates per commit.")
    ] = 50,
    template: TemplateOpt = None,
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="Wait up to N s for a run in progress.")
    ] = 0,
    include_revoked: Annotated[
        bool,
        typer.Option(
            "--include-revoked",
            help="Also issue a new certificate to eligible learners whose certificate was "
            "revoked (administrators only).",
        ),
    ] = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Issue certificates to every eligible learner who has none; a rerun issues 0.

    Commits in batches: an interrupted run keeps what it completed and a rerun finishes.
    Learners whose names the fonts cannot draw are listed and make the exit code 1.
    Learners whose certificate was revoked are skipped and counted ("skipped: revoked N")
    until an administrator reinstates it (certificates reinstate NUMBER) or runs issue with
    --include-revoked, which gives them a new number and PDF (the revoked one stays revoked).

    Example: lmsctl certificates issue demo-sql-essentials --workers 2
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from rich.console import Console
        from rich.progress import Progress

        from lms_core.certificates.issue import issue_certificates

        actor = rt.actor()
        show = sys.stderr.isatty() and not json_out
        with Progress(console=Console(stderr=True), disable=not show, transient=True) as bar:
            task = bar.add_task("issuing certificates", total=None)
            report = issue_certificates(
                rt.get_session_factory(),
                actor=actor,
                course_slug=course,
                settings=rt.get_settings(),
                template=template,
                workers=workers,
                batch_size=batch_size,
                dry_run=dry_run,
                wait=wait,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                include_revoked=include_revoked,
            )
    if json_out:
        print_json(report.as_dict())
    else:
        verb = "would issue" if dry_run else "issued"
        say(
            f"{course}: {verb} {len(report.issued)}, already had one {report.already}, "
            f"not eligible {report.not_eligible}"
            + (f", skipped: revoked {report.revoked}" if report.revoked else "")
            + (
                f", removed {report.orphans_removed} unfinished PDF(s)"
                if report.orphans_removed
                else ""
            )
        )
        if report.revoked:
            say(
                "revoked certificates stand: an administrator may run certificates reinstate "
                "NUMBER, or issue --include-revoked"
            )
        for row in report.uncovered:
            typer.echo(
                f"error: learner: {row['learner']} <{row['email']}>: the fonts cannot draw "
                f"{row['missing']} character(s) ({row['characters']}); not issued",
                err=True,
            )
    if report.uncovered:
        raise typer.Exit(1)


@app.command("verify")
def verify(
    ctx: typer.Context,
    number: NumberArg,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="Check that this PDF is the one issued.", exists=True, dir_okay=False
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Say whether a certificate is valid, revoked (when, why), superseded or unknown.

    Exit 0 only when it is valid (and, with --file, the PDF is the one issued); with --json,
    "verified" gives that same answer. Numbers printed before the check symbols changed
    (ending in * ~ $ = or U, e.g. LMS-P758-DXF0-*: quote them in the shell) still verify.

    Example: lmsctl certificates verify lms-7k4f-9qx2-h --file cert.pdf
    """
    with reporting(as_json=json_out):
        from lms_core.certificates.verify import verify as verify_service

        pdf = file.read_bytes() if file is not None else None
    with acting(ctx, as_json=json_out, write=False) as (session, _):
        result = verify_service(session, number, pdf=pdf)
    data = result.as_dict()
    if json_out:
        print_json(data)
    else:
        line = f"{result.number}: {result.status}"
        if result.current_number and result.current_number != result.number:
            line = f"{result.number} (now {result.current_number}): {result.status}"
        if result.learner:
            line += f" - {result.learner}, {result.course}, issued {result.issued_at:%Y-%m-%d}"
        if result.status == "revoked":
            line += f"; revoked {result.revoked_at:%Y-%m-%d}: {result.reason}"
        if result.superseded_by:
            line += f"; superseded by {result.superseded_by}"
        say(line)
        if result.file_matches is not None:
            say(
                "the file IS the PDF issued"
                if result.file_matches
                else "the file is NOT the PDF issued (SHA-256 differs)"
            )
    if not result.verified:
        raise typer.Exit(1)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    number: NumberArg,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (shown when it is verified).", show_default=False)
    ],
    json_out: JsonOpt = False,
) -> None:
    """Revoke a certificate; verification then says revoked, when and why.

    The revocation stands (issue runs skip the learner) until an administrator reinstates it.

    Example: lmsctl certificates revoke LMS-7K4F-9QX2-H --reason "issued in error"
    """
    from lms_core.certificates.registry import certificate_row
    from lms_core.certificates.registry import revoke as revoke_service

    with acting(ctx, as_json=json_out) as (session, actor):
        row = certificate_row(revoke_service(session, actor=actor, number=number, reason=reason))
    report_change(f"revoked {row['number']}", row, as_json=json_out)


@app.command("reinstate")
def reinstate(
    ctx: typer.Context,
    number: NumberArg,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the audit log).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Undo a revocation (administrators only): the same number and PDF are valid again.

    Refused when the learner has since been issued another valid certificate. The
    revocation stays in the audit log.

    Example: lmsctl certificates reinstate LMS-7K4F-9QX2-H --reason "revoked by mistake"
    """
    from lms_core.certificates.registry import certificate_row
    from lms_core.certificates.registry import reinstate as reinstate_service

    with acting(ctx, as_json=json_out) as (session, actor):
        row = certificate_row(reinstate_service(session, actor=actor, number=number, reason=reason))
    report_change(f"reinstated {row['number']}", row, as_json=json_out)


@app.command("reissue")
def reissue(
    ctx: typer.Context,
    number: NumberArg,
    template: TemplateOpt = None,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Wait up to N s for an issue run on the course."),
    ] = 30,
    json_out: JsonOpt = False,
) -> None:
    """Issue a new PDF and number (e.g. after a name change); the old one becomes superseded.

    Holds the course's certificates lock while it writes the PDF, so it waits for an issue
    run on the course (up to --wait seconds, then refuses and changes nothing).

    Example: lmsctl certificates reissue LMS-7K4F-9QX2-H
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.certificates.reissue import reissue_certificate

        new, superseded = reissue_certificate(
            rt.get_session_factory(),
            actor=rt.actor(),
            number=number,
            settings=rt.get_settings(),
            template=template,
            wait=wait,
        )
    row = {**new, "supersedes": superseded}
    report_change(
        f"reissued {row['supersedes']} as {row['number']} (version {row['version']})",
        row,
        as_json=json_out,
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    course: Annotated[str | None, typer.Argument(help="Only this course (slug).")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="valid, revoked or superseded.")
    ] = None,
    jsonl_out: JsonlOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """List certificates you may see.

    Example: lmsctl certificates list demo-sql-essentials --status valid --json
    """
    from lms_core.certificates.registry import certificate_row, certificates_query
    from lms_core.pagination import iter_rows

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        stmt = certificates_query(session, actor=actor, course_slug=course, status=status)
        count = emit_rows(
            (certificate_row(c) for c in iter_rows(session, stmt)),
            LIST_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
        )
    if not for_scripts:
        say(f"{count} certificate(s)", as_json=not is_terminal())


@app.command("export")
def export(
    ctx: typer.Context,
    course: CourseArg,
    out: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="The zip file to write.", dir_okay=False, show_default=False
        ),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Write a zip of a course's valid certificates and a manifest CSV (learner, number, SHA-256).

    Example: lmsctl certificates export demo-sql-essentials -o certs.zip
    """
    rt = runtime(ctx)
    from lms_core.certificates.export import export_zip

    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        count = export_zip(
            session, actor=actor, course_slug=course, settings=rt.get_settings(), out=out
        )
    report_change(
        f"wrote {count} certificate(s) to {out}",
        {"course": course, "certificates": count, "output": str(out)},
        as_json=json_out,
    )


@app.command("preview")
def preview(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Option("--name", help="The learner name to print.", show_default=False)
    ],
    out: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="The PDF to write.", dir_okay=False, show_default=False
        ),
    ],
    course: Annotated[
        str, typer.Option("--course-title", help="Course title to print.")
    ] = "Sample Course",
    template: TemplateOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Render a sample certificate (no database needed) to check a template or a name's script.

    Example: lmsctl certificates preview --name "Nguyễn Thị Minh Khai" -o sample.pdf
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.certificates.issue import render_preview
        from lms_core.formats.atomic import write_bytes

        pdf = render_preview(rt.get_settings(), name=name, course_title=course, template=template)
        write_bytes(out, pdf)
    report_change(f"wrote {out}", {"output": str(out), "name": name}, as_json=json_out)
