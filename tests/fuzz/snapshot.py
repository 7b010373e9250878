"""``db_snapshot``: every row of every table, reduced to a count and a hash per table.

A fuzz case that is refused must leave the database exactly as it found it; comparing two
snapshots says so in one ``==`` and, when it does not hold, names the tables that changed.
Rows are read in primary-key order and hashed by their ``repr`` so the snapshot is the same on
SQLite and PostgreSQL for the same data, and cheap enough to take around every case.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator

from sqlalchemy import Connection, Engine, func, select

from lms_core.models import Base

Snapshot = dict[str, tuple[int, str]]


def db_snapshot(bind: Engine | Connection, *, skip: Iterable[str] = ()) -> Snapshot:
    """``{table: (row count, sha256 of the rows)}`` for every mapped table but ``skip``.

    Pass the test's ``Connection`` to see its uncommitted transaction, or an ``Engine`` for a
    database of a test's own.
    """
    skipped = set(skip)
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return db_snapshot(conn, skip=skipped)
    state: Snapshot = {}
    for table in Base.metadata.sorted_tables:
        if table.name in skipped:
            continue
        digest = hashlib.sha256()
        rows = 0
        for row in bind.execute(select(table).order_by(*table.primary_key.columns)):
            digest.update(repr(tuple(row)).encode())
            rows += 1
        state[table.name] = (rows, digest.hexdigest())
    return state


def row_count(bind: Connection, table: str) -> int:
    """Rows in one table, e.g. the import history that a refused run appends to."""
    return bind.scalar(select(func.count()).select_from(Base.metadata.tables[table])) or 0


#: C0 controls but tab, newline and carriage return; DEL; C1 controls. No text field holds them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def stored_controls(bind: Connection, *, skip: Iterable[str] = ()) -> list[str]:
    """``table.column = value`` for every stored text holding a control character (a NUL...).

    An accepted fuzz case must not have stored one: the issue asks that they be refused in
    every text field, identically on SQLite (which would keep them) and PostgreSQL.
    """
    skipped = set(skip)
    found = []
    for table in Base.metadata.sorted_tables:
        if table.name in skipped:
            continue
        for row in bind.execute(select(table)).mappings():
            for column, value in row.items():
                found += [
                    f"{table.name}.{column} = {text[:80]!r}"
                    for text in _texts(value)
                    if _CONTROL.search(text)
                ]
    return found


def _texts(value: object) -> Iterator[str]:
    """The strings in a column's value, JSON documents included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
