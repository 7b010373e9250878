"""The few SQL expressions SQLite and PostgreSQL spell differently, written once per dialect.

Each is a SQLAlchemy construct compiled per dialect (``@compiles``), so a figure's query is
written once and gives the same values on both: timestamps are taken in UTC (PostgreSQL's
``timestamptz`` is moved to UTC before it is truncated; SQLite stores UTC text), weeks start on
Monday (ISO 8601), and numbers read from JSON are doubles on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class week_start(FunctionElement[str]):
    """The Monday of the timestamp's week, as ``YYYY-MM-DD`` text."""

    type = String()
    inherit_cache = True
    name = "week_start"


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


class json_option_text(FunctionElement[str]):
    """``document[index]["text"]``: an option's text in a question's ``options`` list; NULL
    when ``index`` (text) is not a plain non-negative integer or no such option exists."""

    type = String()
    inherit_cache = True
    name = "json_option_text"


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses]


@compiles(week_start, "postgresql")
def _week_pg(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    [at] = _args(element, compiler, **kw)
    return f"to_char(date_trunc('week', ({at}) AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


@compiles(week_start, "sqlite")
def _week_sqlite(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    [at] = _args(element, compiler, **kw)
    # 'weekday 0' moves to the next Sunday (or stays on one); six days back is that Monday.
    return f"date({at}, 'weekday 0', '-6 days')"


@compiles(month_of, "postgresql")
def _month_pg(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    [at] = _args(element, compiler, **kw)
    return f"to_char(({at}) AT TIME ZONE 'UTC', 'YYYY-MM')"


@compiles(month_of, "sqlite")
def _month_sqlite(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    [at] = _args(element, compiler, **kw)
    return f"strftime('%Y-%m', {at})"


@compiles(seconds_between, "postgresql")
def _seconds_pg(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    return f"CAST(EXTRACT(EPOCH FROM ({later}) - ({earlier})) AS DOUBLE PRECISION)"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    # julianday keeps about 10 microseconds: far below the 2 decimals of days reported.
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


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
    return f"(({doc}) ->> CAST({key} AS TEXT))"


@compiles(json_text, "sqlite")
def _json_text_sqlite(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key = _args(element, compiler, **kw)
    path = f"'$.\"' || ({key}) || '\"'"
    # json_extract gives 1/0 for true/false and minified JSON for lists; json_type tells which.
    return (
        f"CASE json_type({doc}, {path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        f"ELSE CAST(json_extract({doc}, {path}) AS TEXT) END"
    )


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
