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

import functools
import json
import logging
import os
import random
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from lms_core.db import SessionFactory, insert_or_winner, unit_of_work
from lms_core.errors import Conflict, LmsError, ValidationError
from lms_core.jobs.claims import (  # the claims are part of the ledger's interface
    MAX_ERROR_CHARS,
    _bounded,
    claim,
    claim_due,
    claim_group_in,
    due_ids,
    lease_for,
)
from lms_core.jobs.heartbeat import RENEWER
from lms_core.jobs.registry import JobContext, get_handler
from lms_core.models import utcnow
from lms_core.models.jobs import Job, JobStatus

if TYPE_CHECKING:
    from lms_core.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "MAX_ERROR_CHARS",
    "Outcome",
    "backoff_seconds",
    "claim",
    "claim_due",
    "claim_group_in",
    "due_ids",
    "enqueue",
    "hold",
    "lease_for",
    "release",
    "run_claimed",
    "run_job",
    "worker_name",
]

#: ``session.info`` key listing the ids of jobs queued in the session's transaction, so the
#: front door can wake a worker once it commits (``jobs.wakeup``); the ledger never does.
QUEUED_INFO_KEY = "lms_jobs_queued"
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
            _insert_fresh(session, job)
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


def _insert_fresh(session: Session, job: Job) -> None:
    """Insert a new ``job`` with one cached Core statement and add it to the session as the
    persistent row it now is: what ``session.add`` and a flush do, at a fraction of the cost
    (a service queuing thousands of jobs in one transaction flushed each on its own)."""
    table: Any = Job.__table__
    values = {c.key: getattr(job, c.key) for c in table.columns if c.key != "id"}
    # None columns are left out, so they are SQL NULL (a JSON column would store 'null').
    inserted = session.connection().execute(
        table.insert(), {k: v for k, v in values.items() if v is not None}
    )
    key: Any = inserted.inserted_primary_key
    job.id = int(key[0])
    for name, value in values.items():
        setattr(job, name, value)  # every column loaded: nothing is read back later
    make_transient_to_detached(job)
    session.add(job)


def backoff_seconds(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds before retry number ``attempt`` (1 after the first failure): "full jitter",
    uniform in [0, min(cap, base * 2**(attempt-1))], so failed jobs spread out instead of
    retrying in step (AWS Architecture Blog, "Exponential Backoff And Jitter")."""
    ceiling = min(cap, base * 2 ** min(max(attempt - 1, 0), 62))
    return (rng or random).uniform(0, ceiling)


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
    """Call the handler of a claimed job (its caller holds the claim in :data:`RENEWER`, so
    its lease is renewed meanwhile); the column values that record how it went."""
    context = JobContext(factory, settings, job.id, job.attempts, job.key)
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
    values["lease_until"] = None
    values["attempts"] = job.attempts  # a job claimed behind another in a group counts it now
    if values["status"] != JobStatus.failed.value:
        values["finished_at"] = utcnow()
    return values


@functools.cache
def _record_statement(columns: tuple[str, ...]) -> Any:
    """The fenced UPDATE writing ``columns`` (one compiled statement per set of columns)."""
    table: Any = Job.__table__
    return (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.status == JobStatus.running.value,
            table.c.claim_token == bindparam("b_token"),
        )
        .values({name: bindparam(f"v_{name}") for name in columns})
    )


def _record(session: Session, job: Job, values: dict[str, Any]) -> Outcome:
    """Write ``values`` if this claim still holds the job (still running, same claim token:
    worker and attempts can repeat after a retry, the token of a claim cannot)."""
    columns = tuple(sorted(values))
    params = {f"v_{name}": values[name] for name in columns}
    held = session.connection().execute(
        _record_statement(columns), {"b_id": job.id, "b_token": job.claim_token, **params}
    )
    recorded = bool(getattr(held, "rowcount", 0))
    if not recorded:
        log.warning("job %s: no longer held by %s; its outcome is not recorded", job.id, job.worker)
    return Outcome(job.id, job.kind, values["status"], job.attempts, values.get("error"), recorded)


def run_claimed(
    factory: SessionFactory, settings: Settings, job: Job, *, rng: random.Random | None = None
) -> Outcome:
    """Run a job this worker has claimed and record the outcome (see the module docstring)."""
    hold(factory, settings, [job])
    try:
        values = _attempt(factory, settings, job, rng)
        with unit_of_work(factory) as session:
            return _record(session, job, values)
    finally:
        release([job])


def hold(factory: SessionFactory, settings: Settings, jobs: list[Job]) -> None:
    """Renew the leases of claimed ``jobs`` until :func:`release` (:mod:`heartbeat`)."""
    for job in jobs:
        if job.claim_token is not None:
            RENEWER.hold(factory, job.id, job.claim_token, lease_for(settings, job.kind))


def release(jobs: list[Job]) -> None:
    """Stop renewing: the outcomes of ``jobs`` are written (or could not be)."""
    for job in jobs:
        if job.claim_token is not None:
            RENEWER.release(job.claim_token)


def run_job(
    factory: SessionFactory, settings: Settings, job_id: int, *, worker: str | None = None
) -> Outcome | None:
    """Run: claim job ``job_id`` if it is due, run it, record the outcome; None if not due."""
    job = claim(factory, settings, job_id, worker=worker or worker_name())
    return None if job is None else run_claimed(factory, settings, job)
