"""lmsctl init: create the database, migrate it, create the first admin."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsctl.options import JsonOpt, PasswordFileOpt, PasswordStdinOpt, read_password, single
from lmsctl.output import emit_record, reporting, say
from lmsctl.runtime import runtime

app = single("Create the database, migrate it, create the first admin.")


@app.command()
def init(
    ctx: typer.Context,
    admin_email: Annotated[
        str | None, typer.Option("--admin-email", help="Create this admin if none exists.")
    ] = None,
    admin_name: Annotated[
        str, typer.Option("--admin-name", help="The admin's full name.")
    ] = "Administrator",
    password_stdin: PasswordStdinOpt = False,
    password_file: PasswordFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create the database (SQLite file or PostgreSQL schema), migrate it to the newest revision,
    and create the first administrator. Safe to run again.

    Example: lmsctl init --admin-email admin@school.example --password-file /run/secrets/admin_pw
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.ops.health import safe_url
        from lms_core.ops.setup import AdminRequest, initialise

        settings = rt.get_settings()
        actor = rt.schema_actor()
        request = None
        if admin_email:
            request = AdminRequest(
                email=admin_email,
                full_name=admin_name,
                password=lambda: read_password(
                    stdin=password_stdin, file=password_file, prompt=True
                ),
            )
        # The SQLite file is created by initialise, once every input has passed its checks.
        report = initialise(
            rt.get_engine(missing_ok=True),
            settings,
            actor=actor,
            hasher=rt.hasher(),
            admin=request,
        )
        renamed = 0
        if report.before is not None and report.before != report.current:
            # An older database brought up to date: as `db upgrade` does, name certificate
            # PDFs after their renumbered certificates (the migration cannot reach files).
            from lms_core.certificates.renumber import rename_legacy_pdfs

            renamed = rename_legacy_pdfs(rt.get_session_factory(), settings).renamed
    before, after, admin = report.before, report.current, report.admin
    if renamed:
        say(f"renamed {renamed} certificate PDF(s) after their new numbers", as_json=json_out)
    say(
        f"database {safe_url(settings.database_url)} at {after} (was {before or 'empty'})",
        as_json=json_out,
    )
    say(f"files directory {settings.files_dir}", as_json=json_out)
    if admin:
        say(
            f"admin {admin['email']} {'created' if admin['created'] else 'already exists'}",
            as_json=json_out,
        )
    if json_out:
        emit_record(
            {
                "database_url": safe_url(settings.database_url),
                "before": before,
                "current": after,
                "files_dir": str(settings.files_dir),
                "admin": admin,
            },
            as_json=True,
        )
