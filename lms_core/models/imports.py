"""The import ledger: every bulk import run, and the before/after of each record it changed.

The ledger is what makes ``lmsctl import history`` and ``lmsctl import undo RUN`` possible:
undo restores each ``before`` image, after checking that the record still matches ``after``
(otherwise a later change touched it, and undo refuses, naming those records).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.models.base import Base, utcnow
from lms_core.models.users import _in


class ImportStatus(StrEnum):
    applied = "applied"
    #: Refused before writing (validation errors, threshold, stale plan): recorded, nothing changed.
    refused = "refused"
    #: Failed while applying and rolled back: recorded, nothing changed.
    failed = "failed"
    undone = "undone"


class ImportMode(StrEnum):
    add = "add"
    update = "update"
    upsert = "upsert"
    sync = "sync"


class ChangeAction(StrEnum):
    create = "create"
    update = "update"
    #: A user set inactive by a sync (never deleted).
    deactivate = "deactivate"
    #: An enrollment dropped by a sync (status ``dropped``, never deleted).
    drop = "drop"


class ImportRun(Base):
    __tablename__ = "import_runs"
    __table_args__ = (
        CheckConstraint(_in("status", ImportStatus), name="status_valid"),
        CheckConstraint(_in("mode", ImportMode), name="mode_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    #: The acting user, when the actor is one (NULL for the CLI operator or a job).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Who ran it, readable after the user is purged: an e-mail or ``cli:<os user>``.
    actor_label: Mapped[str] = mapped_column(String(320))
    #: ``users``, ``courses``, ``enrollments`` or ``oneroster``.
    entity: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(10))
    #: Base name of the input (file, zip or folder); several files are joined with ``+``.
    file_name: Mapped[str] = mapped_column(String(500))
    #: SHA-256 of the input bytes (of all files, in a stable order, for bundles).
    file_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    #: ``{"create": n, "update": n, "unchanged": n, "deactivate": n}`` (plus per-entity detail).
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duration_ms: Mapped[int | None]
    #: Why a run was refused or failed (first problems), for ``import history``.
    message: Mapped[str | None] = mapped_column(Text)
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(320))


class ImportChange(Base):
    __tablename__ = "import_changes"
    __table_args__ = (
        CheckConstraint(_in("action", ChangeAction), name="action_valid"),
        Index("ix_import_changes_entity", "entity_type", "entity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("import_runs.id", ondelete="CASCADE"), index=True
    )
    #: ``user``, ``course``, ``lesson`` or ``enrollment`` (the audit log's entity names).
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int]
    #: The record's import key as the file gave it (external_id, e-mail, slug, email/slug pair).
    key: Mapped[str] = mapped_column(String(500))
    action: Mapped[str] = mapped_column(String(10))
    #: The imported fields before the change (NULL for a create).
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The imported fields after the change.
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
