"""Write planned changes in bulk: Core inserts of lists of rows, executemany updates by id.

Never an ORM object or a statement per record: a chunk of 5,000 creates is one
``INSERT ... RETURNING`` (split by SQLAlchemy's insertmanyvalues), a chunk of updates one
executemany per set of changed fields. The caller's transaction makes the whole run atomic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy.orm import Session

from lms_core.imports.bulk import insert_rows
from lms_core.imports.plan.changes import CREATE, WRITING, Change
from lms_core.imports.resolve import FIELDS, MODELS, ids_by
from lms_core.models import Course, ImportChange, User

ORDER = ("user", "course", "lesson", "enrollment")
#: Import fields that name another record, and the foreign key they become.
REFERENCES = {
    "instructor_email": ("instructor_id", User.id, User.email),
    "course_slug": ("course_id", Course.id, Course.slug),
    "user_email": ("student_id", User.id, User.email),
}
_DATES = frozenset({"dropped_at", "completed_at"})
_CREATE_EXTRA: dict[str, dict[str, Any]] = {
    "user": {"failed_login_attempts": 0},
    "course": {},
    "lesson": {},
    "enrollment": {"progress_percentage": 0},
}


def _resolve_refs(session: Session, entity_type: str, changes: list[Change]) -> None:
    """Fill ``refs`` where planning could not (dry-run plans, plan files, records new in the run)."""
    for field, (fk, id_col, key_col) in REFERENCES.items():
        if field not in FIELDS[entity_type]:
            continue
        if entity_type == "lesson" and field == "user_email":
            continue
        wanted = [c for c in changes if fk not in c.refs and c.after and field in c.after]
        if not wanted:
            continue
        found = ids_by(session, id_col, key_col, [c.after[field] for c in wanted if c.after])
        for change in wanted:
            assert change.after is not None
            value = change.after[field]
            if value not in found:
                from lms_core.errors import Conflict

                raise Conflict(
                    f"{change.entity_type} {change.key}: {field} {value} does not exist",
                    field=field,
                    value=value,
                )
            change.refs[fk] = found[value]


#: Per entity type, the import fields that are not copied to a column as they are.
_SPECIAL = {
    t: frozenset({"password", *_DATES, *(f for f in REFERENCES if f in FIELDS[t])}) for t in ORDER
}


def _columns(entity_type: str, values: dict[str, Any], refs: dict[str, int]) -> dict[str, Any]:
    special = _SPECIAL[entity_type]
    if special.isdisjoint(values):
        return dict(values)  # every users row without a password
    out: dict[str, Any] = {}
    for field, value in values.items():
        if field not in special:
            out[field] = value
        elif field in _DATES:
            out[field] = datetime.fromisoformat(value) if value else None
        elif field != "password":  # a reference: its foreign key
            fk = REFERENCES[field][0]
            out[fk] = refs[fk]
    return out


#: Columns that identify a new row, to match the ids RETURNING gives back (in any order:
#: asking SQLite for them in parameter order makes SQLAlchemy insert one row at a time).
NATURAL = {
    "user": ("email",),
    "course": ("slug",),
    "lesson": ("course_id", "slug"),
    "enrollment": ("student_id", "course_id"),
}


def _creates(session: Session, entity_type: str, changes: list[Change], now: datetime) -> None:
    table = MODELS[entity_type].__table__
    rows: list[dict[str, Any]] = []
    special = _SPECIAL[entity_type]
    for change in changes:
        after = change.after
        assert after is not None
        # Most rows have no reference, date or password: their values are the columns as
        # they are, read without a copy.
        rows.append(
            after if special.isdisjoint(after) else _columns(entity_type, after, change.refs)
        )
    # One column list for every row (a missing optional field is NULL); the same values for
    # every row go as constants (not bound, nor converted, row by row).
    columns = sorted(set().union(*rows))
    constants: dict[str, Any] = {**_CREATE_EXTRA[entity_type], "created_at": now, "updated_at": now}
    if entity_type == "enrollment":
        constants["enrolled_at"] = now
    data = [tuple(map(row.get, columns)) for row in rows]
    if entity_type == "user":
        # The hash (or None) of each row's password, as the last column.
        columns.append("password_hash")
        data = [(*values, change.secret) for values, change in zip(data, changes, strict=True)]
    ids = insert_rows(
        session,
        table,
        columns,
        data,
        constants=constants,
        natural=NATURAL[entity_type],
    )
    assert ids is not None
    for change, id_ in zip(changes, ids, strict=True):
        change.entity_id = id_


def _updates(session: Session, entity_type: str, changes: list[Change]) -> None:
    table = MODELS[entity_type].__table__
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        assert change.after is not None and change.entity_id is not None
        values = _columns(entity_type, change.after, change.refs)
        params = {f"v_{k}": v for k, v in values.items()}
        params["v_id"] = change.entity_id
        groups[tuple(sorted(values))].append(params)
    for columns, batch in groups.items():
        stmt = (
            update(table)
            .where(table.c.id == bindparam("v_id"))
            .values(
                {
                    **{c: bindparam(f"v_{c}") for c in columns},
                    "updated_at": func.current_timestamp(),
                }
            )
        )
        session.execute(stmt, batch)


def write_changes(session: Session, changes: Iterable[Change], *, now: datetime) -> list[Change]:
    """Apply every writing change, parents first; returns them with ``entity_id`` set."""
    by_type: dict[str, list[Change]] = defaultdict(list)
    for change in changes:
        if change.action in WRITING:
            by_type[change.entity_type].append(change)
    written: list[Change] = []
    for entity_type in ORDER:
        todo = by_type.get(entity_type, [])
        if not todo:
            continue
        _resolve_refs(session, entity_type, todo)
        creates = [c for c in todo if c.action == CREATE]
        if creates:
            _creates(session, entity_type, creates, now)
        others = [c for c in todo if c.action != CREATE]
        if others:
            _updates(session, entity_type, others)
        written.extend(todo)
    return written


def write_ledger(session: Session, run_id: int, changes: list[Change]) -> None:
    """One ImportChange per written record, inserted in bulk."""
    if not changes:
        return
    insert_rows(
        session,
        ImportChange.__table__,  # type: ignore[arg-type]
        ("entity_type", "entity_id", "key", "action", "before", "after"),
        [(c.entity_type, c.entity_id, c.key[:500], c.action, c.before, c.after) for c in changes],
        constants={"run_id": run_id},
    )
