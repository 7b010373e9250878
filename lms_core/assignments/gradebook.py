"""The gradebook: one row per learner of a course with every grade, the course total, progress.

Columns: ``email, full_name``, one per quiz (its final score in %, by the quiz's grading
method, see :mod:`lms_core.quizzes.final_scores`), one per assignment (the final points, after
the late penalty), then ``total, progress_percentage, status, completed_at``.

The course total (also the grade that certificate eligibility compares with
``courses.certificate_min_grade``) is the plain mean, in %, of the course's *graded items*:
every graded (not practice) published quiz, as its final score, and every assignment, as
final points / max points. Every item weighs the same, and an item the learner has no grade for
(not attempted, not submitted, not graded yet) counts 0: a total is what the learner has earned
of everything the course grades. A course without graded items has no total (empty).

A grade the learner does not have (not attempted, not submitted, submitted and not graded
yet) is None: an empty cell, ``null`` in JSON, never 0.0.

Set-based, for courses with hundreds of thousands of learners: one SQL statement computes every
row (:func:`_query`): the attempts of the course's quizzes are aggregated per enrollment and
the graded submissions per learner (``GROUP BY``, one pass each), the grading methods, the late
penalty and the total are SQL expressions. Everything is computed in whole hundredths with
integer arithmetic (``floor((2a + b) / 2b)`` rounds ``a / b`` half up), so SQLite's floats
never decide a rounding and both databases give exactly what ``Decimal`` gives; the statement
is also what certificate eligibility reads (:func:`course_grades`). Rows stream from the
driver's cursor (server-side on PostgreSQL) ``CHUNK`` at a time: CSV is written a chunk at a
time with its text cells made formula-safe by the database (no Python per cell), XLSX through
openpyxl's write-only mode, JSON one object a line. Every text cell is formula-safe.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import IO, Any, BinaryIO, cast

from sqlalchemy import Connection, TextClause, bindparam, select, text
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.errors import ValidationError
from lms_core.formats import tabular
from lms_core.formats.output import csv_writer
from lms_core.formats.safe_cells import TRIGGERS, safe_cell
from lms_core.models import (
    Assignment,
    AttemptStatus,
    EnrollmentStatus,
    GradingMethod,
    Lesson,
    Quiz,
    QuizType,
)
from lms_core.models.base import UtcDateTime
from lms_core.permissions import require_course_manager

CENT = Decimal("0.01")
HUNDRED = Decimal("100")
CHUNK = 1000
FORMATS = ("csv", "xlsx", "json")


@dataclass(frozen=True)
class GradeItem:
    kind: str  # "quiz" or "assignment"
    id: int
    column: str
    #: Counts in the course total (graded published quizzes, every assignment).
    counted: bool
    max_points: Decimal = HUNDRED
    late_penalty_percent: Decimal = Decimal(0)
    grading_method: str = GradingMethod.highest.value

    @property
    def max_cents(self) -> int:
        return _cents(self.max_points)


def course_items(session: Session, course_id: int) -> list[GradeItem]:
    """The course's quizzes (lesson order) then assignments (due date order), columns unique."""
    items: list[GradeItem] = []
    seen: dict[str, int] = {}

    def column(title: str, suffix: str) -> str:
        name = f"{title} ({suffix})"
        seen[name] = seen.get(name, 0) + 1
        return name if seen[name] == 1 else f"{name} #{seen[name]}"

    for quiz in session.scalars(
        select(Quiz)
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .where(Lesson.course_id == course_id)
        .order_by(Lesson.order_index, Quiz.id)
    ):
        counted = quiz.quiz_type == QuizType.graded.value and quiz.is_published
        items.append(
            GradeItem(
                "quiz",
                quiz.id,
                column(quiz.title, "%"),
                counted,
                grading_method=quiz.grading_method,
            )
        )
    for a in session.scalars(
        select(Assignment)
        .where(Assignment.course_id == course_id)
        .order_by(Assignment.due_date.is_(None), Assignment.due_date, Assignment.id)
    ):
        items.append(
            GradeItem(
                "assignment",
                a.id,
                column(a.title, f"/{a.max_points.normalize():f}"),
                True,
                a.max_points,
                a.late_penalty_percent,
            )
        )
    return items


def _cents(value: Decimal) -> int:
    """A two-decimal amount in whole hundredths."""
    return int((value * HUNDRED).to_integral_value(rounding=ROUND_HALF_UP))


#: SQL for a two-decimal column in whole hundredths (every grade is computed in integers, so
#: that SQLite's floating point never decides a rounding: 62.665 rounds up, as in Decimal).
_CENTS_SQL = "CAST(ROUND({} * 100) AS BIGINT)"
#: latest/first: MAX/MIN over ``number * _KEY + score`` picks the score of that attempt.
_KEY = 1_000_000
#: Above this (counted items x common denominator) a total could overflow a 64-bit integer in
#: SQL (scores <= 100.00, points <= max points): Python then computes the totals.
_SQL_TOTAL_LIMIT = 10**13


def _quiz_sql(index: int, item: GradeItem) -> str:
    """The final score of one quiz, in hundredths of %, aggregated per enrollment."""
    quiz, score = int(item.id), _CENTS_SQL.format("score")
    when = f"CASE WHEN quiz_id = {quiz} THEN {score} END"
    if item.grading_method in (GradingMethod.latest.value, GradingMethod.first.value):
        pick = "MAX" if item.grading_method == GradingMethod.latest.value else "MIN"
        keyed = f"CASE WHEN quiz_id = {quiz} THEN CAST(number AS BIGINT) * {_KEY} + {score} END"
        expr = f"{pick}({keyed}) % {_KEY}"
    elif item.grading_method == GradingMethod.average.value:
        # The mean rounded half up to a hundredth: floor((2 * sum + n) / (2 * n)).
        expr = f"(2 * CAST(SUM({when}) AS BIGINT) + COUNT({when})) / NULLIF(2 * COUNT({when}), 0)"
    else:
        expr = f"MAX({when})"
    return f"{expr} AS i{index}"


def _assignment_sql(index: int, item: GradeItem) -> str:
    """The final points of one assignment, in hundredths, after the late penalty."""
    grade, per_day = _CENTS_SQL.format("grade"), _cents(item.late_penalty_percent)
    if per_day == 0:
        final = grade
    else:
        # penalty (hundredths of %) = min(100 %, days late x % a day); final rounded half up.
        late = f"CAST(days_late AS BIGINT) * {per_day}"
        penalty = f"CASE WHEN {late} > 10000 THEN 10000 ELSE {late} END"
        final = f"(2 * {grade} * (10000 - {penalty}) + 10000) / 20000"
    return f"MAX(CASE WHEN assignment_id = {int(item.id)} THEN {final} END) AS i{index}"


@dataclass(frozen=True)
class _Plan:
    """The one query that computes a course's gradebook, and how to read its rows."""

    items: Sequence[GradeItem]
    #: True: the total is computed in SQL; False: in Python (see _SQL_TOTAL_LIMIT).
    total_in_sql: bool
    #: SQL of the total in hundredths of %, over the item columns; "NULL" with nothing counted.
    total_sql: str

    def total_cents(self, values: Sequence[int | None]) -> int | None:
        """The total in Python, exactly as ``total_sql`` (for courses beyond the SQL limit)."""
        counted = [(i, v) for i, v in zip(self.items, values, strict=True) if i.counted]
        if not counted:
            return None
        points = Fraction(0)
        for item, value in counted:
            if value is not None:
                points += value if item.kind == "quiz" else Fraction(value * 10000, item.max_cents)
        return math.floor(points / len(counted) + Fraction(1, 2))


def _plan(items: Sequence[GradeItem]) -> _Plan:
    """The total: the mean of the counted items' %, a missing grade counting 0, rounded half
    up to a hundredth. In integers: with D the least common multiple of the counted
    assignments' max points (in hundredths), a quiz adds ``score x D`` and an assignment
    ``points x 10000 x D / max``; the total is ``floor((2 x sum + n x D) / (2 x n x D))``."""
    counted = [(k, i) for k, i in enumerate(items) if i.counted]
    if not counted:
        return _Plan(items, True, "NULL")
    common = math.lcm(*(i.max_cents for _, i in counted if i.kind == "assignment"))
    n = len(counted)
    terms = [
        f"COALESCE(i{k}, 0) * {common if i.kind == 'quiz' else 10000 * common // i.max_cents}"
        for k, i in counted
    ]
    in_sql = n * common <= _SQL_TOTAL_LIMIT
    return _Plan(items, in_sql, f"(2 * ({' + '.join(terms)}) + {n * common}) / {2 * n * common}")


def _safe_sql(column: str) -> str:
    """``safe_cell`` in SQL: an apostrophe before text that a spreadsheet would run."""
    triggers = ", ".join(f":t{n}" for n in range(len(TRIGGERS)))  # bound as parameters
    return (
        f"CASE WHEN substr({column}, 1, 1) IN ({triggers}) THEN '''' || {column} ELSE {column} END"
    )


def _query(
    plan: _Plan, columns: str, *, course_id: int, safe: bool, only: bool
) -> tuple[TextClause, dict[str, Any]]:
    """``SELECT columns`` over one row per learner (dropped ones left out), in enrollment order.

    ``columns`` may name ``e.*``, ``u.*``, the item columns ``i0, i1, ...`` (hundredths) and
    ``{total}``; ``only``: restricted to the enrollment ids bound as ``ids``. Every value the
    query computes is from integers of the database (ids, hundredths), never from user text.
    """
    quizzes = [(k, i) for k, i in enumerate(plan.items) if i.kind == "quiz"]
    assignments = [(k, i) for k, i in enumerate(plan.items) if i.kind == "assignment"]
    joins = []
    if quizzes:
        ids = ", ".join(str(int(i.id)) for _, i in quizzes)
        scope = " AND enrollment_id IN :ids" if only else ""
        aggregates = ", ".join(_quiz_sql(k, i) for k, i in quizzes)
        joins.append(
            f"LEFT JOIN (SELECT enrollment_id, {aggregates} "  # noqa: S608 - integers only
            f"FROM attempts WHERE quiz_id IN ({ids}) AND status = :graded "
            f"AND score IS NOT NULL{scope} GROUP BY enrollment_id) qa ON qa.enrollment_id = e.id"
        )
    if assignments:
        ids = ", ".join(str(int(i.id)) for _, i in assignments)
        scope = " AND student_id IN (SELECT student_id FROM enrollments WHERE id IN :ids)"
        aggregates = ", ".join(_assignment_sql(k, i) for k, i in assignments)
        joins.append(
            f"LEFT JOIN (SELECT student_id, {aggregates} FROM submissions "  # noqa: S608 - as above
            f"WHERE assignment_id IN ({ids}) AND grade IS NOT NULL{scope if only else ''} "
            "GROUP BY student_id) sa ON sa.student_id = e.student_id"
        )
    sql = (
        f"SELECT {columns.format(total=plan.total_sql)} "  # noqa: S608 - as above
        "FROM enrollments e JOIN users u ON u.id = e.student_id "
        f"{' '.join(joins)} WHERE e.course_id = :course AND e.status <> :dropped"
        f"{' AND e.id IN :ids' if only else ''} ORDER BY e.id"
    )
    params: dict[str, Any] = {
        "course": course_id,
        "graded": AttemptStatus.graded.value,
        "dropped": EnrollmentStatus.dropped.value,
    }
    if safe:
        params.update({f"t{n}": t for n, t in enumerate(TRIGGERS)})
    stmt = text(sql)
    if only:
        stmt = stmt.bindparams(bindparam("ids", expanding=True))
    return stmt, params


def course_grades(
    session: Session, course_id: int, enrollment_ids: Sequence[int]
) -> dict[int, Decimal | None]:
    """Each enrollment's course total, IN-chunked (certificate eligibility uses it): the
    gradebook's own query, so the two can never disagree."""
    plan = _plan(course_items(session, course_id))
    items = ", ".join(f"i{k}" for k in range(len(plan.items)))
    columns = "e.id, " + ("{total}" if plan.total_in_sql else items or "NULL")
    grades: dict[int, Decimal | None] = {}
    ids = list(enrollment_ids)
    connection = session.connection()
    for start in range(0, len(ids), CHUNK):
        stmt, params = _query(plan, columns, course_id=course_id, safe=False, only=True)
        rows = connection.execute(stmt, {**params, "ids": ids[start : start + CHUNK]})
        for eid, *values in rows:
            cents = values[0] if plan.total_in_sql else plan.total_cents(values)
            grades[eid] = None if cents is None else (Decimal(int(cents)) / HUNDRED).quantize(CENT)
    return grades


def learner_count(session: Session, course_slug: str) -> int:
    """How many rows the gradebook of a course has (for a progress bar)."""
    from lms_core.assignments.assignments import enrolled_count  # its files, forms: not needed

    return enrolled_count(session, get_course(session, course_slug).id)


def has_graded_items(session: Session, course_id: int) -> bool:
    return any(i.counted for i in course_items(session, course_id))


def gradebook(
    session: Session,
    *,
    actor: Actor,
    course_slug: str,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
    safe: bool = False,
) -> tuple[list[str], Iterator[Sequence[Any]]]:
    """The header and a lazy iterator of rows: text, floats (None where there is no grade:
    not attempted, not submitted, or submitted and not graded yet), ``completed_at`` in ISO
    8601. ``safe``: text cells made formula-safe (by the database, for the CSV writer).

    One query computes every grade (see the module's docstring); rows stream ``chunk`` at a
    time, and ``progress(rows_read)`` is called after each chunk.
    """
    header, parts = gradebook_chunks(
        session, actor=actor, course_slug=course_slug, chunk=chunk, progress=progress, safe=safe
    )
    return header, itertools.chain.from_iterable(parts)


def gradebook_chunks(
    session: Session,
    *,
    actor: Actor,
    course_slug: str,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
    safe: bool = False,
) -> tuple[list[str], Iterator[list[Sequence[Any]]]]:
    """:func:`gradebook`, its rows in lists of up to ``chunk`` (the CSV writer takes a list
    at a time: no Python work per row or per cell)."""
    course = get_course(session, course_slug)
    require_course_manager(actor, course, "export its gradebook")
    plan = _plan(course_items(session, course.id))
    header = [
        "email",
        "full_name",
        *(i.column for i in plan.items),
        "total",
        "progress_percentage",
        "status",
        "completed_at",
    ]
    real = "CAST({} AS DOUBLE PRECISION) / 100"
    items = [f"i{k}" for k in range(len(plan.items))]
    in_sql = plan.total_in_sql
    columns = ", ".join(
        [
            _safe_sql("u.email") if safe else "u.email",
            _safe_sql("u.full_name") if safe else "u.full_name",
            *(real.format(i) for i in items),
            real.format("{total}") if in_sql else "NULL",
            "CAST(e.progress_percentage AS DOUBLE PRECISION)",
            "e.status",
            "e.completed_at",
            *(() if in_sql else items),  # the hundredths, for the total in Python
        ]
    )
    stmt, params = _query(plan, columns, course_id=course.id, safe=safe, only=False)
    width = len(header)

    def fixed(part: list[Any]) -> list[Sequence[Any]]:
        """Totals beyond the SQL limit, and completed_at in ISO 8601 (a few rows have one)."""
        if not in_sql:
            part = [
                (
                    *row[: width - 4],
                    _percent(plan.total_cents(row[width:])),
                    *row[width - 3 : width],
                )
                for row in part
            ]
        last = width - 1
        return [row if row[last] is None else _completed(row, last, when) for row in part]

    connection = session.connection()
    # The driver's value (SQLite: text) as the model reads it: an aware datetime in UTC.
    when = UtcDateTime().dialect_impl(connection.dialect).result_processor(connection.dialect, None)
    return header, (fixed(part) for part in _fetch(connection, stmt, params, chunk, progress))


def _percent(cents: int | None) -> float | None:
    return None if cents is None else cents / 100


def _completed(row: Sequence[Any], last: int, when: Callable[[Any], Any] | None) -> tuple[Any, ...]:
    at = when(row[last]) if when is not None else row[last]
    return (*row[:last], at.isoformat())


def _fetch(
    connection: Connection,
    stmt: TextClause,
    params: dict[str, Any],
    chunk: int,
    progress: Callable[[int], None] | None,
) -> Iterator[list[Any]]:
    """The query's rows, ``chunk`` at a time, straight from the driver's cursor (a server-side
    cursor on PostgreSQL, so memory stays flat): the values are plain numbers and text, so
    SQLAlchemy's result rows would only add their cost per row. Same connection, same
    transaction as the session."""
    compiled = stmt.compile(dialect=connection.dialect)
    bound = compiled.construct_params(params)
    positions = compiled.positiontup or []
    args: Any = [bound[name] for name in positions] if compiled.positional else bound
    driver: Any = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        cursor = driver.cursor(name=f"gradebook_{id(compiled):x}")
        cursor.itersize = chunk
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(str(compiled), args)
        done = 0
        while part := cursor.fetchmany(chunk):
            done += len(part)
            if progress is not None:
                progress(done)
            yield part
    finally:
        cursor.close()


def write_csv(header: Sequence[str], parts: Iterable[list[Sequence[Any]]], out: IO[str]) -> int:
    """Lists of rows from ``gradebook_chunks(..., safe=True)`` as CSV: no Python per cell."""
    writer = csv_writer(out)
    writer.writerow([safe_cell(h) for h in header])
    count = 0
    for part in parts:
        writer.writerows(part)
        count += len(part)
    return count


def write_json(header: Sequence[str], rows: Iterable[Sequence[Any]], out: IO[str]) -> int:
    """A JSON array of one object per learner, keyed by the header; no grade is null."""
    count = 0
    out.write("[")
    for row in rows:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def write_xlsx(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    out: IO[bytes],
    *,
    title: str = "gradebook",
) -> int:
    """One sheet, header bold and frozen, text cells formula-safe, no grade an empty cell."""
    safe = [safe_cell(h) for h in header]  # titles are the course's: a header cell is text too
    [count] = tabular.write_xlsx(cast(BinaryIO, out), [tabular.Sheet(title[:31], safe, rows)])
    return count


def export_gradebook(
    session: Session,
    *,
    actor: Actor,
    course_slug: str,
    fmt: str,
    out: IO[Any],
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the course's gradebook as CSV or JSON (text stream) or XLSX (binary stream);
    returns the rows written. ``progress(rows_read)`` is called after each chunk of learners.
    """
    if fmt not in FORMATS:
        raise ValidationError(f"must be {', '.join(FORMATS)}", field="format", value=fmt)
    if fmt == "csv":
        header, parts = gradebook_chunks(
            session, actor=actor, course_slug=course_slug, chunk=chunk, progress=progress, safe=True
        )
        return write_csv(header, parts, out)
    header, rows = gradebook(
        session, actor=actor, course_slug=course_slug, chunk=chunk, progress=progress
    )
    if fmt == "json":
        return write_json(header, rows, out)
    return write_xlsx(header, rows, out)
