"""A list page's rows as plain records: the listed columns only, no ORM rows.

Loading 50 ORM rows with their joined relations (every column of each, an identity map
entry, instrumented attributes) cost more than running the page's SQL. A view that sets
``list_columns_only`` (its formatters read listed columns and the key only) gets records
instead; the query is still the view's own (scope, search, filters, sort, paging).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select


class RecordLoader:
    """The rows of a ``list_columns_only`` view as plain records, not ORM rows.

    The page's query (Flask-Admin's, with scope, search, filters, sort and paging) selects
    the row's listed columns and the keys of its listed many-to-one relations; then one
    ``IN`` query per relation reads the listed columns of the related rows. No identity
    map, no entity per row and relation, a constant number of statements. The record has
    the attributes a formatter reads: ``record.email``, ``record.student.email``, the key.
    """

    def __init__(self, view: Any) -> None:
        cls = view.model
        mapper = cls.__mapper__
        pk = mapper.primary_key[0].key
        self.columns: list[Any] = [getattr(cls, pk)]
        self.names: list[str] = [pk]
        #: relation name -> (its key's position in ``columns``, related key, listed columns)
        self.related: dict[str, tuple[int, Any, list[Any]]] = {}
        for name, _label in view._list_columns:
            head, _, tail = name.partition(".")
            if tail and head in mapper.relationships:
                relation = mapper.relationships[head]
                if relation.direction.name != "MANYTOONE" or len(relation.local_columns) != 1:
                    raise NotImplementedError(f"{view.endpoint}: {name} is not many-to-one")
                if head not in self.related:
                    (local,) = relation.local_columns
                    target = relation.mapper
                    self.columns.append(local)
                    self.names.append("")
                    key = target.primary_key[0]
                    self.related[head] = (len(self.columns) - 1, key, [key])
                self.related[head][2].append(getattr(relation.mapper.class_, tail))
            elif not tail and head in mapper.column_attrs and head != pk:
                self.columns.append(getattr(cls, head))
                self.names.append(head)
        #: Per relation, its rows' statement, made once: an expanding ``IN`` parameter (a
        #: list of 50 literals coerced per request cost more than running the statement).
        self.related_sql = {
            head: select(*columns).where(key.in_(bindparam("keys", expanding=True)))
            for head, (_at, key, columns) in self.related.items()
        }
        # Flask-Admin would add a joined load of each listed relation: not wanted here.
        view._auto_joins = []

    def load(self, query: Any) -> list[Any]:
        # Run as Core on the session's connection: rows of columns need no ORM loading.
        rows = (
            query.session.connection().execute(query.with_entities(*self.columns).statement).all()
        )
        names = self.names
        records = [
            SimpleNamespace(**{n: v for n, v in zip(names, row, strict=True) if n}) for row in rows
        ]
        for head, (at, _key, columns) in self.related.items():
            wanted = {row[at] for row in rows if row[at] is not None}
            found: dict[Any, Any] = {}
            if wanted:
                fields = [c.key for c in columns]
                rows_of = query.session.connection().execute(
                    self.related_sql[head], {"keys": sorted(wanted)}
                )
                for values in rows_of:
                    found[values[0]] = SimpleNamespace(**dict(zip(fields, values, strict=True)))
            for record, row in zip(records, rows, strict=True):
                setattr(record, head, found.get(row[at]))
        return records
