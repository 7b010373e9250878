"""The ``webhooks.deliver`` job: one attempt of one delivery (``delivery.deliver``); the
``webhooks.deliver_many`` job: a batch of deliveries to one endpoint (``batch.deliver_many``).

Twenty attempts with the ledger's backoff (full jitter, 30 s doubling, capped at six hours:
``LMS_JOBS_BACKOFF_BASE_SECONDS`` / ``_MAX_SECONDS``) span about a day and a quarter on
average, so an endpoint down for a night loses nothing (docs/webhooks.md, "Retries").
"""

from __future__ import annotations

from typing import Any

from lms_core.events import BATCH_MAX_ATTEMPTS
from lms_core.jobs.registry import JobContext, handler

MAX_ATTEMPTS = 20
#: Longer than the 10 s a request may take, with room for two short transactions.
LEASE_SECONDS = 120


@handler("webhooks.deliver", max_attempts=MAX_ATTEMPTS, lease_seconds=LEASE_SECONDS)
def deliver_webhook(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    from lms_core.webhooks.delivery import deliver

    return deliver(ctx.session_factory, ctx.settings, str(args["delivery_id"]), ctx.job_id)


#: A batch posts up to a hundred deliveries (the lease is renewed while it runs).
BATCH_LEASE_SECONDS = 600


@handler(
    "webhooks.deliver_many", max_attempts=BATCH_MAX_ATTEMPTS, lease_seconds=BATCH_LEASE_SECONDS
)
def deliver_webhooks(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Up to a hundred deliveries to one endpoint over one connection (``batch.deliver_many``)."""
    from lms_core.webhooks.batch import deliver_many

    ids = [str(i) for i in args["delivery_ids"]]
    return deliver_many(ctx.session_factory, ctx.settings, ids, ctx.job_id)


@handler("webhooks.sweep", max_attempts=3)
def sweep_webhooks(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Deliveries left ``pending`` by a job that died on its last attempt become ``dead``."""
    from lms_core.db import unit_of_work
    from lms_core.webhooks.delivery import sweep_dead

    with unit_of_work(ctx.session_factory) as session:
        return {"marked_dead": sweep_dead(session)}
