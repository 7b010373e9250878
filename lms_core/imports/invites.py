"""Invitations for imported users who have no password: one-time tokens, stored hashed.

The raw token appears in one place only: the set-password link of the ``--invites-out``
file, written to a temporary file and moved into place when the import commits (a refused
or failed import leaves no file of links that do not work).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from lms_core.accounts.tokens import DEFAULT_TTL
from lms_core.formats.atomic import AtomicFile
from lms_core.formats.safe_cells import safe_cell
from lms_core.imports.bulk import insert_rows
from lms_core.imports.plan.changes import Change
from lms_core.models import OneTimeToken, TokenPurpose
from lms_core.security import new_token, token_hash

HEADER = ("email", "full_name", "link")


class Invites:
    """Issues invitation tokens in bulk and collects the links for ``--invites-out``."""

    def __init__(self, base_url: str, out: Path | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.out = out
        self.count = 0
        #: Kept for the run: the links are put in place only if the import commits.
        self._file: AtomicFile | None = None
        self._writer: csv.DictWriter[str] | None = None
        if out is not None:
            self._file = AtomicFile(out, "w", private=True)
            self._writer = csv.DictWriter(self._file.stream, HEADER)
            self._writer.writeheader()

    def link(self, raw: str) -> str:
        return f"{self.base_url}/set-password/{raw}"

    def issue(self, session: Session, created_users: Sequence[Change], now: datetime) -> None:
        """Insert one token per created user without a password, in one executemany."""
        expires = now + DEFAULT_TTL[TokenPurpose.invitation]
        rows = []
        for change in created_users:
            if change.secret is not None or change.entity_id is None or not change.after:
                continue
            raw = new_token()
            rows.append((change.entity_id, token_hash(raw)))
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

    def commit(self) -> None:
        """The import committed: move the links into place."""
        if self._file is not None:
            self._file.commit()
            self._file = None

    def discard(self) -> None:
        if self._file is not None:
            self._file.discard()
            self._file = None
