"""Look records up in the database, a chunk of keys at a time (never a query per row).

Every lookup returns the records' *import fields* (our column names, JSON-ready values), the
shape that plans, the ledger and undo compare, plus the ids and states the rules need.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select
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


def lookup(
    session: Session, entity_type: str, column: Any, values: Iterable[Any]
) -> list[dict[str, Any]]:
    """Records whose ``column`` is among ``values``, ``IN``-chunked."""
    stmt = base_select(entity_type)
    found: list[dict[str, Any]] = []
    for batch in chunks(set(values)):
        result = session.execute(stmt.where(column.in_(batch)))
        keys = list(result.keys())
        stamps = [i for i, k in enumerate(keys) if k in _TIMESTAMPS]
        for row in result:
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
