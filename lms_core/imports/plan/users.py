"""Plan a chunk of users rows, and a users sync's deactivations.

Key: ``external_id`` when the row has one, else the e-mail. A row with an external_id that
the database does not know yet adopts the user with its e-mail when that user has no
external_id (users created by hand before the school's system fed us).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts.admins import admin_change_refused
from lms_core.accounts.fields import USER
from lms_core.errors import HintCode, hint
from lms_core.imports.context import Context
from lms_core.imports.plan.changes import CREATE, DEACTIVATE, SKIP, UNCHANGED, UPDATE, Change
from lms_core.imports.resolve import FIELDS, by_ids, chunks, lookup
from lms_core.models import Role, User

Rows = list[tuple[int, dict[str, Any]]]
_FIELDS = FIELDS["user"]


def plan_users(session: Session, ctx: Context, rows: Rows) -> list[Change]:
    by_ext = {
        r["external_id"]: r
        for r in lookup(
            session,
            "user",
            User.external_id,
            [v["external_id"] for _, v in rows if "external_id" in v],
        )
    }
    # By e-mail only what external_id did not find (or what may clash with another user).
    emails = [
        v["email"]
        for _, v in rows
        if "external_id" not in v
        or v["external_id"] not in by_ext
        or by_ext[v["external_id"]]["email"] != v["email"]
    ]
    by_email = {r["email"]: r for r in lookup(session, "user", User.email, emails)}
    out: list[Change] = []
    for line, values in rows:
        change = _plan_row(ctx, line, values, by_ext, by_email)
        if change is not None:
            out.append(change)
    return out


def _plan_row(
    ctx: Context,
    line: int,
    values: dict[str, Any],
    by_ext: dict[str, dict[str, Any]],
    by_email: dict[str, dict[str, Any]],
) -> Change | None:
    ext, email = values.get("external_id"), values["email"]
    key = ext or email
    password = values.pop("password", None)
    ctx.roles_in_file.add(values["role"])
    if ctx.remember_users:
        ctx.planned_users[email] = values["role"]
        if "is_active" in values:
            ctx.planned_active[email] = bool(values["is_active"])
        if ext:
            ctx.planned_user_ext[ext] = email
    record = by_ext.get(ext) if ext else None
    if record is None:
        record = by_email.get(email)
        if record is not None and ext and record["external_id"] not in (None, ext):
            ctx.problem(
                line,
                "email",
                email,
                f"belongs to another user (external_id {record['external_id']}, not {ext}); "
                "fix the e-mail or the external_id",
            )
            return None
    elif email != record["email"]:
        other = by_email.get(email)
        if other is not None and other["id"] != record["id"]:
            ctx.problem(line, "email", email, "already belongs to another user")
            return None
    if record is None:
        after = {f: values.get(f) for f in _FIELDS}
        if after["is_active"] is None:
            after["is_active"] = USER["is_active"].default
        if ctx.mode == "update":
            return Change("user", key, SKIP, None, None, after, line)
        if password is not None:
            # The ledger's marker; the password itself goes in ``secret``, then its hash.
            after["password"] = "(set)"  # noqa: S105
        return Change("user", key, CREATE, None, None, after, line, secret=password)
    if record["deleted_at"] is not None:
        ctx.problem(
            line,
            "email",
            email,
            "belongs to a deleted user; reactivate it first or remove the row",
            hint(HintCode.reactivate_user, email=email),
        )
        return None
    ctx.seen_ids["user"].add(record["id"])
    changed = {f: values[f] for f in _FIELDS if f in values and values[f] != record[f]}
    if not changed:
        return Change("user", key, UNCHANGED, record["id"], None, None, line)
    before = {f: record[f] for f in changed}
    if ctx.mode == "add":
        return Change("user", key, SKIP, record["id"], before, changed, line)
    if ("role" in changed or changed.get("is_active") is False) and admin_change_refused(
        record["role"], record["is_active"], active_admins=None
    ):
        column = "role" if "role" in changed else "is_active"
        ctx.problem(
            line,
            column,
            values.get(column),
            f"{record['email']} is an administrator; change an administrator's role or "
            "status one user at a time, not with an import",
            hint(HintCode.manage_administrator, email=record["email"]),
        )
        return None
    if ctx.actor.is_user(record["id"]) and changed.get("is_active") is False:
        ctx.problem(line, "is_active", "false", "you cannot deactivate yourself")
        return None
    return Change("user", key, UPDATE, record["id"], before, changed, line)


def scope_users(session: Session, ctx: Context) -> list[int]:
    """A users sync's scope: active, not deleted, of a role in the file; never admins, never the actor."""
    roles = sorted(ctx.roles_in_file - {Role.admin.value})
    if not roles:
        return []
    stmt = select(User.id).where(
        User.deleted_at.is_(None), User.is_active.is_(True), User.role.in_(roles)
    )
    if ctx.actor.user_id is not None:
        stmt = stmt.where(User.id != ctx.actor.user_id)
    return list(session.scalars(stmt))


def plan_user_removals(session: Session, ctx: Context, scope: list[int]) -> list[Change]:
    absent = [i for i in scope if i not in ctx.seen_ids["user"]]
    out: list[Change] = []
    for batch in chunks(absent):
        for id_, record in sorted(by_ids(session, "user", batch).items()):
            out.append(
                Change(
                    "user",
                    record["external_id"] or record["email"],
                    DEACTIVATE,
                    id_,
                    {"is_active": True},
                    {"is_active": False},
                )
            )
    return out
