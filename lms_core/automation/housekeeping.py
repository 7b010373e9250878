"""Housekeeping services the schedule runs: expired one-time tokens, orphaned upload blobs.

Both are services (they take the caller's session, flush, never commit) so a test or a
command can run them as the jobs do.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.models import ApiToken, ApiTokenKind, OneTimeToken, StoredFile, utcnow
from lms_core.permissions import require_admin

#: Used tokens are kept this long after use (who set a password when: audit has it too).
KEEP_USED = timedelta(days=7)
#: A blob younger than this is never removed: its row may not be committed yet.
ORPHAN_GRACE = timedelta(hours=1)
#: ``ab/cd/<sha256>.<ext>``: the only files under files_dir the reconcile looks at.
_BLOB = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}\.[A-Za-z0-9]{1,10}$")
_HEX2 = re.compile(r"^[0-9a-f]{2}$")
#: A blob being removed is first renamed ``.<name>.reconcile`` (see :func:`_remove_orphan`).
ASIDE = ".reconcile"
#: How many missing blobs a result names (all are counted).
REPORT_LIMIT = 50


def clean_expired_tokens(session: Session, *, actor: Actor, now: datetime | None = None) -> int:
    """Delete one-time tokens (invitation, reset, verification) that expired, and used ones
    older than :data:`KEEP_USED`; returns how many. A link whose token is gone says
    "invalid or expired", exactly what an expired one says."""
    require_admin(actor, "clean expired tokens")
    now = now or utcnow()
    result = session.execute(
        delete(OneTimeToken).where(
            or_(
                OneTimeToken.expires_at <= now,
                OneTimeToken.used_at <= now - KEEP_USED,
            )
        )
    )
    return int(getattr(result, "rowcount", 0))


@dataclass
class Reconcile:
    removed: list[str] = field(default_factory=list)
    #: Blobs with no row but younger than the grace period: left for a later run.
    young: int = 0
    #: Rows whose blob is missing (never deleted: an administrator decides).
    missing: list[dict[str, Any]] = field(default_factory=list)
    missing_count: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "removed": len(self.removed),
            "removed_files": self.removed[:REPORT_LIMIT],
            "young": self.young,
            "missing": self.missing_count,
            "missing_rows": self.missing,
        }


def purge_api_tokens(session: Session, *, now: datetime | None = None) -> int:
    """Delete API tokens past the refresh lifetime (created more than its 30 days ago) and
    expired; how many. A refresh token stays while its login (family) has a live refresh
    token: a used one presented again is how a copied token is caught, and it must still
    be recognised as used to revoke the login."""
    from lms_core.accounts.api_tokens import REFRESH_TTL

    now = now or utcnow()
    live_families = select(ApiToken.family).where(
        ApiToken.kind == ApiTokenKind.refresh.value, ApiToken.expires_at > now
    )
    result = session.execute(
        delete(ApiToken)
        .where(
            ApiToken.created_at <= now - REFRESH_TTL,
            ApiToken.expires_at <= now,
            or_(
                ApiToken.kind != ApiTokenKind.refresh.value,
                ApiToken.family.not_in(live_families),
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _restore(aside: Path) -> Path:
    """A blob a killed reconcile left set aside goes back (the next look decides again)."""
    original = aside.with_name(aside.name[1 : -len(ASIDE)])
    if original.exists():
        aside.unlink(missing_ok=True)  # written again since: the same bytes
    else:
        os.replace(aside, original)
    return original


def _blobs(files_dir: Path, *, repair: bool) -> list[Path]:
    found: list[Path] = []
    if not files_dir.is_dir():
        return found
    for first in files_dir.iterdir():
        if not (first.is_dir() and _HEX2.match(first.name)):
            continue
        for second in first.iterdir():
            if not (second.is_dir() and _HEX2.match(second.name)):
                continue
            for path in second.iterdir():
                if repair and path.name.startswith(".") and path.name.endswith(ASIDE):
                    path = _restore(path)
                if path.is_file():
                    found.append(path)
    return found


def _remove_orphan(session: Session, blob: Path, relative: str, cutoff: float) -> bool:
    """Remove one blob no row named when the reconcile began; False when it must stay.

    An upload of the same bytes may have started using it since (``store`` reuses a blob,
    touching it first, and commits its row later). So the blob is first set aside under a
    name ``store`` never uses, then its age and the rows are checked again: a ``store`` that
    touched it before shows in its mtime (same inode); one that comes after finds no blob
    and writes it again. Kept blobs go back (same bytes, whatever ``store`` wrote meanwhile).
    """
    aside = blob.with_name(f".{blob.name}{ASIDE}")
    try:
        os.rename(blob, aside)
    except FileNotFoundError:
        return False
    named = session.scalar(select(StoredFile.id).where(StoredFile.file_path == relative).limit(1))
    if named is not None or aside.stat().st_mtime > cutoff:
        os.replace(aside, blob)
        return False
    aside.unlink(missing_ok=True)
    return True


def reconcile_files(
    session: Session,
    *,
    actor: Actor,
    files_dir: Path,
    grace: timedelta = ORPHAN_GRACE,
    dry_run: bool = False,
) -> Reconcile:
    """Remove upload blobs no ``files`` row names (older than ``grace``); report rows whose
    blob is missing. Certificates, job markers and anything else under ``files_dir`` are not
    uploads and are never looked at (only ``ab/cd/<sha256>.<ext>``)."""
    require_admin(actor, "reconcile uploaded files")
    report = Reconcile()
    named = set(session.scalars(select(StoredFile.file_path)))
    cutoff = time.time() - grace.total_seconds()
    for blob in _blobs(files_dir, repair=not dry_run):
        relative = blob.relative_to(files_dir).as_posix()
        if not _BLOB.match(relative) or relative in named:
            continue
        try:
            young = blob.stat().st_mtime > cutoff
        except FileNotFoundError:
            continue
        if young or (not dry_run and not _remove_orphan(session, blob, relative, cutoff)):
            report.young += 1
            continue
        report.removed.append(relative)
    for row_id, path in session.execute(
        select(StoredFile.id, StoredFile.file_path).order_by(StoredFile.id)
    ):
        if not (files_dir / path).is_file():
            report.missing_count += 1
            if len(report.missing) < REPORT_LIMIT:
                report.missing.append({"id": row_id, "file_path": path})
    return report
