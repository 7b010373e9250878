"""What a backup archive says about itself: ``manifest.json``, and the per-table checksums.

The manifest is the proof a restore is whole: a sha256 of every member of the archive (a
flipped bit in transit or on disk), and per table the row count and a checksum of its rows
(a restore that loses or changes rows). A backup is compared only with a copy of its own
kind, so each kind checksums its tables the way that is cheap there (``table_checksum``:
:data:`SQLITE_ROWS`, :data:`PG_ROW_MD5`); archives written before that carry the original form,
:data:`NORMALISED`, still verified that way. That form is computed the same way on SQLite
and PostgreSQL: rows in primary-key order, each value normalised to one text form (booleans as
0/1, timestamps as naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff``, JSON re-serialised with sorted
keys, bytes as hex), so a checksum taken before ``pg_dump`` compares with one taken after
``pg_restore`` whatever the drivers hand back.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    MetaData,
    String,
    Table,
    inspect,
    select,
    text,
    type_coerce,
)

from lms_core.backups.stats import TableStat as TableStat  # re-exported: callers use mf.TableStat

#: Bumped when the archive's layout changes in a way an older ``verify`` would misread.
#: 3: SQLite table checksums by xxh3 (``sqlite-pages-v4``: an older lmsctl would restore the
#: copy and only then fail to check it, so it is told to refuse the archive up front); 2: the
#: SQLite copy is zstd-compressed (``database.sqlite3.zst``); 1: gzip
#: (``database.sqlite3.gz``). This version reads all three.
FORMAT_VERSION = 3
MANIFEST_NAME = "manifest.json"
ARCHIVE_PREFIX = "lms-backup-"
#: Rows fetched at once while checksumming (memory stays flat on a million-row table).
_CHUNK = 10_000


def _norm(value: Any) -> str:
    """One text form per value, whichever database and driver produced it."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return str(value)
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return str(value.isoformat(" ", "microseconds"))
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _sqlite_datetime(value: Any) -> str:
    """A timestamp as SQLite stores it (naive UTC text, with or without microseconds)."""
    if value is None:
        return "\\N"
    if type(value) is str:
        if len(value) == 26:
            return value
        if len(value) == 19:
            return value + ".000000"
        return _norm(datetime.fromisoformat(value))
    return _norm(value)


def _is_datetime(column: Column[Any]) -> bool:
    kind = column.type
    return isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime)


def _selected(
    table: Table, model: Table | None, dialect: str
) -> tuple[list[Any], list[Callable[[Any], str]]]:
    """The columns to read, by name (the order of a table's columns differs between a
    database migrated step by step and one created whole), and the normaliser of each.

    A column the models know is read with the model's type (JSON and booleans come back as
    Python values on both databases); a column they do not know (an older or newer schema
    than the code's) with its reflected type. Timestamps skip the type processing (a datetime
    made and converted per value was most of the time): SQLite hands back its stored text,
    padded here to microseconds; PostgreSQL a datetime, which :func:`_norm` writes the same.
    """
    columns: list[Any] = []
    norms: list[Callable[[Any], str]] = []
    for column in sorted(table.columns, key=lambda c: c.name):
        known = model.columns.get(column.name) if model is not None else None
        typed = known if known is not None else column
        if _is_datetime(typed) and dialect == "sqlite":
            columns.append(type_coerce(column, String()).label(column.name))
            norms.append(_sqlite_datetime)
        elif _is_datetime(typed):
            columns.append(type_coerce(column, DateTime(timezone=True)).label(column.name))
            norms.append(_norm)
        else:
            columns.append(type_coerce(column, typed.type).label(column.name))
            norms.append(_norm)
    return columns, norms


def table_stats(conn: Connection) -> dict[str, TableStat]:
    """Row count and checksum of every table in the database, as seen by ``conn``'s
    transaction (the tables and columns it has, whatever the models say)."""
    from lms_core.models import Base

    reflected = MetaData()
    reflected.reflect(bind=conn)
    stats: dict[str, TableStat] = {}
    for name in sorted(reflected.tables):
        table = reflected.tables[name]
        model = Base.metadata.tables.get(name)
        order = sorted(table.primary_key.columns, key=lambda c: c.name) or sorted(
            table.columns, key=lambda c: c.name
        )
        digest = hashlib.sha256()
        rows = 0
        columns, norms = _selected(table, model, conn.dialect.name)
        result = conn.execute(
            select(*columns).order_by(*order),
            execution_options={"stream_results": True, "yield_per": _CHUNK},
        )
        for chunk in result.partitions(_CHUNK):
            rows += len(chunk)
            text_rows = [
                "\x1f".join([f(v) for f, v in zip(norms, row, strict=True)]) for row in chunk
            ]
            digest.update(("\n".join(text_rows) + "\n").encode("utf-8"))
        stats[name] = TableStat(rows, digest.hexdigest())
    return stats


#: How a manifest's table checksums were computed (``table_checksum``; absent = the
#: normalised-rows form above, which archives of format 1 written before it carry). A backup
#: is only compared with a copy of its own kind, so each kind may use what is fastest there.
NORMALISED = "normalised-rows"
SQLITE_ROWS = "sqlite-rows-v2"
#: SQLite tables checksummed by their b-tree pages (:mod:`lms_core.backups.sqlite_pages`):
#: xxh3-128 of the pages; v3, the sha256 of the same pages, in archives written before.
SQLITE_PAGES = "sqlite-pages-v4"
SQLITE_PAGES_V3 = "sqlite-pages-v3"
PG_ROW_MD5 = "pg-row-md5-v2"
#: Per-session settings that fix how PostgreSQL writes a value as text (a restore on another
#: server, or with another client default, must write the same).
_PG_TEXT = (
    "SET LOCAL timezone = 'UTC'",
    "SET LOCAL datestyle = 'ISO, YMD'",
    "SET LOCAL intervalstyle = 'postgres'",
    "SET LOCAL extra_float_digits = 1",
    "SET LOCAL bytea_output = 'hex'",
)


#: PostgreSQL 14+: ``hash_record_extended`` of each row (each column's own hash function, no
#: text written per value), mixed by ``hashint8extended`` and summed: a fifth of the server
#: time of ``md5(ROW(...)::text)``, which ran beside ``pg_dump`` on the same cores. The mix
#: matters: a record hash is linear in its columns' hashes, so a plain sum of them (v3) does
#: not change when two rows swap a value.
PG_RECORD_HASH = "pg-record-hash-v4"
#: The first form (archives already written say it, and still verify by it): record hashes
#: summed unmixed, numeric hashed by value (1.10 and 1.1 the same).
PG_RECORD_HASH_V3 = "pg-record-hash-v3"
#: Column types hashed as they are (their hash functions are stable across versions, as hash
#: partitioning needs); any other type (``json`` has none; ``numeric``, whose hash ignores
#: its scale) is hashed as its text.
_PG_HASHABLE = frozenset(
    {
        "bigint",
        "boolean",
        "bytea",
        "character varying",
        "date",
        "double precision",
        "integer",
        "real",
        "smallint",
        "text",
        "timestamp with time zone",
        "timestamp without time zone",
        "uuid",
    }
)
_PG_HASHABLE_V3 = _PG_HASHABLE | {"numeric"}  # what v3 hashed as it is


def fast_method(dialect: str, server_version: int | None = None) -> str:
    """The checksum a new backup's manifest uses: on PostgreSQL the record hash from 14 on
    (``server_version``: ``server_version_num``; None counts as recent), md5 before."""
    if dialect != "postgresql":
        return SQLITE_PAGES
    return PG_ROW_MD5 if server_version is not None and server_version < 140000 else PG_RECORD_HASH


def pg_server_version(conn: Connection) -> int:
    return int(conn.execute(text("SHOW server_version_num")).scalar_one())


def _pg_record_stats(conn: Connection, method: str = PG_RECORD_HASH) -> dict[str, TableStat]:
    """In the server, one scan a table: the row count and the exact sum of a 64-bit hash of
    each row (:data:`PG_RECORD_HASH`, or :data:`PG_RECORD_HASH_V3` for an old archive); a
    row lost, added or changed changes the sum but with a chance of about 2**-64. Tables and
    column types come from the catalog (what reflection reads, without its cost)."""
    v3 = method == PG_RECORD_HASH_V3
    hashable = _PG_HASHABLE_V3 if v3 else _PG_HASHABLE
    for statement in _PG_TEXT:
        conn.execute(text(statement))
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in conn.execute(
        text(
            "SELECT c.relname, a.attname, format_type(a.atttypid, NULL) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace "
            "AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
        )
    ):
        columns.setdefault(str(table), []).append((str(column), str(kind)))
    stats: dict[str, TableStat] = {}
    for name in sorted(columns):
        row = ", ".join(
            _quoted(conn, column) if kind in hashable else f"{_quoted(conn, column)}::text"
            for column, kind in sorted(columns[name])
        )
        record = f"hash_record_extended(ROW({row}), 0)"
        each = record if v3 else f"hashint8extended({record}, 0)"
        # Identifiers quoted by the dialect, nothing else interpolated.
        query = f"SELECT count(*), coalesce(sum({each}), 0) FROM {_quoted(conn, name)}"  # noqa: S608
        rows, total = conn.execute(text(query)).one()
        digest = hashlib.sha256(f"{rows}:{total}".encode("ascii")).hexdigest()
        stats[name] = TableStat(int(rows), digest)
    return stats


def _quoted(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _pg_stats(conn: Connection, tables: dict[str, Table]) -> dict[str, TableStat]:
    """In the server, one scan a table: the row count and two sums of 64-bit halves of each
    row's md5 (the row written as text, columns by name, so the order is irrelevant and
    there is no sort). Any row lost, added or changed changes them; the work is C, not Python."""
    for statement in _PG_TEXT:
        conn.execute(text(statement))
    stats: dict[str, TableStat] = {}
    for name, table in tables.items():
        cols = ", ".join(_quoted(conn, c.name) for c in sorted(table.columns, key=lambda c: c.name))
        # Identifiers quoted by the dialect, nothing else interpolated.
        query = (
            "SELECT count(*), "  # noqa: S608
            "coalesce(sum(('x' || left(h, 16))::bit(64)::bigint::numeric), 0), "
            "coalesce(sum(('x' || right(h, 16))::bit(64)::bigint::numeric), 0) "
            f"FROM (SELECT md5(ROW({cols})::text) AS h FROM {_quoted(conn, name)}) AS rows"
        )
        rows, high, low = conn.execute(text(query)).one()
        digest = hashlib.sha256(f"{rows}:{high}:{low}".encode("ascii")).hexdigest()
        stats[name] = TableStat(int(rows), digest)
    return stats


def _sqlite_stats(conn: Connection, tables: dict[str, Table]) -> dict[str, TableStat]:
    """Rows as SQLite stores them (a restore is the same file, decompressed), read by the
    driver in large batches and hashed as their ``repr``: no per-value Python work."""
    raw: Any = conn.connection.driver_connection
    stats: dict[str, TableStat] = {}
    for name, table in tables.items():
        columns = sorted(table.columns, key=lambda c: c.name)
        order = sorted(table.primary_key.columns, key=lambda c: c.name) or columns
        cursor = raw.execute(  # identifiers quoted by the dialect
            f"SELECT {', '.join(_quoted(conn, c.name) for c in columns)} "  # noqa: S608
            f"FROM {_quoted(conn, name)} "
            f"ORDER BY {', '.join(_quoted(conn, c.name) for c in order)}"
        )
        digest = hashlib.sha256()
        rows = 0
        while batch := cursor.fetchmany(50_000):
            rows += len(batch)
            digest.update(repr(batch).encode("utf-8", "surrogatepass"))
        cursor.close()
        stats[name] = TableStat(rows, digest.hexdigest())
    return stats


def table_stats_by(conn: Connection, method: str) -> dict[str, TableStat]:
    """Row count and checksum of every table, computed by ``method`` (the manifest's)."""
    if method == NORMALISED:
        return table_stats(conn)
    if method in (PG_RECORD_HASH, PG_RECORD_HASH_V3) and conn.dialect.name == "postgresql":
        if pg_server_version(conn) < 140000:
            raise ValueError(f"table checksums {method!r} need PostgreSQL 14 or newer")
        return _pg_record_stats(conn, method)
    if method in (SQLITE_PAGES, SQLITE_PAGES_V3) and conn.dialect.name == "sqlite":
        from lms_core.backups.sqlite_pages import file_stats

        database = conn.engine.url.database
        if not database or database == ":memory:":
            raise ValueError("table checksums by page need a SQLite file")
        return file_stats(Path(database), method)
    reflected = MetaData()
    reflected.reflect(bind=conn)
    tables = {name: reflected.tables[name] for name in sorted(reflected.tables)}
    if method == PG_ROW_MD5 and conn.dialect.name == "postgresql":
        return _pg_stats(conn, tables)
    if method == SQLITE_ROWS and conn.dialect.name == "sqlite":
        return _sqlite_stats(conn, tables)
    raise ValueError(f"table checksums {method!r} cannot be computed on {conn.dialect.name}")


def alembic_revision(conn: Connection) -> str | None:
    """The schema's migration revision, None for a database alembic never touched."""
    if "alembic_version" not in inspect(conn).get_table_names():
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def database_identity(conn: Connection) -> str | None:
    """The database's identity row where this version has one (issue 11), else None."""
    if "database_identity" not in inspect(conn).get_table_names():
        return None
    row = conn.execute(text("SELECT * FROM database_identity")).mappings().first()
    if row is None:
        return None
    for key in ("identity", "uuid", "id"):
        if key in row:
            return str(row[key])
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(archive: Path) -> dict[str, Any]:
    """The manifest of ``archive``; ValueError naming the file when it is not a backup."""
    try:
        with tarfile.open(archive, "r:") as tar:
            member = tar.getmember(MANIFEST_NAME)
            stream = tar.extractfile(member)
            if stream is None:
                raise ValueError(f"{archive}: {MANIFEST_NAME} is not a file")
            data = json.loads(stream.read().decode("utf-8"))
    except KeyError as exc:
        raise ValueError(f"{archive}: no {MANIFEST_NAME}: not an lms backup") from exc
    except (tarfile.TarError, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{archive}: not a readable backup archive ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != "lms-backup":
        raise ValueError(f"{archive}: {MANIFEST_NAME} is not an lms backup manifest")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(
            f"{archive}: format version {data.get('format_version')} is newer than this "
            f"tool's ({FORMAT_VERSION}); use a newer lmsctl"
        )
    return data


def summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """The few facts ``backup list`` and ``create --json`` show."""
    tables = manifest.get("tables", {})
    return {
        "created_at": manifest.get("created_at"),
        "database": manifest.get("database"),
        "alembic_revision": manifest.get("alembic_revision"),
        "tool_version": manifest.get("tool_version"),
        "tables": len(tables),
        "rows": sum(int(t.get("rows", 0)) for t in tables.values()),
        "files": sum(1 for m in manifest.get("members", {}) if m.startswith("files/")),
    }
