"""Bulk INSERT straight to the driver: the import's hot path at 100k+ rows.

SQLAlchemy's Core ``insert`` with a list of dicts costs ~8 µs a row in parameter handling
before the driver sees it (measured: more than the insert itself on SQLite), and asking for
ids in parameter order makes it insert SQLite rows one statement at a time. Here the
column types' bind processors are looked up once, rows go to the driver as tuples (SQLite
``executemany``; PostgreSQL psycopg2 ``execute_values``, a multi-row VALUES per page), and
new ids come back without a query per row. Other drivers fall back to Core ``insert``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import JSON, Table, insert, select
from sqlalchemy.orm import Session

Processor = Callable[[Any], Any] | None
PAGE = 1000


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_text(value: Any) -> str:
    """``value`` as JSON text, as the JSON columns store it, with orjson (the ledger's
    before/after of 100k records took 0.9 s with ``json.dumps``)."""
    return orjson.dumps(value, default=_default).decode()


def _processor(table: Table, column: str, dialect: Any) -> Processor:
    if isinstance(table.c[column].type, JSON):
        return json_text
    return table.c[column].type.dialect_impl(dialect).bind_processor(dialect)


_NO_MEMO = object()


def _of_none(processor: Callable[[Any], Any]) -> Any:
    """What ``processor`` makes of None, computed once: a ledger's ``before`` is None for
    every create, and a JSON column serialises it to ``"null"`` anew each time otherwise."""
    try:
        return processor(None)
    except Exception:  # a processor that refuses None keeps being called
        return _NO_MEMO


def insert_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    constants: dict[str, Any] | None = None,
    natural: Sequence[str] = (),
) -> list[int] | None:
    """Insert ``rows`` (tuples in ``columns`` order) plus ``constants`` on every row.

    With ``natural`` (the columns that identify a new row, among ``columns``), returns the
    new ids in the order of ``rows``.
    """
    if not rows:
        return [] if natural else None
    conn = session.connection()
    dialect = conn.dialect
    constants = constants or {}
    names = [*columns, *constants]
    procs = [_processor(table, c, dialect) for c in columns]
    fixed = tuple(
        (p(v) if (p := _processor(table, c, dialect)) else v) for c, v in constants.items()
    )
    active = [(i, p, _of_none(p)) for i, p in enumerate(procs) if p is not None]
    data: list[tuple[Any, ...]] = []
    for row in rows:
        if active:
            values = list(row)
            for i, p, none in active:
                value = values[i]
                values[i] = p(value) if value is not None or none is _NO_MEMO else none
            data.append((*values, *fixed))
        else:
            data.append((*row, *fixed))
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    target = dialect.identifier_preparer.format_table(table)
    if dialect.name == "sqlite":
        marks = ", ".join("?" for _ in names)
        conn.exec_driver_sql(f"INSERT INTO {target} ({quoted}) VALUES ({marks})", data)  # noqa: S608
        if not natural:
            return None
        return _sqlite_ids(session, table, columns, rows, natural)
    if dialect.name == "postgresql" and dialect.driver == "psycopg2":
        from psycopg2.extras import execute_values

        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            sql = f"INSERT INTO {target} ({quoted}) VALUES %s"  # noqa: S608
            if not natural:
                execute_values(cursor, sql, data, page_size=PAGE)
                return None
            key_cols = ", ".join(dialect.identifier_preparer.quote(n) for n in natural)
            returned = execute_values(
                cursor, f"{sql} RETURNING id, {key_cols}", data, page_size=PAGE, fetch=True
            )
        finally:
            cursor.close()
        by_key = {tuple(r[1:]): r[0] for r in returned}
        index = [columns.index(n) for n in natural]
        return [by_key[tuple(data[i][j] for j in index)] for i in range(len(rows))]
    stmt = insert(table).values(**constants)
    dicts = [dict(zip(columns, row, strict=True)) for row in rows]
    if not natural:
        session.execute(stmt, dicts)
        return None
    result = session.execute(stmt.returning(table.c.id, *(table.c[n] for n in natural)), dicts)
    found = {tuple(r[1:]): r[0] for r in result}
    index = [columns.index(n) for n in natural]
    return [found[tuple(row[j] for j in index)] for row in rows]


def _sqlite_ids(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    natural: Sequence[str],
) -> list[int]:
    """SQLite gives a new row the largest rowid + 1: an executemany's rows are consecutive.

    That holds inside our write-locked transaction (nobody else inserts meanwhile); the
    first and last rows are checked against their natural key all the same, and any
    mismatch falls back to looking every id up.
    """
    conn = session.connection()
    last = int(conn.exec_driver_sql("SELECT last_insert_rowid()").scalar() or 0)
    first = last - len(rows) + 1
    index = [columns.index(n) for n in natural]
    cols = [table.c[n] for n in natural]
    ends = {
        r[0]: tuple(r[1:])
        for r in session.execute(select(table.c.id, *cols).where(table.c.id.in_([first, last])))
    }
    if ends.get(first) == tuple(rows[0][j] for j in index) and ends.get(last) == tuple(
        rows[-1][j] for j in index
    ):
        return list(range(first, last + 1))
    found: dict[tuple[Any, ...], int] = {}
    for start in range(0, len(rows), 500):
        batch = rows[start : start + 500]
        if len(natural) == 1:
            stmt = select(table.c.id, cols[0]).where(cols[0].in_([r[index[0]] for r in batch]))
        else:
            from sqlalchemy import tuple_

            keys = [tuple(r[j] for j in index) for r in batch]
            stmt = select(table.c.id, *cols).where(tuple_(*cols).in_(keys))
        found.update({tuple(r[1:]): r[0] for r in session.execute(stmt)})
    return [found[tuple(r[j] for j in index)] for r in rows]
