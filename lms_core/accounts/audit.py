"""Writing and reading the audit log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.models import AuditEntry

#: Never copied into the audit log, an export or any output.
SECRET_FIELDS = frozenset({"password_hash", "token_hash", "code_hash", "mfa_secret"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return value.value
    return value


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named attributes of ``obj`` as JSON-ready values, secrets left out."""
    return {f: _jsonable(getattr(obj, f)) for f in fields if f not in SECRET_FIELDS}


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: Any,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    flush: bool = True,
) -> AuditEntry:
    """Add one audit entry for ``action`` on ``entity`` (flushed with the change itself)."""
    entry = AuditEntry(
        actor_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        entity_type=type(entity).__tablename__,
        entity_id=getattr(entity, "id", None),
        before=before,
        after=after,
    )
    session.add(entry)
    if flush:  # batch writers add many entries and flush once
        session.flush()
    return entry


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Only the fields whose value differs: keeps update entries small and readable."""
    return {k: v for k, v in after.items() if before.get(k) != v}


def record_change(
    session: Session,
    actor: Actor,
    action: str,
    entity: Any,
    *,
    before: dict[str, Any],
    fields: Iterable[str],
    unchanged_too: bool = False,
) -> dict[str, Any]:
    """Flush ``entity``, then audit how its ``fields`` differ from ``before``; that difference.

    Flushed first so that the snapshot taken after holds what the database will keep (column
    defaults, onupdate values). An entry is added only when something changed, unless
    ``unchanged_too`` (a grade given again is still an act worth recording).
    """
    session.flush()
    after = changed(before, snapshot(entity, fields))
    if after or unchanged_too:
        record(session, actor, action, entity, before=before, after=after)
    return after


def apply_change(
    session: Session,
    actor: Actor,
    action: str,
    entity: Any,
    *,
    fields: Iterable[str],
    values: dict[str, Any],
) -> dict[str, Any]:
    """Set ``values`` on ``entity``, flush and audit the difference (:func:`record_change`).

    The one way services change checked fields, so every update is audited the same way.
    """
    fields = tuple(fields)
    before = snapshot(entity, fields)
    for name, value in values.items():
        setattr(entity, name, value)
    return record_change(session, actor, action, entity, before=before, fields=fields)


def entries_for(session: Session, entity_type: str, entity_id: int) -> list[AuditEntry]:
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.id)
    )
    return list(session.scalars(stmt))
