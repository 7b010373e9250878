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
        from lms_core.accounts.users import ensure_admin
        from lms_core.ops import schema
        from lms_core.ops.health import safe_url

        settings = rt.get_settings()
        try:
            settings.files_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from lms_core.errors import ValidationError

            raise ValidationError(
                f"cannot create {settings.files_dir}: {exc.strerror or exc}",
                field="files_dir",
                value=str(settings.files_dir),
            ) from exc
        engine = rt.get_engine()
        before = schema.current_revision(engine)
        schema.upgrade(engine)
        after = schema.current_revision(engine)
        admin = None
        if admin_email:
            with rt.unit_of_work() as (session, actor):
                user, created = ensure_admin(
                    session,
                    actor=actor,
                    email=admin_email,
                    full_name=admin_name,
                    password=lambda: read_password(
                        stdin=password_stdin, file=password_file, prompt=True
                    ),
                    hasher=rt.hasher(),
                )
                admin = {"email": user.email, "created": created}
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
