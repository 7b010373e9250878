"""Job handlers by kind: ``@handler("mail.send")`` registers ``fn(ctx, args) -> dict``.

A handler runs outside any transaction of the caller that queued it, maybe in another
process, maybe twice (a worker killed mid-job loses its lease and the job runs again), so:

* it takes ids and plain values in ``args`` and opens its own units of work with
  ``ctx.session_factory``, like a run;
* its effect is idempotent by a unique key (``ctx.key``, or a key of the e-mail, delivery or
  file it produces): check, then act, in the same transaction as the record of the effect
  (docs/jobs.md, "Exactly once");
* it returns a small JSON summary for the ledger's ``result``; raising fails the attempt,
  which is retried with backoff until ``max_attempts``.

The modules holding handlers are listed in :data:`HANDLER_MODULES` and imported on first use,
so importing this module registers nothing and loads no area.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lms_core.errors import NotFound

if TYPE_CHECKING:
    from lms_core.db import SessionFactory
    from lms_core.settings import Settings

#: Modules whose ``@handler`` functions make up every job kind; imported on first lookup.
HANDLER_MODULES: tuple[str, ...] = (
    "lms_core.jobs.maintenance",
    "lms_core.mail.jobs",
    "lms_core.dropfolder.jobs",
    "lms_core.imports.jobs",
    "lms_core.automation.jobs",
    "lms_core.webhooks.jobs",
    "lms_core.exports.jobs",
    "lms_core.backups.jobs",
)

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_LEASE_SECONDS = 300


@dataclass(frozen=True)
class JobContext:
    """What a handler gets besides its arguments: where the database is, and which job runs."""

    session_factory: SessionFactory
    settings: Settings
    job_id: int
    #: 1 for the first attempt; more after a failure or after a worker died holding the job.
    attempt: int
    #: The job's idempotency key: the natural key of an effect that has no better one.
    key: str


HandlerFn = Callable[[JobContext, dict[str, Any]], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Handler:
    kind: str
    fn: HandlerFn
    #: Attempts before the job is dead (a queued job may ask for another number).
    max_attempts: int
    #: How long a claim holds the job: longer than the handler ever takes, or it runs twice.
    lease_seconds: int
    #: May share a claim with other jobs of its kind (:mod:`lms_core.jobs.groups`): only for
    #: trivially short, idempotent kinds, since the jobs of a group wait for each other.
    groupable: bool = False


_handlers: dict[str, Handler] = {}
_loaded = False


def handler(
    kind: str,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    groupable: bool = False,
) -> Callable[[HandlerFn], HandlerFn]:
    """Register ``fn`` as the handler of ``kind``; a kind has exactly one handler.
    ``groupable``: its jobs may be claimed and run in groups (see :class:`Handler`)."""
    if max_attempts < 1 or lease_seconds < 1:
        raise ValueError(f"{kind}: max_attempts and lease_seconds must be at least 1")

    def register(fn: HandlerFn) -> HandlerFn:
        existing = _handlers.get(kind)
        if existing is not None and existing.fn is not fn:
            same = (existing.fn.__module__, existing.fn.__qualname__) == (
                fn.__module__,
                fn.__qualname__,
            )
            if not same:  # a module imported twice re-registers itself; two modules may not
                raise ValueError(f"job kind {kind!r} already has a handler: {existing.fn!r}")
        _handlers[kind] = Handler(kind, fn, max_attempts, lease_seconds, groupable)
        return fn

    return register


def load_handlers() -> None:
    """Import every module of :data:`HANDLER_MODULES` once (their decorators register)."""
    global _loaded
    if _loaded:
        return
    for name in HANDLER_MODULES:
        importlib.import_module(name)
    _loaded = True


def get_handler(kind: str) -> Handler:
    """The handler of ``kind``, or NotFound naming the kinds there are."""
    load_handlers()
    found = _handlers.get(kind)
    if found is None:
        raise NotFound(
            f"no handler for job kind {kind!r}; known kinds: {', '.join(kinds())}",
            field="kind",
            value=kind,
        )
    return found


def kinds() -> list[str]:
    """Every registered job kind, sorted."""
    load_handlers()
    return sorted(_handlers)
