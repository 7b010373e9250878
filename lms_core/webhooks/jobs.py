"""The ``webhooks.deliver`` job: one attempt of one delivery (``delivery.deliver``).

Twenty attempts with the ledger's backoff (full jitter, 30 s doubling, capped at six hours:
``LMS_JOBS_BACKOFF_BASE_SECONDS`` / ``_MAX_SECONDS``) span about a day and a quarter on
average, so an endpoint down for a night loses nothing (docs/webhooks.md, "Retries").
"""

from __future__ import annotations

from typing import Any

from lms_core.jobs.registry import JobContext, handler

MAX_ATTEMPTS = 20
#: Longer than the 10 s a request may take, with room for two short transactions.
LEASE_SECONDS = 120


@handler("webhooks.deliver", max_attempts=MAX_ATTEMPTS, lease_seconds=LEASE_SECONDS)
def deliver_webhook(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    from lms_core.webhooks.delivery import deliver

    return deliver(ctx.session_factory, ctx.settings, str(args["delivery_id"]), ctx.job_id)


@handler("webhooks.sweep", max_attempts=3)
def sweep_webhooks(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Deliveries left ``pending`` by a job that died on its last attempt become ``dead``."""
    from lms_core.db import unit_of_work
    from lms_core.webhooks.delivery import sweep_dead

    with unit_of_work(ctx.session_factory) as session:
        return {"marked_dead": sweep_dead(session)}
