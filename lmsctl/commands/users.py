"""lmsctl users: create, list, show, update, set-role, deactivate, reactivate, reset-password,
unlock, delete, invite; and ``users mfa ...`` (lmsctl/commands/users_mfa.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmsctl.commands.users_mail import NoEmailOpt, report_invites, report_reset_token
from lmsctl.commands.users_mfa import app as mfa_app
from lmsctl.options import (
    DryRunOpt,
    JsonlOpt,
    JsonOpt,
    ListJsonOpt,
    PageOpt,
    PasswordFileOpt,
    PasswordStdinOpt,
    PerPageOpt,
    group,
    read_password,
)
from lmsctl.output import (
    emit_query,
    emit_record,
    listing_format,
    report_change,
    reporting,
)
from lmsctl.runtime import acting, runtime

app = group("Create, list, update, lock out and delete users (named by e-mail).")

app.add_typer(mfa_app, name="mfa")

EmailArg = Annotated[str, typer.Argument(help="The user's e-mail.", show_default=False)]
LIST_COLUMNS = ("email", "full_name", "role", "is_active", "external_id", "last_login_at")


@app.command("create")
def create(
    ctx: typer.Context,
    email: EmailArg,
    name: Annotated[str, typer.Option("--name", help="Full name.", show_default=False)],
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="admin, instructor or student [default: student; "
            "with --update-existing: keep the current role].",
        ),
    ] = None,
    external_id: Annotated[str | None, typer.Option("--external-id", help="SIS key.")] = None,
    update_existing: Annotated[
        bool,
        typer.Option("--update-existing", help="Update name/role/password if the user exists."),
    ] = False,
    prompt_password: Annotated[
        bool, typer.Option("--prompt-password", help="Ask for the password interactively.")
    ] = False,
    password_stdin: PasswordStdinOpt = False,
    password_file: PasswordFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a user; without a password the user cannot log in until one is set.

    Example: lmsctl users create ada@example.org --name "Ada Lovelace" --role instructor --password-stdin < pw.txt
    """
    rt = runtime(ctx)
    with reporting(as_json=json_out):
        from lms_core.accounts.fields import UserCreate
        from lms_core.accounts.users import create_user, user_row

        password = read_password(stdin=password_stdin, file=password_file, prompt=prompt_password)
    with acting(ctx, as_json=json_out) as (session, actor):
        user, created = create_user(
            session,
            actor=actor,
            data=UserCreate(email=email, full_name=name, role=role, external_id=external_id),
            password=password,
            hasher=rt.hasher() if password is not None else None,
            update_existing=update_existing,
        )
        row = user_row(user)
    report_change(
        f"{'created' if created else 'updated'} {row['role']} {row['email']}"
        + ("" if password is not None or not created else " (no password: cannot log in yet)"),
        {**row, "created": created},
        as_json=json_out,
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Part of e-mail or name.")
    ] = None,
    role: Annotated[str | None, typer.Option("--role", help="Only this role.")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Only active or inactive.")
    ] = None,
    deleted: Annotated[bool, typer.Option("--deleted", help="Include soft-deleted users.")] = False,
    page: PageOpt = None,
    per_page: PerPageOpt = None,
    jsonl_out: JsonlOpt = False,
    json_out: ListJsonOpt = False,
) -> None:
    """List users, ordered by e-mail.

    Example: lmsctl users list --role student --search smith --json
    """
    from lms_core.accounts.users import user_row, users_query

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        stmt = users_query(
            session,
            actor=actor,
            search=search,
            role=role,
            active=active,
            include_deleted=deleted,
        )
        emit_query(
            session,
            stmt,
            user_row,
            LIST_COLUMNS,
            as_json=json_out,
            jsonl=jsonl_out,
            page=page,
            per_page=per_page,
            noun="user(s)",
        )


@app.command("show")
def show(ctx: typer.Context, email: EmailArg, json_out: JsonOpt = False) -> None:
    """Show one user (never the password hash).

    Example: lmsctl users show ada@example.org --json
    """
    from lms_core.accounts.users import show_user, user_row

    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        row = user_row(show_user(session, actor=actor, email=email))
    emit_record(row, as_json=json_out)


@app.command("update")
def update(
    ctx: typer.Context,
    email: EmailArg,
    new_email: Annotated[str | None, typer.Option("--email", help="New e-mail.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="New full name.")] = None,
    bio: Annotated[str | None, typer.Option("--bio")] = None,
    avatar_url: Annotated[str | None, typer.Option("--avatar-url")] = None,
    external_id: Annotated[str | None, typer.Option("--external-id")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a user's profile fields (only those given).

    Example: lmsctl users update ada@example.org --name "Ada King" --bio "Countess"
    """
    from lms_core.accounts.fields import UserUpdate
    from lms_core.accounts.users import update_user, user_row

    with acting(ctx, as_json=json_out) as (session, actor):
        row = user_row(
            update_user(
                session,
                actor=actor,
                email=email,
                data=UserUpdate(
                    email=new_email,
                    full_name=name,
                    bio=bio,
                    avatar_url=avatar_url,
                    external_id=external_id,
                ),
            )
        )
    report_change(f"updated {row['email']}", row, as_json=json_out)


def _simple(action: str, summary: str, done: str) -> None:
    """Register a command that takes only an e-mail and calls one service."""

    def command(ctx: typer.Context, email: EmailArg, json_out: JsonOpt = False) -> None:
        from lms_core.accounts.users import (
            deactivate_user,
            reactivate_user,
            unlock_user,
            user_row,
        )

        service = {
            "deactivate": deactivate_user,
            "reactivate": reactivate_user,
            "unlock": unlock_user,
        }[action]
        with acting(ctx, as_json=json_out) as (session, actor):
            row = user_row(service(session, actor=actor, email=email))
        report_change(f"{done} {row['email']}", row, as_json=json_out)

    command.__doc__ = f"{summary}\n\nExample: lmsctl users {action} ada@example.org"
    app.command(action)(command)


_simple("deactivate", "Deactivate a user: they can no longer log in.", "deactivated")
_simple("reactivate", "Reactivate a deactivated or soft-deleted user.", "reactivated")
_simple("unlock", "Clear a lockout after failed logins.", "unlocked")


@app.command("set-role")
def set_role(
    ctx: typer.Context,
    email: EmailArg,
    role: Annotated[str, typer.Argument(help="admin, instructor or student.", show_default=False)],
    json_out: JsonOpt = False,
) -> None:
    """Give a user another role (the last active admin keeps theirs).

    Example: lmsctl users set-role ada@example.org instructor
    """
    from lms_core.accounts.users import set_role as set_role_service
    from lms_core.accounts.users import user_row

    with acting(ctx, as_json=json_out) as (session, actor):
        row = user_row(set_role_service(session, actor=actor, email=email, role=role))
    report_change(f"{row['email']} is now {row['role']}", row, as_json=json_out)


@app.command("reset-password")
def reset_password(
    ctx: typer.Context,
    email: EmailArg,
    password_stdin: PasswordStdinOpt = False,
    password_file: PasswordFileOpt = None,
    token: Annotated[
        bool,
        typer.Option(
            "--token",
            help="Instead, make a one-time reset link (valid 2 hours): mailed to the user, "
            "and its token printed.",
        ),
    ] = False,
    no_email: NoEmailOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Set a new password (prompted, from stdin or a file) and clear any lockout.

    With --token, the user chooses it: a reset link is mailed to them (queued with the token,
    sent by the job worker) and the token is printed.

    Example: lmsctl users reset-password ada@example.org --password-file /run/secrets/pw
    """
    if token:
        rt = runtime(ctx)
        with acting(ctx, as_json=json_out) as (session, actor):
            from lms_core.accounts.tokens import request_password_reset

            base_url = None if no_email else rt.get_settings().public_base_url
            user, raw = request_password_reset(
                session, actor=actor, email=email, mail_base_url=base_url
            )
            shown = user.email
        report_reset_token(shown, raw, mailed=not no_email, json_out=json_out)
        return
    rt = runtime(ctx)
    with acting(ctx, as_json=json_out, write=False) as (session, actor):
        from lms_core.accounts.users import check_may_set_password

        check_may_set_password(session, actor=actor, email=email)
    with reporting(as_json=json_out):
        password = read_password(stdin=password_stdin, file=password_file, prompt=True)
    with acting(ctx, as_json=json_out) as (session, actor):
        from lms_core.accounts.users import set_password, user_row

        row = user_row(
            set_password(
                session, actor=actor, email=email, password=password or "", hasher=rt.hasher()
            )
        )
    report_change(f"password set for {row['email']}", row, as_json=json_out)


@app.command("delete")
def delete(
    ctx: typer.Context,
    email: EmailArg,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also anonymise all personal data, for good.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Soft-delete a user (reversible with reactivate); --purge anonymises them irreversibly.

    Example: lmsctl users delete old.student@example.org --purge --yes
    """
    if purge and not yes:
        typer.confirm(
            f"Purge {email}? Their personal data cannot be recovered.", abort=True, err=True
        )
    from lms_core.accounts.users import delete_user, user_row

    with acting(ctx, as_json=json_out) as (session, actor):
        row = user_row(delete_user(session, actor=actor, email=email, purge=purge))
    report_change(f"{'purged' if purge else 'deleted'} {email}", row, as_json=json_out)


@app.command("invite")
def invite(
    ctx: typer.Context,
    emails: Annotated[
        list[str] | None,
        typer.Argument(help="The users' e-mails (or --run).", show_default=False),
    ] = None,
    run: Annotated[
        int | None,
        typer.Option("--run", min=1, help="Every user import run RUN created.", show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            dir_okay=False,
            help="Write the links to this CSV (email, full_name, link), readable by you only.",
            show_default=False,
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    no_email: NoEmailOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """New set-password links (valid 14 days) for users without a password, mailed to them.

    Earlier unused links of those users stop working. Users who have a password, or are
    inactive or deleted, are skipped with the reason (a password user needs reset-password).
    Each link goes out in an invitation e-mail, queued with its token and sent by the job
    worker (--no-email: none). Without -o the links are also printed.

    Example: lmsctl users invite --run 12 -o invites.csv
    """
    from lms_core.imports.invites import invite_users, write_links

    rt = runtime(ctx)
    if output is not None:  # -o x.xlsx is refused before any work (exit 2): the links are CSV
        with reporting(as_json=json_out):
            from lms_core.formats.output import output_format

            output_format(output, ("csv",))
    links = None
    try:
        with acting(ctx, as_json=json_out) as (session, actor):
            report = invite_users(
                session,
                actor=actor,
                base_url=rt.get_settings().public_base_url,
                emails=emails or (),
                run_id=run,
                dry_run=dry_run,
                mail=not no_email,
            )
            if output is not None and not dry_run:
                # Written before the commit, put in place after it: no file of dead links.
                links = write_links(output, report.invited)
        if links is not None:
            with reporting(as_json=json_out):
                links.commit()
    finally:
        if links is not None:
            links.discard()
    report_invites(report, output=output, dry_run=dry_run, json_out=json_out)
