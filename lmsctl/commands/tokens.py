"""lmsctl tokens: personal access tokens for integrations calling the JSON API."""

from __future__ import annotations

from typing import Annotated

import typer

from lmsctl.options import JsonlOpt, JsonOpt, ListJsonOpt, group
from lmsctl.output import emit_rows, listing_format, report_change
from lmsctl.runtime import acting

app = group("Personal access tokens for the JSON API: create, list, revoke.")

COLUMNS = ("id", "email", "name", "scopes", "status", "created_at", "expires_at", "revoked_at")


@app.command("create")
def create(
    ctx: typer.Context,
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help="A scope the token may use (repeat it, or comma-separate): courses:read, "
            "enrollments:read, enrollments:write, certificates:read, certificates:write, "
            "users:read, users:write, quizzes:read, quizzes:write, submissions:write, "
            "submissions:grade, imports:write, reports:read.",
        ),
    ],
    expires: Annotated[
        str, typer.Option("--expires", help="A duration (90d, 12w, 48h) or a date (2027-03-01).")
    ] = "90d",
    name: Annotated[
        str, typer.Option("--name", help="A label for the token (who uses it, what for).")
    ] = "integration",
    json_out: JsonOpt = False,
) -> None:
    """Create a token acting as the --as user with these scopes; printed once, stored hashed.

    The token carries its user's rights narrowed to its scopes: a learner's token never
    reads others' records, whatever its scopes.

    Example: lmsctl --as hr-sync@example.org tokens create --scope users:read --scope enrollments:write --expires 90d --name "HR sync"
    """
    from lms_core.accounts.api_tokens import create_personal_token, parse_expiry, token_row
    from lms_core.models import User

    scopes = [s for given in scope for s in given.split(",")]
    with acting(ctx, as_json=json_out) as (session, actor):
        token, raw = create_personal_token(
            session,
            actor=actor,
            name=name,
            scopes=scopes,
            expires_at=parse_expiry(expires),
        )
        row = {**token_row(token, session.get_one(User, token.user_id)), "token": raw}
    report_change(
        f"token {row['id']} created for {row['email']} (shown once, keep it secret):\n{raw}",
        row,
        as_json=json_out,
    )


@app.command("list")
def list_(ctx: typer.Context, jsonl_out: JsonlOpt = False, json_out: ListJsonOpt = False) -> None:
    """List personal tokens (never the tokens themselves): yours, or everyone's for an admin.

    Example: lmsctl tokens list --json
    """
    from lms_core.accounts.api_tokens import list_personal_tokens, token_row

    for_scripts = listing_format(json_out, jsonl_out)
    with acting(ctx, as_json=for_scripts, write=False) as (session, actor):
        rows = [token_row(t, u) for t, u in list_personal_tokens(session, actor=actor)]
    emit_rows(rows, COLUMNS, as_json=json_out, jsonl=jsonl_out, title="personal tokens")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(help="The token's number (see tokens list).")],
    json_out: JsonOpt = False,
) -> None:
    """Revoke a personal token at once (its owner or an administrator); revoking again is a no-op.

    Example: lmsctl tokens revoke 3
    """
    from lms_core.accounts.api_tokens import revoke_personal_token, token_row
    from lms_core.models import User

    with acting(ctx, as_json=json_out) as (session, actor):
        token = revoke_personal_token(session, actor=actor, token_id=token_id)
        row = token_row(token, session.get_one(User, token.user_id))
    report_change(f"token {row['id']} ({row['name']}) revoked", row, as_json=json_out)
