"""Partial unique indexes, declared without loading every database dialect at import.

``Index(..., sqlite_where=..., postgresql_where=...)`` makes SQLAlchemy load both dialects
when the model is defined, so every process pays for PostgreSQL's dialect (and its drivers'
modules) on SQLite and for SQLite's on PostgreSQL: a tenth of ``lmsctl users list``'s start
(bench/cli_start.py). Here the predicate rides in the index's ``info`` and is added to the
``CREATE INDEX`` statement when it is compiled, by then for the one dialect in use. Both
databases write a partial index the same way (``CREATE UNIQUE INDEX ... WHERE predicate``);
the migrations create these indexes themselves, this serves ``create_all``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Index
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex

_WHERE = "lms_partial_where"


def partial_unique_index(name: str, *columns: str, where: str) -> Index:
    """A unique index over the rows matching ``where`` (SQL, the same on SQLite and PostgreSQL)."""
    return Index(name, *columns, unique=True, info={_WHERE: where})


def partial_where(index: Index) -> str | None:
    """The predicate of an index made by :func:`partial_unique_index`; None for others."""
    where = index.info.get(_WHERE)
    return str(where) if where is not None else None


@compiles(CreateIndex)
def _create_partial_index(element: CreateIndex, compiler: Any, **kw: Any) -> str:
    sql: str = compiler.visit_create_index(element, **kw)
    where = partial_where(element.element) if isinstance(element.element, Index) else None
    return f"{sql} WHERE {where}" if where else sql
