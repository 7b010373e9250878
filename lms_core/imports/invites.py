"""Invitations for users who have no password: one-time tokens, stored hashed.

A token is made only when its link is handed out: by an import with ``--invites-out``, or by
``invite_users`` (``lmsctl users invite EMAIL... | --run RUN``) later. An import without
``--invites-out`` counts the new users who still need one and makes no token (a token
nobody can see is a write for nothing: 0.74 s per 100k users, measured).

Each link is handed out twice: in an invitation mail queued in the same transaction as its
token (``lms_core.mail.outbox``; sent by the job worker), and in the links file (or the
command's output), written to a temporary file and moved into place when the transaction
commits (a refused or failed run leaves no file of links that do not work, and no mail).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lms_core.accounts.tokens import DEFAULT_TTL
from lms_core.actor import Actor
from lms_core.errors import Conflict, ErrorList, LmsError, NotFound, UsageError
from lms_core.formats.atomic import AtomicFile
from lms_core.formats.output import CSV_LINE_END, pending_csv_file
from lms_core.formats.safe_cells import safe_cell
from lms_core.imports.bulk import insert_rows
from lms_core.imports.plan.changes import CREATE, Change
from lms_core.imports.resolve import chunks
from lms_core.models import (
    AuditEntry,
    ImportChange,
    ImportRun,
    ImportStatus,
    OneTimeToken,
    TokenPurpose,
    User,
    utcnow,
)
from lms_core.permissions import require_admin
from lms_core.security import new_token, token_hash

HEADER = ("email", "full_name", "link")


class Invites:
    """Issues invitation tokens in bulk and collects the links for ``--invites-out``."""

    def __init__(self, base_url: str, out: Path | None, *, mail: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.out = out
        #: Also queue an invitation mail per link issued.
        self.mail = mail
        #: Links issued (tokens made) by this run.
        self.count = 0
        #: Invitation mails queued by this run.
        self.mailed = 0
        #: New users without a password who got no link (no ``--invites-out``).
        self.needed = 0
        #: Kept for the run: the links are put in place only if the import commits.
        self._file: AtomicFile | None = None
        self._writer: csv.DictWriter[str] | None = None
        if out is not None:
            # Encoded as every CSV file we write (UTF-8 with a BOM: lms_core.formats.output).
            self._file = pending_csv_file(out, private=True)
            self._writer = csv.DictWriter(self._file.stream, HEADER, lineterminator=CSV_LINE_END)
            self._writer.writeheader()

    def link(self, raw: str) -> str:
        return f"{self.base_url}/set-password/{raw}"

    def issue(self, session: Session, created_users: Sequence[Change], now: datetime) -> None:
        """One token per created user without a password, in one executemany, when the
        links are written somewhere; otherwise only count them (``needed``)."""
        expires = now + DEFAULT_TTL[TokenPurpose.invitation]
        rows = []
        mails: list[tuple[int, str, str, str]] = []
        for change in created_users:
            if change.secret is not None or change.entity_id is None or not change.after:
                continue
            if self._writer is None:
                self.needed += 1
                continue
            raw = new_token()
            rows.append((change.entity_id, token_hash(raw)))
            if self.mail:
                email, name = change.after.get("email"), change.after.get("full_name")
                mails.append((change.entity_id, str(email), str(name or ""), raw))
            if self._writer is not None:
                self._writer.writerow(
                    {
                        "email": safe_cell(change.after.get("email")),
                        "full_name": safe_cell(change.after.get("full_name")),
                        "link": self.link(raw),
                    }
                )
        if rows:
            insert_rows(
                session,
                OneTimeToken.__table__,  # type: ignore[arg-type]
                ("user_id", "token_hash"),
                rows,
                constants={
                    "purpose": TokenPurpose.invitation.value,
                    "expires_at": expires,
                    "created_at": now,
                },
            )
            self.count += len(rows)
        self.mailed += queue_invitations(session, mails, base_url=self.base_url)

    def commit(self) -> None:
        """The import committed: move the links into place."""
        if self._file is not None:
            self._file.commit()
            self._file = None

    def discard(self) -> None:
        if self._file is not None:
            self._file.discard()
            self._file = None


def queue_invitations(
    session: Session, invites: Sequence[tuple[int, str, str, str]], *, base_url: str
) -> int:
    """An invitation mail per ``(user id, e-mail, full name, raw token)``, queued in bulk in
    the caller's transaction (flushes); keyed ``invite:<user id>:<token hash prefix>``."""
    if not invites:
        return 0
    from lms_core.mail.outbox import NewMail, queue_many  # Jinja2 only when a mail is made

    base = base_url.rstrip("/")
    days = DEFAULT_TTL[TokenPurpose.invitation].days
    return queue_many(
        session,
        [
            NewMail(
                template="invitation",
                to=email,
                context={
                    "full_name": full_name,
                    "link": f"{base}/set-password/{raw}",
                    "valid_days": days,
                },
                key=f"invite:{user_id}:{hashed[:16]}",
                token_hash=hashed,
            )
            for user_id, email, full_name, raw in invites
            for hashed in (token_hash(raw),)
        ],
        base_url=base,
    )


# --- lmsctl users invite: links for users who have none -------------------------------------


@dataclass
class Invitation:
    email: str
    full_name: str
    #: The set-password link (None in a dry run: no token is made).
    link: str | None


@dataclass
class Skipped:
    email: str
    #: ``password`` (they need a password reset, not an invitation), ``inactive``, ``deleted``.
    reason: str
    message: str


@dataclass
class InviteReport:
    """Who got a new link, and who was passed over and why (they keep what they have)."""

    dry_run: bool
    invited: list[Invitation] = field(default_factory=list)
    #: Users who have a password, or are inactive or deleted: left as they are.
    skipped: list[Skipped] = field(default_factory=list)
    #: Invitation mails queued (one per invited user, unless mails were not asked for).
    mailed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "mailed": self.mailed,
            "invited": [
                {"email": i.email, "full_name": i.full_name, "link": i.link} for i in self.invited
            ],
            "skipped": [
                {"email": s.email, "reason": s.reason, "message": s.message} for s in self.skipped
            ],
        }


def _run_users(session: Session, run_id: int) -> list[User]:
    """The users import run ``run_id`` created (and that still exist)."""
    run = session.get(ImportRun, run_id)
    if run is None:
        raise NotFound(f"no import run {run_id}", field="run", value=run_id)
    if run.status != ImportStatus.applied.value:
        raise Conflict(
            f"import run {run_id} is {run.status}: only an applied run's users can be invited",
            field="run",
            value=run_id,
        )
    ids = list(
        session.scalars(
            select(ImportChange.entity_id)
            .where(
                ImportChange.run_id == run_id,
                ImportChange.entity_type == "user",
                ImportChange.action == CREATE,
            )
            .order_by(ImportChange.id)
        )
    )
    found: dict[int, User] = {}
    for batch in chunks(ids):
        found.update((u.id, u) for u in session.scalars(select(User).where(User.id.in_(batch))))
    return [found[i] for i in ids if i in found]


def _named_users(session: Session, emails: Sequence[str]) -> list[User]:
    """The users with these e-mails, in the order given; refused if any is unknown."""
    wanted = list(dict.fromkeys(e.replace("\u00a0", " ").strip().lower() for e in emails))
    found: dict[str, User] = {}
    for batch in chunks(wanted):
        stmt = select(User).where(User.email.in_(batch))
        found.update((u.email, u) for u in session.scalars(stmt))
    missing = [e for e in wanted if e not in found]
    if missing:
        problems: list[LmsError] = [
            NotFound(f"no user with e-mail {e}", field="email", value=e) for e in missing
        ]
        raise problems[0] if len(problems) == 1 else ErrorList(problems)
    return [found[e] for e in wanted]


def _why_not(user: User) -> Skipped | None:
    if user.deleted_at is not None:
        return Skipped(user.email, "deleted", "is deleted: reactivate the user first")
    if not user.is_active:
        return Skipped(user.email, "inactive", "is inactive: reactivate the user first")
    if user.password_hash is not None:
        return Skipped(user.email, "password", "has a password: send a password reset instead")
    return None


def invite_users(
    session: Session,
    *,
    actor: Actor,
    base_url: str,
    emails: Sequence[str] = (),
    run_id: int | None = None,
    dry_run: bool = False,
    mail: bool = True,
    now: datetime | None = None,
) -> InviteReport:
    """New invitation links for users without a password, named by e-mail or by import run.

    Each invited user's earlier unused invitation links stop working (their tokens are
    deleted, so an undo of the import still can remove the user); the new tokens are stored
    hashed, one audit entry each, and (``mail``) each link is mailed: an invitation queued in
    the same transaction. Users who have a password, or are inactive or deleted, are
    skipped with the reason (a password user needs a reset, not an invitation); an unknown
    e-mail refuses the whole call. Flushes, never commits.
    """
    require_admin(actor, "send invitations")
    if bool(emails) == (run_id is not None):
        raise UsageError(
            "name the users by e-mail or by import run, one of the two",
            field="run" if run_id is not None else "email",
        )
    users = _run_users(session, run_id) if run_id is not None else _named_users(session, emails)
    report = InviteReport(dry_run=dry_run)
    chosen: list[User] = []
    for user in users:
        why = _why_not(user)
        if why is None:
            chosen.append(user)
        else:
            report.skipped.append(why)
    if dry_run or not chosen:
        report.invited = [Invitation(u.email, u.full_name, None) for u in chosen]
        return report
    now = now or utcnow()
    ids = [u.id for u in chosen]
    for batch in chunks(ids):
        session.execute(
            delete(OneTimeToken).where(
                OneTimeToken.user_id.in_(batch),
                OneTimeToken.purpose == TokenPurpose.invitation.value,
                OneTimeToken.used_at.is_(None),
            )
        )
    raws = [new_token() for _ in chosen]
    insert_rows(
        session,
        OneTimeToken.__table__,  # type: ignore[arg-type]
        ("user_id", "token_hash"),
        [(u.id, token_hash(raw)) for u, raw in zip(chosen, raws, strict=True)],
        constants={
            "purpose": TokenPurpose.invitation.value,
            "expires_at": now + DEFAULT_TTL[TokenPurpose.invitation],
            "created_at": now,
        },
    )
    insert_rows(
        session,
        AuditEntry.__table__,  # type: ignore[arg-type]
        ("entity_id",),
        [(u.id,) for u in chosen],
        constants={
            "actor_id": actor.user_id,
            "actor_label": actor.label,
            "action": f"token.issue.{TokenPurpose.invitation.value}",
            "entity_type": User.__tablename__,
            "created_at": now,
        },
    )
    base = base_url.rstrip("/")
    report.invited = [
        Invitation(u.email, u.full_name, f"{base}/set-password/{raw}")
        for u, raw in zip(chosen, raws, strict=True)
    ]
    if mail:
        report.mailed = queue_invitations(
            session,
            [(u.id, u.email, u.full_name, raw) for u, raw in zip(chosen, raws, strict=True)],
            base_url=base,
        )
    return report


def write_links(out: Path, invited: Sequence[Invitation]) -> AtomicFile:
    """The links file (email, full_name, link), readable by its owner only, as
    ``--invites-out`` writes it; put in place by the caller's ``commit()`` once the
    tokens are committed (``discard()`` otherwise)."""
    file = pending_csv_file(out, private=True)  # UTF-8 with a BOM, as every CSV file we write
    try:
        writer = csv.DictWriter(file.stream, HEADER, lineterminator=CSV_LINE_END)
        writer.writeheader()
        for i in invited:
            writer.writerow(
                {"email": safe_cell(i.email), "full_name": safe_cell(i.full_name), "link": i.link}
            )
    except BaseException:
        file.discard()
        raise
    return file
