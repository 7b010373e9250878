"""The few SQL expressions SQLite and PostgreSQL spell differently, written once per dialect.

Each is a SQLAlchemy construct compiled per dialect (``@compiles``), so a figure's query is
written once and gives the same values on both: timestamps are taken in UTC (PostgreSQL's
``timestamptz`` is moved to UTC before it is truncated; SQLite stores UTC text), weeks start on
Monday (ISO 8601), and numbers read from JSON are doubles on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, Float, String, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from lms_core.models.quizzes import AttemptStatus


class week_start(FunctionElement[str]):
    """The Monday of the timestamp's week, as ``YYYY-MM-DD`` text."""

    type = String()
    inherit_cache = True
    name = "week_start"


class week_key(FunctionElement[Any]):
    """The timestamp's week as a value to group by, cheap per row: PostgreSQL's truncated
    timestamp (``date_trunc`` only), SQLite's Monday text. :class:`week_label` names a group.

    A weekly series over a million rows spent most of its time in ``to_char`` on each row;
    grouped by this first, the text is made once per week."""

    inherit_cache = True
    name = "week_key"


class week_label(FunctionElement[str]):
    """A :class:`week_key` as the Monday's ``YYYY-MM-DD`` text (as :class:`week_start`)."""

    type = String()
    inherit_cache = True
    name = "week_label"


class month_of(FunctionElement[str]):
    """The timestamp's month, as ``YYYY-MM`` text."""

    type = String()
    inherit_cache = True
    name = "month_of"


class seconds_between(FunctionElement[float]):
    """``later - earlier`` in seconds, a double."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


class json_number(FunctionElement[float]):
    """``document[str(key)]`` as a double (NULL when absent); ``key`` is an integer column."""

    type = Float()
    inherit_cache = True
    name = "json_number"


class json_text(FunctionElement[str]):
    """``document[str(key)]`` as text: a number's digits, a string's text, a boolean as
    ``true``/``false``, a list as its JSON text (NULL when absent)."""

    type = String()
    inherit_cache = True
    name = "json_text"


class json_has(FunctionElement[bool]):
    """``document[str(key)]`` is there and not JSON ``null``: exactly when :class:`json_text`
    is not NULL, for a fraction of its cost (one look-up, no number check): the course's
    responses filtered on ``json_text(...) IS NOT NULL`` took 25 ms on PostgreSQL instead of
    10 (quick bench size), its text worked out for every answer twice."""

    type = Boolean()
    inherit_cache = True
    name = "json_has"


class json_option_text(FunctionElement[str]):
    """``document[index]["text"]``: an option's text in a question's ``options`` list; NULL
    when ``index`` (text) is not a plain non-negative integer or no such option exists."""

    type = String()
    inherit_cache = True
    name = "json_option_text"


def attempt_status(status: AttemptStatus) -> ColumnElement[str]:
    """An attempt status written into the SQL as a constant, not bound: for
    ``Attempt.status == attempt_status(AttemptStatus.graded)``.

    ``attempts.status`` is in the predicate of a partial index
    (``uq_attempts_one_in_progress``: ``status = 'in_progress'``), so SQLite prepares a
    statement comparing it with a bound value again on every run, in case the value makes
    the index usable: ~0.1 ms for the student's quizzes, whose query takes 0.05 ms."""
    return literal_column(f"'{status.value}'", String())


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses]


def _whole_seconds(at: str) -> str:
    """A SQLite timestamp (``YYYY-MM-DD HH:MM:SS.ffffff`` text, UTC) cut to whole seconds."""
    return f"substr({at}, 1, 19)"


@compiles(week_start, "postgresql")
def _week_pg(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    [at] = _args(element, compiler, **kw)
    return f"to_char(date_trunc('week', ({at}) AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


@compiles(week_start, "sqlite")
def _week_sqlite(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    [at] = _args(element, compiler, **kw)
    # 'weekday 0' moves to the next Sunday (or stays on one); six days back is that Monday.
    # Whole seconds first: SQLite's date functions round a fraction to the millisecond, which
    # moved Sunday 23:59:59.9996 into the next week (PostgreSQL truncates).
    return f"date({_whole_seconds(at)}, 'weekday 0', '-6 days')"


@compiles(week_key, "postgresql")
def _week_key_pg(element: week_key, compiler: SQLCompiler, **kw: Any) -> str:
    [at] = _args(element, compiler, **kw)
    return f"date_trunc('week', ({at}) AT TIME ZONE 'UTC')"


@compiles(week_key, "sqlite")
def _week_key_sqlite(element: week_key, compiler: SQLCompiler, **kw: Any) -> str:
    [at] = _args(element, compiler, **kw)
    return f"date({_whole_seconds(at)}, 'weekday 0', '-6 days')"


@compiles(week_label, "postgresql")
def _week_label_pg(element: week_label, compiler: SQLCompiler, **kw: Any) -> str:
    [key] = _args(element, compiler, **kw)
    return f"to_char({key}, 'YYYY-MM-DD')"


@compiles(week_label, "sqlite")
def _week_label_sqlite(element: week_label, compiler: SQLCompiler, **kw: Any) -> str:
    [key] = _args(element, compiler, **kw)
    return key


@compiles(month_of, "postgresql")
def _month_pg(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    [at] = _args(element, compiler, **kw)
    return f"to_char(({at}) AT TIME ZONE 'UTC', 'YYYY-MM')"


@compiles(month_of, "sqlite")
def _month_sqlite(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    [at] = _args(element, compiler, **kw)
    return f"strftime('%Y-%m', {_whole_seconds(at)})"


@compiles(seconds_between, "postgresql")
def _seconds_pg(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    return (
        f"CAST(EXTRACT(EPOCH FROM date_trunc('second', {later}) - date_trunc('second', "
        f"{earlier})) AS DOUBLE PRECISION)"
    )


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    # Whole seconds on both databases: julianday rounds a fraction to the millisecond, and
    # keeps about 10 microseconds of a double; the whole seconds come out alike.
    return (
        f"ROUND((julianday({_whole_seconds(later)}) - julianday({_whole_seconds(earlier)}))"
        " * 86400.0)"
    )


@compiles(json_number, "postgresql")
def _json_number_pg(element: json_number, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key = _args(element, compiler, **kw)
    return f"CAST(({doc}) ->> CAST({key} AS TEXT) AS DOUBLE PRECISION)"


@compiles(json_number, "sqlite")
def _json_number_sqlite(element: json_number, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key = _args(element, compiler, **kw)
    return f"CAST(json_extract({doc}, '$.\"' || ({key}) || '\"') AS REAL)"


@compiles(json_text, "postgresql")
def _json_text_pg(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key = _args(element, compiler, **kw)
    value = f"(({doc}) -> CAST({key} AS TEXT))"
    text = f"(({doc}) ->> CAST({key} AS TEXT))"
    # A number as a double's shortest text (3.10 -> 3.1, 1e2 -> 100), as SQLite shows it;
    # an integer as written.
    return (
        f"CASE WHEN json_typeof({value}) = 'number' AND {text} !~ '^-?[0-9]{{1,15}}$' "
        f"THEN CAST(CAST({text} AS DOUBLE PRECISION) AS TEXT) ELSE {text} END"
    )


@compiles(json_text, "sqlite")
def _json_text_sqlite(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key = _args(element, compiler, **kw)
    path = f"'$.\"' || ({key}) || '\"'"
    # json_extract gives 1/0 for true/false and minified JSON for lists; json_type tells which.
    # A real as 15 significant digits without a needless ".0" (PostgreSQL's double text).
    return (
        f"CASE json_type({doc}, {path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        f"WHEN 'real' THEN printf('%.15g', json_extract({doc}, {path})) "
        f"ELSE CAST(json_extract({doc}, {path}) AS TEXT) END"
    )


@compiles(json_has, "postgresql")
def _json_has_pg(element: json_has, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key = _args(element, compiler, **kw)
    return f"((({doc}) ->> CAST({key} AS TEXT)) IS NOT NULL)"


@compiles(json_has, "sqlite")
def _json_has_sqlite(element: json_has, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key = _args(element, compiler, **kw)
    # json_text's every branch is NULL exactly when json_extract is (true/false give 1/0).
    return f"(json_extract({doc}, '$.\"' || ({key}) || '\"') IS NOT NULL)"


@compiles(json_option_text, "postgresql")
def _option_pg(element: json_option_text, compiler: SQLCompiler, **kw: Any) -> str:
    doc, index = _args(element, compiler, **kw)
    # Only a plain index is looked up: a malformed answer gives NULL, never a failed cast.
    return (
        f"CASE WHEN ({index}) ~ '^[0-9]{{1,9}}$' "
        f"THEN ((({doc}) -> CAST({index} AS INTEGER)) ->> 'text') END"
    )


@compiles(json_option_text, "sqlite")
def _option_sqlite(element: json_option_text, compiler: SQLCompiler, **kw: Any) -> str:
    doc, index = _args(element, compiler, **kw)
    return (
        f"CASE WHEN ({index}) <> '' AND ({index}) NOT GLOB '*[^0-9]*' "
        f"THEN json_extract({doc}, '$[' || CAST({index} AS INTEGER) || '].text') END"
    )
