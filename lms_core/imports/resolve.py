"""Look records up in the database, a chunk of keys at a time (never a query per row).

Every lookup returns the records' *import fields* (our column names, JSON-ready values), the
shape that plans, the ledger and undo compare, plus the ids and states the rules need.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session, aliased

from lms_core.accounts.fields import USER
from lms_core.catalog.fields import COURSE, LESSON
from lms_core.imports.plan.changes import jsonable
from lms_core.models import Course, Enrollment, Lesson, User

#: Values in one ``IN (...)``: well under SQLite's and PostgreSQL's parameter limits.
IN_CHUNK = 1000

#: The fields an import reads and writes, per entity type, in our column names: the exported
#: columns of the field specs (never ``password``). Enrollments are written by the enrollment
#: rules (status and its timestamps), not cell by cell, and name learner and course by key.
FIELDS: dict[str, tuple[str, ...]] = {
    "user": USER.exported_columns(),
    "course": COURSE.exported_columns(),
    "lesson": LESSON.exported_columns(),
    "enrollment": ("user_email", "course_slug", "status", "dropped_at", "completed_at"),
}
MODELS: dict[str, Any] = {
    "user": User,
    "course": Course,
    "lesson": Lesson,
    "enrollment": Enrollment,
}


def chunks(values: Iterable[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _marks(conn: Connection, n: int) -> str:
    return ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * n)


def _fetch(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """All rows of one driver query, as the driver's tuples (no SQLAlchemy rows)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def driver_rows(session: Session, sql: str, values: Iterable[Any]) -> Iterator[Sequence[Any]]:
    """Rows of ``sql``, which ends in ``IN``, for ``values`` (``IN``-chunked): driver tuples.

    For the import's hot lookups of plain columns (ids, strings, flags): SQLAlchemy's
    statement building, ``IN`` expansion and result rows cost more than the queries
    (measured: a third of planning an enrollments chunk). Values come as the driver gives
    them (SQLite booleans are 0/1, timestamps text): callers read only ids, strings, flags.
    """
    session.flush()  # as session.execute would (the connection does not autoflush)
    conn = session.connection()
    for batch in chunks(values):
        yield from _fetch(conn, f"{sql} ({_marks(conn, len(batch))})", tuple(batch))


def field_columns(model: Any, names: Iterable[str], derived: dict[str, Any]) -> list[Any]:
    """The SQL columns of the named fields: the model's own, or ``derived`` ones (labelled)."""
    return [derived[n].label(n) if n in derived else getattr(model, n) for n in names]


def base_select(entity_type: str) -> Any:
    """``id``, the import fields and the extras the rules need, for one entity type."""
    if entity_type == "user":
        return select(User.id, *field_columns(User, FIELDS["user"], {}), User.deleted_at)
    if entity_type == "course":
        instructor = aliased(User)
        columns = field_columns(Course, FIELDS["course"], {"instructor_email": instructor.email})
        return select(Course.id, *columns, Course.instructor_id).join(
            instructor, instructor.id == Course.instructor_id
        )
    if entity_type == "lesson":
        columns = field_columns(Lesson, FIELDS["lesson"], {"course_slug": Course.slug})
        return select(Lesson.id, *columns, Lesson.course_id).join(
            Course, Course.id == Lesson.course_id
        )
    if entity_type == "enrollment":
        derived = {"user_email": User.email, "course_slug": Course.slug}
        columns = field_columns(Enrollment, FIELDS["enrollment"], derived)
        return (
            select(Enrollment.id, *columns, Enrollment.student_id, Enrollment.course_id)
            .join(User, User.id == Enrollment.student_id)
            .join(Course, Course.id == Enrollment.course_id)
        )
    raise ValueError(entity_type)


#: Columns holding timestamps (made JSON-ready); the others are compared as they come.
_TIMESTAMPS = frozenset({"deleted_at", "dropped_at", "completed_at"})


#: A lookup's SQL split around its ``IN`` list, its column names and result processors.
_Compiled = tuple[str, str, list[str], list[tuple[int, Any]]]
_COMPILED: dict[tuple[str, str, str], _Compiled] = {}


def _compiled(conn: Connection, entity_type: str, column: Any) -> _Compiled:
    """``base_select`` + ``column IN (...)`` compiled once per dialect, for driver queries.

    The result processors are the column types' own (SQLite booleans and timestamps), so the
    records are what ``session.execute`` of the statement gives.
    """
    dialect = conn.dialect
    key = (entity_type, str(column), dialect.name)
    found = _COMPILED.get(key)
    if found is None:
        stmt = base_select(entity_type).where(column.in_(bindparam("keys", expanding=True)))
        head, tail = str(stmt.compile(dialect=dialect)).split("__[POSTCOMPILE_keys]")
        procs = [
            (i, p)
            for i, c in enumerate(stmt.selected_columns)
            if (p := c.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        ]
        found = _COMPILED[key] = (head, tail, list(stmt.selected_columns.keys()), procs)
    return found


def lookup(
    session: Session, entity_type: str, column: Any, values: Iterable[Any]
) -> list[dict[str, Any]]:
    """Records whose ``column`` is among ``values``, ``IN``-chunked.

    One statement compiled once, run as driver queries: building and expanding a new
    ``IN`` clause per batch through the ORM cost more than the queries (measured: half
    of planning a users chunk).
    """
    wanted = set(values)
    if not wanted:
        return []
    session.flush()  # as session.execute would (the connection does not autoflush)
    conn = session.connection()
    head, tail, keys, procs = _compiled(conn, entity_type, column)
    stamps = [i for i, k in enumerate(keys) if k in _TIMESTAMPS]
    found: list[dict[str, Any]] = []
    for batch in chunks(wanted):
        for raw in _fetch(conn, f"{head}{_marks(conn, len(batch))}{tail}", tuple(batch)):
            row = list(raw)
            for i, process in procs:
                row[i] = process(row[i])
            record = dict(zip(keys, row, strict=True))
            for i in stamps:
                if row[i] is not None:
                    record[keys[i]] = jsonable(row[i])
            found.append(record)
    return found


def by_ids(session: Session, entity_type: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    model = MODELS[entity_type]
    return {r["id"]: r for r in lookup(session, entity_type, model.id, ids)}


def ids_by(session: Session, column: Any, key_column: Any, values: Sequence[Any]) -> dict[Any, int]:
    """``{key: id}`` for the given keys (e.g. user e-mails to ids), ``IN``-chunked."""
    out: dict[Any, int] = {}
    for batch in chunks(set(values)):
        for key, id_ in session.execute(select(key_column, column).where(key_column.in_(batch))):
            out[key] = id_
    return out
