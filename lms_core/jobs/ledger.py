"""The job ledger: queue a job in the caller's transaction, claim it, run it, record how it went.

* :func:`enqueue` is a service (flush, never commit): the job commits with the change that
  caused it, or not at all (the transactional outbox). The same ``key`` twice returns the
  first job, also when two transactions race (the unique key and a SAVEPOINT decide).
* :func:`claim_due` / :func:`claim` take a due job in one short transaction: ``queued`` or
  ``failed`` with ``run_at`` passed, or ``running`` with an expired lease (its worker died).
  PostgreSQL skips rows another claimer has locked (``FOR UPDATE SKIP LOCKED``); SQLite's
  write units of work start with ``BEGIN IMMEDIATE``, so claimers take turns.
* :func:`run_job` / :func:`run_claimed` call the handler and record the outcome: succeeded
  with its result; or failed with the next try after an exponential, fully jittered backoff;
  or dead after ``max_attempts``, saying why. While the handler runs its lease is renewed
  (:mod:`lms_core.jobs.heartbeat`); the outcome is written only if the claim still holds the
  job (``running``, same ``claim_token``): a worker that lost its lease and finished late
  changes nothing.

A worker killed at any moment leaves its job ``running`` until the lease expires, then it
runs again: at least once. Handlers make their effect once by key (docs/jobs.md).
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session

from lms_core.db import SessionFactory, insert_or_winner, unit_of_work
from lms_core.errors import Conflict, LmsError, ValidationError
from lms_core.jobs.heartbeat import RENEWER
from lms_core.jobs.registry import JobContext, get_handler
from lms_core.models import utcnow
from lms_core.models.jobs import CLAIMABLE, Job, JobStatus

if TYPE_CHECKING:
    from lms_core.settings import Settings

log = logging.getLogger(__name__)

#: ``session.info`` key listing the ids of jobs queued in the session's transaction, so the
#: front door can wake a worker once it commits (``jobs.wakeup``); the ledger never does.
QUEUED_INFO_KEY = "lms_jobs_queued"
MAX_ERROR_CHARS = 2000
MAX_RESULT_CHARS = 4000
MAX_KEY_CHARS = 255


def worker_name() -> str:
    """``host:pid``: who holds a job, as ``jobs list`` shows it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _json_args(kind: str, args: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(json.loads(json.dumps(args, allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"job {kind}: arguments must be plain JSON values (ids, not objects): {exc}",
            field="args",
        ) from None


def enqueue(
    session: Session,
    kind: str,
    args: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Queue ``kind(args)`` in the caller's transaction and return its job (flushed).

    ``key`` names the effect (``mail:invite:42``); a job with that key already in the ledger,
    whatever its status, is returned instead of a new one. Without a key every call is a new
    job (``kind:<uuid>``). ``run_at`` delays it; ``max_attempts`` overrides the handler's.
    """
    handler = get_handler(kind)
    payload = _json_args(kind, args or {})
    fresh = key is None  # a new random key cannot be taken: no look-up, no SAVEPOINT
    key = key if key is not None else f"{kind}:{uuid.uuid4().hex}"
    if not key or len(key) > MAX_KEY_CHARS:
        raise ValidationError(f"must be 1 to {MAX_KEY_CHARS} characters", field="key", value=key)
    attempts = handler.max_attempts if max_attempts is None else max_attempts
    if attempts < 1:
        raise ValidationError("must be at least 1", field="max_attempts", value=max_attempts)

    def existing() -> Job | None:
        return session.scalars(select(Job).where(Job.key == key)).one_or_none()

    found = None if fresh else existing()
    if found is None:
        job = Job(
            kind=kind,
            args=payload,
            key=key,
            status=JobStatus.queued.value,
            attempts=0,
            max_attempts=attempts,
            run_at=run_at or utcnow(),
            created_at=utcnow(),
        )
        if fresh:
            session.add(job)
            session.flush()
        else:
            found = insert_or_winner(session, job, existing)
        if found is None:
            session.info.setdefault(QUEUED_INFO_KEY, []).append(job.id)
            return job
    if found.kind != kind:
        raise Conflict(
            f"key {key!r} already belongs to a {found.kind} job (#{found.id})",
            field="key",
            value=key,
        )
    return found


def backoff_seconds(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds before retry number ``attempt`` (1 after the first failure): "full jitter",
    uniform in [0, min(cap, base * 2**(attempt-1))], so failed jobs spread out instead of
    retrying in step (AWS Architecture Blog, "Exponential Backoff And Jitter")."""
    ceiling = min(cap, base * 2 ** min(max(attempt - 1, 0), 62))
    return (rng or random).uniform(0, ceiling)


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


def _take(session: Session, settings: Settings, job: Job, worker: str, now: datetime) -> bool:
    """Mark ``job`` running for ``worker``; False (and the job dead) when a worker died holding
    its last attempt."""
    if job.status == JobStatus.running.value and job.attempts >= job.max_attempts:
        job.status = JobStatus.dead.value
        job.error = _bounded(
            f"gave up after {job.attempts} attempts: worker {job.worker} stopped holding it "
            f"(lease expired at {job.lease_until:%Y-%m-%d %H:%M:%S} UTC)"
        )
        job.finished_at, job.lease_until, job.claim_token = now, None, None
        return False
    job.status = JobStatus.running.value
    job.attempts += 1
    job.worker = worker
    job.claim_token = uuid.uuid4().hex
    job.started_at = now
    job.lease_until = now + timedelta(seconds=lease_for(settings, job.kind))
    return True


def _claim_in(
    session: Session,
    settings: Settings,
    worker: str,
    job_id: int | None,
    exclude: frozenset[int] = frozenset(),
) -> Job | None:
    """The claim, inside the caller's transaction (see :func:`claim_due`): the oldest of the
    rows the :func:`_due_branches` give (one each, by index). On PostgreSQL each skips rows
    others hold; the (at most two) it locks and does not take are freed at this commit."""
    lock = session.get_bind().dialect.name == "postgresql"
    while True:
        now = utcnow()
        if job_id is not None:
            stmts = [select(Job).where(_due(now), Job.id == job_id)]
        else:
            stmts = _due_branches(now)
        found: list[Job] = []
        for stmt in stmts:
            if exclude:
                stmt = stmt.where(Job.id.not_in(exclude))
            stmt = stmt.limit(1)
            if lock:
                stmt = stmt.with_for_update(skip_locked=True)
            found.extend(session.scalars(stmt))
        if not found:
            return None
        job = min(found, key=lambda j: (j.run_at, j.id))
        taken = _take(session, settings, job, worker, now)
        session.flush()
        if taken:
            return job


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


def _bounded(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 12] + " [truncated]"


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, LmsError):
        return _bounded(str(exc))
    return _bounded(f"{type(exc).__name__}: {exc}")


def _result(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        value = {"value": value}
    text = json.dumps(value, default=str)
    if len(text) > MAX_RESULT_CHARS:
        return {"truncated": True, "chars": len(text), "start": text[:500]}
    return dict(json.loads(text))


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: what ``run-due`` reports and tests check."""

    job_id: int
    kind: str
    status: str
    attempt: int
    error: str | None = None
    #: False when the worker no longer held the job when it finished (nothing was written).
    recorded: bool = True


def _attempt(
    factory: SessionFactory, settings: Settings, job: Job, rng: random.Random | None
) -> dict[str, Any]:
    """Call the handler of a claimed job, its lease renewed meanwhile (:mod:`heartbeat`);
    the column values that record how it went."""
    context = JobContext(factory, settings, job.id, job.attempts, job.key)
    token = job.claim_token
    if token is not None:
        RENEWER.hold(factory, job.id, token, lease_for(settings, job.kind))
    try:
        value = get_handler(job.kind).fn(context, dict(job.args))
        values: dict[str, Any] = {
            "status": JobStatus.succeeded.value,
            "result": _result(value),
            "error": None,
        }
    except Exception as exc:
        error = _error_text(exc)
        log.warning("job %s (%s) attempt %s failed: %s", job.id, job.kind, job.attempts, error)
        if job.attempts >= job.max_attempts:
            error = _bounded(f"gave up after {job.attempts} attempts: {error}")
            values = {"status": JobStatus.dead.value, "error": error}
        else:
            delay = backoff_seconds(
                job.attempts,
                base=settings.jobs_backoff_base_seconds,
                cap=settings.jobs_backoff_max_seconds,
                rng=rng,
            )
            values = {
                "status": JobStatus.failed.value,
                "error": error,
                "run_at": utcnow() + timedelta(seconds=delay),
            }
    finally:
        if token is not None:
            RENEWER.release(token)
    values["lease_until"] = None
    if values["status"] != JobStatus.failed.value:
        values["finished_at"] = utcnow()
    return values


def _record(session: Session, job: Job, values: dict[str, Any]) -> Outcome:
    """Write ``values`` if this claim still holds the job (still running, same claim token:
    worker and attempts can repeat after a retry, the token of a claim cannot)."""
    held = session.execute(
        update(Job)
        .where(
            Job.id == job.id,
            Job.status == JobStatus.running.value,
            Job.claim_token == job.claim_token,
        )
        .values(**values)
    )
    recorded = bool(getattr(held, "rowcount", 0))
    if not recorded:
        log.warning("job %s: no longer held by %s; its outcome is not recorded", job.id, job.worker)
    return Outcome(job.id, job.kind, values["status"], job.attempts, values.get("error"), recorded)


def run_claimed(
    factory: SessionFactory, settings: Settings, job: Job, *, rng: random.Random | None = None
) -> Outcome:
    """Run a job this worker has claimed and record the outcome (see the module docstring)."""
    values = _attempt(factory, settings, job, rng)
    with unit_of_work(factory) as session:
        return _record(session, job, values)


def run_job(
    factory: SessionFactory, settings: Settings, job_id: int, *, worker: str | None = None
) -> Outcome | None:
    """Run: claim job ``job_id`` if it is due, run it, record the outcome; None if not due."""
    job = claim(factory, settings, job_id, worker=worker or worker_name())
    return None if job is None else run_claimed(factory, settings, job)


def run_due(
    factory: SessionFactory,
    settings: Settings,
    *,
    worker: str | None = None,
    limit: int | None = None,
) -> list[Outcome]:
    """Run: every job due now, one after the other, until none is (or ``limit`` ran).

    A job that fails and is due again at once (no backoff left) is not run twice in one
    drain: each job runs at most once per call.
    """
    outcomes: list[Outcome] = []
    # Only a job that failed can be due again in this drain (succeeded and dead are final, and
    # one taken over by another worker is held): those are left out, not every job seen.
    failed: set[int] = set()
    who = worker or worker_name()
    job = claim_due(factory, settings, worker=who) if limit != 0 else None
    while job is not None:
        values = _attempt(factory, settings, job, None)
        # One transaction records this outcome and claims the next job: a commit per job.
        with unit_of_work(factory) as session:
            outcome = _record(session, job, values)
            if outcome.status == JobStatus.failed:
                failed.add(job.id)
            more = limit is None or len(outcomes) + 1 < limit
            job = _claim_in(session, settings, who, None, frozenset(failed)) if more else None
        outcomes.append(outcome)
    return outcomes


def due_ids(session: Session, *, limit: int = 100) -> list[int]:
    """Ids of jobs due now, oldest first: what a worker's poll wakes up (``limit`` rows of
    each branch of :func:`_due_branches`, by index, then the oldest ``limit`` of those)."""
    rows: list[tuple[datetime, int]] = []
    for stmt in _due_branches(utcnow(), Job.run_at):
        rows.extend((r[0], r[1]) for r in session.execute(stmt.add_columns(Job.id).limit(limit)))
    return [job_id for _run_at, job_id in sorted(rows)[:limit]]
