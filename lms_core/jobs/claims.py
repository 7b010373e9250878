"""Claims: a due job taken by one worker, in one short transaction (see :mod:`ledger`).

Due: ``queued`` or ``failed`` with ``run_at`` passed, or ``running`` with an expired lease (its
worker died). PostgreSQL skips rows another claimer has locked (``FOR UPDATE SKIP LOCKED``);
SQLite's write units of work start with ``BEGIN IMMEDIATE``, so claimers take turns. A claim
sets the job ``running`` with ``attempts + 1``, a fresh ``claim_token`` and a lease; several
jobs of one groupable kind may be claimed in one transaction (:func:`claim_group_in`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from lms_core.db import SessionFactory, unit_of_work
from lms_core.errors import LmsError
from lms_core.jobs.registry import get_handler
from lms_core.models import utcnow
from lms_core.models.jobs import CLAIMABLE, Job, JobStatus

if TYPE_CHECKING:
    from lms_core.settings import Settings

MAX_ERROR_CHARS = 2000


def _bounded(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 12] + " [truncated]"


def _due(now: datetime) -> Any:
    """Due now: for one job by id (a primary-key look-up, whatever the plan of the OR)."""
    return or_(
        and_(Job.status.in_([s.value for s in CLAIMABLE]), Job.run_at <= now),
        and_(Job.status == JobStatus.running.value, Job.lease_until < now),
    )


def _due_branches(now: datetime, columns: Any = Job) -> list[Select[Any]]:
    """The oldest-first queries whose union is "due": one per claimable status, read in the
    order of ``ix_jobs_status_run_at`` (status, run_at, id), and the expired leases, read
    through ``ix_jobs_status_lease_until``. One OR (or IN) over them made the database sort
    every due row on every claim (SQLite: MULTI-INDEX OR, TEMP B-TREE FOR ORDER BY)."""
    branches: list[Select[Any]] = [
        select(columns)
        .where(Job.status == status.value, Job.run_at <= now)
        .order_by(Job.run_at, Job.id)
        for status in CLAIMABLE
    ]
    expired = and_(Job.status == JobStatus.running.value, Job.lease_until < now)
    branches.append(select(columns).where(expired).order_by(Job.lease_until, Job.id))
    return branches


def lease_for(settings: Settings, kind: str) -> int:
    """The handler's lease, or ``settings.jobs_lease_seconds`` when that is set (tests)."""
    if settings.jobs_lease_seconds is not None:
        return settings.jobs_lease_seconds
    try:
        return get_handler(kind).lease_seconds
    except LmsError:
        return 60  # no handler: the attempt fails at once, the lease hardly matters


def groupable(kind: str) -> bool:
    """Whether jobs of ``kind`` may share a claim (its handler opted in)."""
    try:
        return get_handler(kind).groupable
    except LmsError:
        return False


def _take(
    session: Session, settings: Settings, job: Job, worker: str, now: datetime, *, first: bool
) -> bool:
    """Mark ``job`` running for ``worker``; False (and the job dead) when a worker died holding
    its last attempt.

    Only the ``first`` job of a claim counts its attempt in the row at once; the others count
    it in memory (the handler and the outcome see it) and in the row when their outcome is
    written. A worker killed while a group runs has then charged one attempt, the first
    job's: the jobs waiting behind it, which may never have started, keep theirs."""
    if job.status == JobStatus.running.value and job.attempts >= job.max_attempts:
        job.status = JobStatus.dead.value
        job.error = _bounded(
            f"gave up after {job.attempts} attempts: worker {job.worker} stopped holding it "
            f"(lease expired at {job.lease_until:%Y-%m-%d %H:%M:%S} UTC)"
        )
        job.finished_at, job.lease_until, job.claim_token = now, None, None
        return False
    job.status = JobStatus.running.value
    if first:
        job.attempts += 1
    else:  # not flushed: the row keeps the count until the outcome writes it
        set_committed_value(job, "attempts", job.attempts + 1)
    job.worker = worker
    job.claim_token = uuid.uuid4().hex
    job.started_at = now
    job.lease_until = now + timedelta(seconds=lease_for(settings, job.kind))
    return True


def claim_group_in(
    session: Session,
    settings: Settings,
    worker: str,
    *,
    ids: list[int] | None = None,
    limit: int = 1,
    exclude: frozenset[int] = frozenset(),
    group_size: Callable[[str], int] | None = None,
) -> list[Job]:
    """Due jobs claimed inside the caller's transaction, oldest first: those of ``ids`` that
    are due, or the oldest due (the rows the :func:`_due_branches` give, by index).

    The oldest due job decides the group: alone unless its kind is :func:`groupable`, else
    with the next due jobs of its kind among the oldest ``limit`` (at most ``limit``, and at
    most ``group_size(kind)``). Each gets its own claim, token and lease (see :func:`_take`
    for its attempt); a job whose worker died holding its last attempt becomes dead instead
    and is not returned. On PostgreSQL rows others hold are skipped; those locked and not
    taken are freed at this commit."""
    lock = session.get_bind().dialect.name == "postgresql"
    taken: list[Job] = []
    kind: str | None = None
    cap = limit
    while len(taken) < cap:
        now, want = utcnow(), cap - len(taken)
        if ids is not None:
            stmts = [select(Job).where(_due(now), Job.id.in_(ids)).order_by(Job.run_at, Job.id)]
        else:
            stmts = _due_branches(now)
        found: list[Job] = []
        for stmt in stmts:
            if exclude:
                stmt = stmt.where(Job.id.not_in(exclude))
            stmt = stmt.limit(want)
            if lock:
                stmt = stmt.with_for_update(skip_locked=True)
            found.extend(session.scalars(stmt))
        found = sorted(found, key=lambda j: (j.run_at, j.id))[:want]
        died = 0
        for job in found:
            if kind is None:
                kind = job.kind
                if not groupable(kind):
                    cap = 1
                elif group_size is not None:
                    cap = max(1, min(cap, group_size(kind)))
            if job.kind != kind or len(taken) >= cap:
                continue  # another kind (or the group is full): left for another claim
            if _take(session, settings, job, worker, now, first=not taken):
                taken.append(job)
            else:
                died += 1
                if not taken:
                    kind, cap = None, limit  # the next due job decides the group
        session.flush()
        if not died:  # every row wanted is taken: none was left, or the group is full
            break
    return taken


def _claim_in(
    session: Session,
    settings: Settings,
    worker: str,
    job_id: int | None,
    exclude: frozenset[int] = frozenset(),
) -> Job | None:
    """The claim of one job (see :func:`claim_due`), inside the caller's transaction."""
    ids = None if job_id is None else [job_id]
    found = claim_group_in(session, settings, worker, ids=ids, limit=1, exclude=exclude)
    return found[0] if found else None


def _claim(
    factory: SessionFactory,
    settings: Settings,
    worker: str,
    job_id: int | None,
    exclude: frozenset[int] = frozenset(),
) -> Job | None:
    with unit_of_work(factory) as session:
        return _claim_in(session, settings, worker, job_id, exclude)


def claim_due(
    factory: SessionFactory,
    settings: Settings,
    *,
    worker: str,
    exclude: frozenset[int] = frozenset(),
) -> Job | None:
    """Take the oldest due job for ``worker`` (committed), or None when nothing is due;
    ``exclude`` leaves out jobs by id (those a drain already ran)."""
    return _claim(factory, settings, worker, None, exclude)


def claim(factory: SessionFactory, settings: Settings, job_id: int, *, worker: str) -> Job | None:
    """Take job ``job_id`` if it is due and nobody holds it; None otherwise (a wake-up for a
    job already done, taken, or not due yet is a no-op)."""
    return _claim(factory, settings, worker, job_id)


def due_ids(session: Session, *, limit: int = 100) -> list[int]:
    """Ids of jobs due now, oldest first: what a worker's poll wakes up (``limit`` rows of
    each branch of :func:`_due_branches`, by index, then the oldest ``limit`` of those)."""
    rows: list[tuple[datetime, int]] = []
    for stmt in _due_branches(utcnow(), Job.run_at):
        rows.extend((r[0], r[1]) for r in session.execute(stmt.add_columns(Job.id).limit(limit)))
    return [job_id for _run_at, job_id in sorted(rows)[:limit]]
