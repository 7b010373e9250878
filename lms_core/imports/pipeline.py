"""Run the stages over streamed rows, a chunk at a time: validate → resolve → plan → apply.

Rows are never all in memory: each chunk of :data:`CHUNK` validated rows is planned against
the database and, unless this is a dry run or a problem has been found, written at once in
the caller's transaction. A problem anywhere (row, reference, threshold) stops the writing;
the caller then rolls the whole run back, so the database is exactly as it was.
"""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from lms_core.errors import HintCode, hint
from lms_core.formats.table import NO_ROWS
from lms_core.imports.apply import write_changes, write_ledger
from lms_core.imports.context import Context
from lms_core.imports.invites import Invites
from lms_core.imports.passwords import PasswordPool
from lms_core.imports.plan.changes import (
    CREATE,
    ENTITY_PLURAL,
    INACTIVE_LEARNERS,
    Change,
    ChangeLog,
)
from lms_core.imports.records import Row, RowCheck

CHUNK = 5000
#: Rows written to a table after which PostgreSQL's statistics are refreshed.
ANALYZE_AFTER = 10_000

Planner = Callable[[Session, Context, list[tuple[int, dict[str, Any]]]], list[Change]]
Progress = Callable[[str, int], None]


class TableLike(Protocol):
    file: str
    source_columns: dict[str, str]
    problems: list[Any]

    @property
    def rows(self) -> Any: ...


@dataclass
class Stage:
    entity_type: str
    table: TableLike
    check: RowCheck
    plan: Planner
    #: Called after the last chunk (sync removals, the published-course check).
    finish: Callable[[Session, Context], list[Change]] | None = None


class Writer:
    """Writes planned chunks: hashes new users' passwords, inserts, invites, ledger rows."""

    def __init__(
        self,
        session: Session,
        *,
        run_id: int,
        now: datetime,
        pool: PasswordPool | None,
        invites: Invites,
        progress: Progress,
    ) -> None:
        self.session = session
        conn = session.connection()
        if conn.dialect.name == "sqlite":
            # A bulk transaction outgrows SQLite's 2 MB default page cache within the first
            # chunks; spilling pages mid-transaction made the writes ~1.5x slower (measured).
            conn.exec_driver_sql("PRAGMA cache_size = -65536")
        self.run_id = run_id
        self.written: dict[str, int] = {}
        self.now = now
        self.pool = pool
        self.invites = invites
        self.progress = progress

    def write(self, changes: list[Change]) -> None:
        new_users = [c for c in changes if c.entity_type == "user" and c.action == CREATE]
        secret = [c for c in new_users if c.secret]
        if secret:
            if self.pool is None:
                raise ValueError("passwords need a password pool")  # a programming error
            hashes = self.pool.hash_all(
                [c.secret for c in secret if c.secret],
                lambda done, _t: self.progress("hashing passwords", done),
            )
            for change, hashed in zip(secret, hashes, strict=True):
                change.secret = hashed
        written = write_changes(self.session, changes, now=self.now)
        if new_users:
            self.invites.issue(self.session, new_users, self.now)
        write_ledger(self.session, self.run_id, written)
        for change in written:
            self.written[change.entity_type] = self.written.get(change.entity_type, 0) + 1

    def analyze(self) -> None:
        """PostgreSQL: refresh the planner's statistics of the tables a big run filled.

        Without it the next run's lookups are planned as if the tables were still empty
        (sequential scans per ``IN`` list) until autovacuum gets round to it: a re-run of a
        200k-enrollment file took twice as long as its dry run (measured).
        """
        conn = self.session.connection()
        if conn.dialect.name != "postgresql":
            return
        from lms_core.imports.resolve import MODELS

        tables = [MODELS[t].__tablename__ for t, n in self.written.items() if n >= ANALYZE_AFTER]
        if self.written and sum(self.written.values()) >= ANALYZE_AFTER:
            tables += ["import_changes"] + (["one_time_tokens"] if "user" in tables else [])
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {table}")


#: The cyclic collector's first threshold while rows are read, checked and planned.
GC_THRESHOLD = 50_000
_gc_lock = threading.Lock()
_gc_runs = 0
_gc_saved: tuple[int, int, int] = (0, 0, 0)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while an import runs (then as before).

    Each row allocates a dozen dicts, tuples and objects, most of them alive until their
    chunk is written: at the default threshold (700) the collector ran every few dozen rows
    and walked the chunk again each time, about 8% of an import (measured). Nothing an
    import allocates needs the collector (no cycles); its limit stays, just further apart.
    Process-wide, so the first of overlapping runs raises it and the last restores it.
    """
    global _gc_runs, _gc_saved
    with _gc_lock:
        if _gc_runs == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(GC_THRESHOLD, _gc_saved[0]), *_gc_saved[1:])
        _gc_runs += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_runs -= 1
            if _gc_runs == 0:
                gc.set_threshold(*_gc_saved)


def run_stages(
    session: Session,
    ctx: Context,
    stages: list[Stage],
    log: ChangeLog,
    writer: Writer | None,
    progress: Progress,
) -> None:
    with fewer_collections():
        _run_stages(session, ctx, stages, log, writer, progress)


def _run_stages(
    session: Session,
    ctx: Context,
    stages: list[Stage],
    log: ChangeLog,
    writer: Writer | None,
    progress: Progress,
) -> None:
    rows = 0
    for stage in stages:
        ctx.file = stage.table.file
        ctx.problems.source_columns = dict(stage.table.source_columns)
        log.ensure(ENTITY_PLURAL[stage.entity_type])
        what = ENTITY_PLURAL[stage.entity_type]
        done = 0

        def flush(chunk: list[tuple[int, dict[str, Any]]], stage: Stage = stage) -> None:
            changes = stage.plan(session, ctx, chunk)
            if writer is not None and not ctx.problems and not stage.table.problems:
                writer.write(changes)
                # Records this run created are in the file: a sync's scope, computed after
                # the last chunk, must not count them as absent.
                for c in changes:
                    if c.action == CREATE and c.entity_id is not None:
                        ctx.seen_ids[c.entity_type].add(c.entity_id)
            log.add_all(changes)

        chunk: list[tuple[int, dict[str, Any]]] = []
        row: Row
        for row in stage.table.rows:
            values = stage.check(row)
            done += 1
            if values is not None:
                chunk.append((row.line, values))
            if len(chunk) >= CHUNK:
                flush(chunk)
                chunk = []
                progress(what, done)
        if chunk:
            flush(chunk)
        progress(what, done)
        rows += done
        if stage.entity_type == "enrollment" and ctx.inactive_learners:
            # Kept for users who cannot sign in (OneRoster): counted beside the changes.
            log.counts[what][INACTIVE_LEARNERS] = ctx.inactive_learners
        ctx.problems.extend(stage.table.problems)
        if stage.finish is not None:
            changes = stage.finish(session, ctx)
            if writer is not None and not ctx.problems and changes:
                writer.write(changes)
            for change in changes:
                log.add(change)
    if stages and not rows and not ctx.problems:
        # A header row and nothing below it: refused as an empty file is, not a success
        # that did nothing (a truncated export, a wrong sheet).
        ctx.file = stages[0].table.file
        ctx.problem(None, None, None, NO_ROWS)


def removal_limit(scope: int, max_removals: int | None) -> int:
    """The removal limit asked for, by default 10% of the records in scope (at least 1)."""
    if max_removals is not None:
        return max_removals
    return max(1, math.floor(scope * 0.1))


def check_threshold(
    ctx: Context, *, what: str, verb: str, removals: int, scope: int, limit: int, force: bool
) -> bool:
    """Refuse (as a problem) a sync that would remove more than the limit; True when allowed."""
    if removals <= limit or force:
        return True
    ctx.problem(
        None,
        None,
        removals,
        f"a sync would {verb} {removals} of the {scope} {what} in scope, more than the limit of "
        f"{limit} (by default 10%): check that the file is complete, or raise the limit or "
        "force the sync",
        hint(HintCode.allow_removals, removals=removals),
    )
    return False
