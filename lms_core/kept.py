"""Statements built once and run as SQL text on the DBAPI cursor (kept statements).

Building a SQLAlchemy statement per call (its expressions, subqueries and column
collections), then walking its whole tree for the compiled-cache key, costs more than the
query itself for a figure of a few rows or an API look-up by key (a learner's assignments:
0.02 ms raw on SQLite; a token check: one indexed row). So the callers build each statement
once per shape with named ``bindparam`` placeholders and keep it (``functools.cache``), and
:func:`rows` compiles each kept statement once per dialect to its SQL text, bind order and
type processors, through SQLAlchemy's public compiler and type API, and runs it on the DBAPI
cursor: what a hand-written query costs, plus the type processing and ``finish``.
:func:`look_up` is the short form for a small read (a look-up by key, a page);
:func:`write` runs an ``INSERT``, ``UPDATE`` or ``DELETE`` the same way (a quiz answer's).

On PostgreSQL a caller may also ask for a server-side prepared statement (``prepare=True``,
:func:`prepared_sql`): the server then plans it once per connection, not at every run.

SQL stays visible: when the connection or its engine has ``before_cursor_execute`` or
``after_cursor_execute`` listeners (a test or bench counting statements), the statement runs
through SQLAlchemy Core instead, with the same values and results. SQLAlchemy's own
statement logging (``echo``, the ``sqlalchemy.engine`` logger) is no listener and does not
see these statements; the toolkit never turns it on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Executable, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError

from lms_core.models.base import UtcDateTime

#: Streamed statements are read this many rows at a time.
CHUNK = 1000
#: A statement's execution option asking for a server-side prepared statement (PostgreSQL).
PREPARE = "lms_prepare"
#: The engine's execution option saying it prepares (``LMS_DB_PREPARE``, :mod:`lms_core.db`).
PREPARING = "lms_db_prepare"
#: Statements prepared on one connection at most (the hot ones are about a dozen); past it
#: a statement runs as it is.
MAX_PREPARED = 64
_PREPARED = "lms_prepared"
#: psycopg2's escaped percent sign, or one of its named parameters.
_PERCENT_OR_PARAMETER = re.compile(r"%%|%\((\w+)\)s")


def prepared_sql(info: dict[Any, Any], cursor: Any, sql: str) -> str:
    """What to send for ``sql`` (psycopg2's ``%(name)s`` parameters) on the connection whose
    pool ``info`` is given: ``EXECUTE lms_kN (%(a)s, ...)``, with the same parameters, once
    ``PREPARE lms_kN AS ...`` has been sent on ``cursor`` (the first time only).

    The server then plans the statement once per connection instead of at every run (a
    quiz answer's seven-table read: 0.55 ms of planning for 0.13 ms of execution). After
    five runs PostgreSQL keeps a generic plan when it costs no more than the custom ones:
    only statements whose plan does not depend on their values (look-ups by key, a
    catalog page) ask for it. A prepared statement outlives a rollback; the pool clears
    ``info`` when it replaces the connection, and a new connection prepares again. A
    statement the server no longer runs as prepared (:func:`stale_prepared`) gets its
    connection replaced.
    """
    known: dict[str, str] | None = info.get(_PREPARED)
    if known is None:
        known = info[_PREPARED] = {}
    found = known.get(sql)
    if found is not None:
        return found
    if len(known) >= MAX_PREPARED:
        return sql
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) is None:  # "%%": a percent sign of the SQL itself
            return "%"
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    # Named after its text: one name is always one statement, whichever process prepared it.
    name = "lms_k" + hashlib.sha1(sql.encode(), usedforsecurity=False).hexdigest()[:24]
    body = _PERCENT_OR_PARAMETER.sub(number, sql)  # one pass: "%%(x)s" is text, not a slot
    cursor.execute(f"PREPARE {name} AS {body}")
    arguments = ", ".join(f"%({n})s" for n in names)
    known[sql] = f"EXECUTE {name} ({arguments})" if names else f"EXECUTE {name}"
    return known[sql]


def execute_prepared(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    """A ``do_execute`` listener (:func:`lms_core.db.make_engine`): a statement carrying the
    :data:`PREPARE` execution option runs as a prepared statement; any other as usual."""
    if not context.execution_options.get(PREPARE) or not isinstance(parameters, Mapping):
        return False
    if getattr(cursor, "name", None):  # a server-side cursor: DECLARE ... FOR takes a query
        return False
    info = context.root_connection.connection.info
    cursor.execute(prepared_sql(info, cursor, statement), parameters)
    return True


#: PostgreSQL's answers to a prepared statement that can no longer run as this connection
#: prepared it: ``feature_not_supported`` ("cached plan must not change result type": a
#: column it returns changed type, e.g. by a migration while the app runs),
#: ``invalid_sql_statement_name`` (not prepared on this server connection: a pooler in
#: transaction mode) and ``duplicate_prepared_statement``.
STALE_CODES = frozenset({"0A000", "26000", "42P05"})


def stale_prepared(error: BaseException) -> bool:
    """Whether ``error`` (the driver's) says this connection's prepared statements are stale."""
    return getattr(error, "pgcode", None) in STALE_CODES


def replace_stale(context: Any) -> None:
    """A ``handle_error`` listener (:func:`lms_core.db.make_engine`): a statement refused as
    stale (:func:`stale_prepared`) has its connection replaced -- this one only -- so that the
    next unit of work prepares afresh on a new one instead of failing the same way on every
    later use of this connection. The failing statement's error still reaches its caller."""
    ran = context.execution_context
    asked = ran is not None and ran.execution_options.get(PREPARE)
    if asked and stale_prepared(context.original_exception):
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = False


@dataclass
class _Compiled:
    """A kept statement as one dialect runs it."""

    sql: str
    #: The driver's parameters with every constant in place (a list for positional
    #: paramstyles such as SQLite's ``qmark``, a dict for named ones), processed once ...
    template: list[Any] | dict[str, Any]
    #: ... and the placeholders a request fills in: (position or name, name, its default,
    #: the type's bind processor).
    slots: list[tuple[Any, str, Any, Callable[[Any], Any] | None]]
    #: (column, what makes its value the finished one) for the columns that need it: known
    #: at the first run (PostgreSQL's processors depend on the type the server reports).
    fixes: list[tuple[int, Callable[[Any], Any]]] | None = None
    #: The ``finish`` the fixes were made with.
    finish: Callable[[Any], Any] | None = None


_compiled: dict[tuple[Executable, Dialect], _Compiled] = {}
#: The kept statements are a few dozen (report kinds x shapes); a caller running statements
#: of its own through a :class:`~lms_core.reports.base.Section` (an export of a whole site,
#: a test) would otherwise add one entry per statement for the life of the process.
MAX_COMPILED = 512


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    key = (statement, dialect)  # an engine's dialect lives as long as the engine
    found = _compiled.get(key)
    if found is not None:
        return found
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    sql = compiled.string
    if "POSTCOMPILE" in sql:  # an expanding IN: its SQL depends on the values
        raise TypeError(f"a kept report statement must not expand at execution: {sql[:80]}")
    computed = [*compiled.insert_prefetch, *compiled.update_prefetch]
    if compiled.isupdate:  # set by the database (server_onupdate): no loaded copy refreshed
        computed += compiled.postfetch
    if computed:  # a column default or onupdate Core would compute at each execution
        unbound = ", ".join(column.name for column in computed)
        raise TypeError(f"a kept write must bind every column it sets; unbound: {unbound}")
    defaults = compiled.construct_params()
    names: list[str] = list(compiled.positiontup or ()) if compiled.positional else list(defaults)
    template: list[Any] = []
    slots: list[tuple[Any, str, Any, Callable[[Any], Any] | None]] = []
    for index, name in enumerate(names):
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.unique:  # an anonymous bind: a constant of the statement
            value = defaults[name]
            template.append(value if process is None or value is None else process(value))
        else:  # a placeholder (or a named bind), filled in per request
            template.append(None)
            slots.append((index if compiled.positional else name, name, defaults[name], process))
    if not compiled.positional:
        found = _Compiled(sql, dict(zip(names, template, strict=True)), slots)
    else:
        found = _Compiled(sql, template, slots)
    if len(_compiled) >= MAX_COMPILED:
        _compiled.clear()
    _compiled[key] = found
    return found


#: PostgreSQL type codes (OIDs) whose values the driver gives as finished ones: ``bool``,
#: ``int8``, ``int2``, ``int4``, ``text``, ``varchar`` (``numeric`` comes as ``Decimal``,
#: and is rounded).
_PG_AS_IS = frozenset({16, 20, 21, 23, 25, 1043})


def _results(
    statement: Select[Any], dialect: Dialect, description: Any, finish: Callable[[Any], Any]
) -> list[Callable[[Any], Any] | None]:
    """Per column, what makes a fetched value the finished one: the type's result processor
    (the server's type code chooses PostgreSQL's), then ``finish`` (or, for a column of a
    Python type in ``finish.by_type``, that one: ``plain`` without its dispatch); ``None`` where the
    driver's value already is (integers, text: ``finish`` gives them back as they are), so
    that a row of those is passed on as fetched (making each value again was ~3 us a row,
    most of a list of dead jobs' cost over its query)."""
    out: list[Callable[[Any], Any] | None] = []
    sqlite = dialect.name == "sqlite"
    typed = getattr(finish, "by_type", {})
    for column, described in zip(statement.selected_columns, description, strict=True):
        kind = column.type
        process = kind.dialect_impl(dialect).result_processor(dialect, described[1])
        if isinstance(kind, UtcDateTime) and process is not None:
            # The type gives aware UTC datetimes, as ``finish`` does.
            out.append(_sqlite_utc(process) if sqlite else _aware_utc(process))
        elif process is None and _as_is(kind, described[1], sqlite):
            out.append(None)
        elif process is None:
            out.append(typed.get(_python_type(kind), finish))
        else:
            out.append(_then(process, finish))
    return out


def _python_type(kind: Any) -> type | None:
    try:
        python: type = kind.python_type
    except NotImplementedError:  # a column of no declared type: NullType, a function's
        return None
    return python


def _as_is(kind: Any, code: Any, sqlite: bool) -> bool:
    """Whether a column's values come from the driver as ``finish`` leaves them: integers and
    text, declared so (SQLite reports no type) and, on PostgreSQL, sent so by the server.
    SQLite would give back a REAL written by hand into an INTEGER column as it is (the
    toolkit writes none; its integer figures are counts and sums of integers)."""
    return _python_type(kind) in (int, str) and (sqlite or code in _PG_AS_IS)


def _aware_utc(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """PostgreSQL's ``timestamptz`` as the driver gives it in a UTC session: already aware
    UTC, given back as it is (``process`` moves any other zone to UTC)."""

    def utc(value: Any) -> Any:
        if value is None or (value.__class__ is datetime and value.tzinfo is UTC):
            return value
        return process(value)

    return utc


def _then(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: second(first(value))


def _sqlite_utc(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A UTC timestamp as SQLite stores it (``YYYY-MM-DD HH:MM:SS[.ffffff]`` text) made an
    aware datetime: ~0.25 us a value, where the type's own processor (a parse, then
    ``replace(tzinfo=)``) took ~1.8 us, most of what a list of dead jobs cost over its
    query. Any other value goes to the type's processor (``process``)."""
    parse = datetime.fromisoformat

    def utc(value: Any) -> Any:
        # YYYY-MM-DD HH:MM:SS to YYYY-MM-DD HH:MM:SS.ffffff; a date alone would parse naive.
        if value.__class__ is str and 19 <= len(value) <= 26:
            try:
                return parse(value + "+00:00")
            except ValueError:
                pass  # written by hand with an offset or a "Z": the type knows those
        return None if value is None else process(value)

    return utc


def _arguments(compiled: _Compiled, values: Mapping[str, Any]) -> Any:
    arguments = compiled.template.copy()
    for slot, name, default, process in compiled.slots:
        value = values.get(name, default)
        arguments[slot] = value if process is None or value is None else process(value)
    return tuple(arguments) if isinstance(arguments, list) else arguments


def watched(connection: Connection) -> bool:
    """Whether something listens to this connection's cursor executions (on the connection
    or on its engine).

    SQLAlchemy marks a connection that was given listeners of its own (``_has_events``);
    without any, the engine's own listener collections answer, which costs a fraction of
    asking the connection's joined ones (~3.6 us after a report is built, most of what a
    learner's assignments cost over their query on SQLite)."""
    if getattr(connection, "_has_events", True):
        dispatch = connection.dispatch
        return bool(dispatch.before_cursor_execute) or bool(dispatch.after_cursor_execute)
    engine = connection.engine.dispatch
    return bool(engine.before_cursor_execute) or bool(engine.after_cursor_execute)


def rows(
    connection: Connection,
    statement: Select[Any],
    values: Mapping[str, Any],
    *,
    stream: bool,
    finish: Callable[[Any], Any],
    prepare: bool = False,
) -> Iterator[tuple[Any, ...]]:
    """Every row of ``statement`` with ``values``, each value through its type's result
    processor (what Core gives) and then ``finish``. ``prepare``: as a server-side prepared
    statement where the engine prepares (:func:`prepared_sql`; never a streamed one).

    Rows are made ``CHUNK`` at a time, so that a caller showing the first few (the back
    office's tables) makes only those. ``stream``: constant memory too. SQLite's cursor
    streams by itself; on PostgreSQL that takes a server-side cursor, which Core's
    ``yield_per`` manages (declared, fetched, closed with the transaction's state), so
    streamed sections run through Core there; other sections come whole from the server
    into the driver's memory (libpq's), as a client-side cursor does."""
    if watched(connection) or (stream and connection.dialect.name != "sqlite"):
        options: dict[str, Any] = {"yield_per": CHUNK} if stream else {PREPARE: prepare}
        for row in connection.execute(statement, dict(values), execution_options=options):
            yield tuple(map(finish, row))
        return
    dialect = connection.dialect
    compiled = _compile(statement, dialect)
    arguments = _arguments(compiled, values)
    driver = connection.connection.dbapi_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    sql = compiled.sql
    try:
        try:
            if prepare and not stream and connection.get_execution_options().get(PREPARING):
                sql = prepared_sql(connection.connection.info, cursor, compiled.sql)
            cursor.execute(sql, arguments)
            chunk = cursor.fetchmany(CHUNK)
        except dialect.loaded_dbapi.Error as error:
            prepared = sql != compiled.sql
            raise _failed(connection, cursor, compiled.sql, arguments, error, prepared) from error
        fixes = compiled.fixes
        if fixes is None or compiled.finish is not finish:
            made = _results(statement, dialect, cursor.description, finish)
            # Only the columns that need it are made again; a row of none is passed on.
            fixes = compiled.fixes = [(i, f) for i, f in enumerate(made) if f is not None]
            compiled.finish = finish
        while chunk:
            if not fixes:
                yield from map(tuple, chunk)
            for row in chunk if fixes else ():
                made = list(row)
                for i, fix in fixes:
                    made[i] = fix(made[i])
                yield tuple(made)
            if len(chunk) < CHUNK:
                break
            try:
                chunk = cursor.fetchmany(CHUNK)
            except dialect.loaded_dbapi.Error as error:
                raise _failed(connection, cursor, compiled.sql, arguments, error) from error
    finally:
        try:  # noqa: SIM105 - cheaper than suppress() on every run
            cursor.close()
        except dialect.loaded_dbapi.Error:
            pass  # a connection that died has nothing left to close (_failed invalidated it)


def _unchanged(value: Any) -> Any:
    return value


def look_up(
    connection: Connection, statement: Select[Any], values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Every row of a small kept statement (a look-up by key, a page of a listing), prepared
    where the engine prepares, each value as Core gives it: the API's hot reads (the token
    check, the catalog, an outline, a quiz answer's attempt)."""
    return list(rows(connection, statement, values, stream=False, finish=_unchanged, prepare=True))


def write(
    connection: Connection,
    statement: Executable,
    values: Mapping[str, Any],
    *,
    prepare: bool = False,
) -> int:
    """Run an ``INSERT``, ``UPDATE`` or ``DELETE`` kept statement with ``values``; the rows
    it changed. As :func:`rows` runs a select: compiled once, its values through their
    types' bind processors, prepared where the engine prepares. Compiled once, its SQL runs
    no column default: the statement binds every column it sets (``values(col=bindparam(
    ...))``) and the caller gives each value; one that leaves a computed column unbound
    (a Python default or onupdate, an update's ``server_onupdate``) is refused (TypeError)
    before it runs. The session knows nothing of it: loaded objects it changed are the
    caller's to expire."""
    dialect = connection.dialect
    compiled = _compile(statement, dialect)  # refused alike, whichever way it then runs
    if watched(connection):
        done = connection.execute(statement, dict(values), execution_options={PREPARE: prepare})
        return int(done.rowcount)
    arguments = _arguments(compiled, values)
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    sql = compiled.sql
    try:
        try:
            if prepare and connection.get_execution_options().get(PREPARING):
                sql = prepared_sql(connection.connection.info, cursor, compiled.sql)
            cursor.execute(sql, arguments)
        except dialect.loaded_dbapi.Error as error:
            prepared = sql != compiled.sql
            raise _failed(connection, cursor, compiled.sql, arguments, error, prepared) from error
        return int(cursor.rowcount)
    finally:
        try:  # noqa: SIM105 - as in rows()
            cursor.close()
        except dialect.loaded_dbapi.Error:
            pass


def _failed(
    connection: Connection,
    cursor: Any,
    sql: str,
    arguments: Any,
    error: Exception,
    prepared: bool = False,
) -> StatementError:
    """The driver's error as Core raises it (callers catch SQLAlchemy's exceptions). A lost
    connection is invalidated, as Core does, so that the session's rollback at the end of the
    request and the pool do not use it again; the pool's other connections, which Core would
    also mark stale, are checked by the ping after idling (``LMS_DB_PING_IDLE_MS``). So is a
    connection whose ``prepared`` statement the server refused as stale (:func:`replace_stale`).
    """
    dialect = connection.dialect
    driver = connection.connection.dbapi_connection
    gone = dialect.is_disconnect(error, driver, cursor)  # type: ignore[arg-type]
    if gone or (prepared and stale_prepared(error)):  # a new connection prepares afresh
        connection.invalidate(error)
        gone = True
    return DBAPIError.instance(
        sql,
        arguments,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=gone,
        dialect=dialect,
    )
