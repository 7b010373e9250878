"""One attempt of one delivery (the ``webhooks.deliver`` job), recorded in the delivery log.

1. One transaction reads the delivery, its event and endpoint. A delivery already
   ``succeeded`` is not sent again (a job run twice); one whose endpoint is disabled is
   marked ``failed`` and not sent.
2. The POST goes out with no transaction open (:mod:`lms_core.webhooks.http`).
3. One transaction records the attempt: status code, duration, response excerpt. A 2xx answer
   makes it ``succeeded`` and resets the endpoint's failure count; anything else counts a
   failure against the endpoint (which is disabled after ``webhooks_disable_after_failures``
   failures in a row spanning ``webhooks_disable_after_hours``), and the job raises so the
   ledger retries it with backoff; after its last attempt the delivery is ``dead``.

A worker killed between the answer and step 3 sends it again when the lease expires, with
the same ``Webhook-Id``: receivers drop duplicates by that id (docs/webhooks.md). A worker
killed during the *last* attempt leaves the delivery ``pending``: the ledger marks the job
``dead`` when it next claims it, without running this module; :func:`sweep_dead` (the
``webhooks.sweep`` job, every 10 minutes) then marks such deliveries ``dead`` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, literal, or_, select, update

from lms_core.db import SessionFactory, unit_of_work
from lms_core.errors import LmsError
from lms_core.events import DELIVER_MANY_KIND
from lms_core.models import utcnow
from lms_core.models.jobs import Job, JobStatus
from lms_core.models.webhooks import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from lms_core.settings import Settings
from lms_core.webhooks import http
from lms_core.webhooks.signing import body_of, headers_for

ENDPOINT_DISABLED = "not sent: its endpoint is disabled"


class DeliveryFailed(LmsError):
    """An attempt that a retry may fix (the ledger retries the job)."""


@dataclass(frozen=True)
class Prepared:
    url: str
    body: bytes
    headers: dict[str, str]


def prepare(endpoint: WebhookEndpoint, delivery_id: str, event: Event) -> Prepared:
    body = body_of(delivery_id, event.type, event.created_at, dict(event.payload))
    return Prepared(endpoint.url, body, headers_for(endpoint.secret, delivery_id, body))


def send(prepared: Prepared, settings: Settings) -> http.Answer:
    """POST it; a target the SSRF guard refuses is an answer with no code (nothing sent)."""
    try:
        return http.post(
            prepared.url,
            prepared.body,
            prepared.headers,
            allow_private=settings.webhooks_allow_private,
            timeout=settings.webhooks_timeout_seconds,
        )
    except http.Refused as exc:
        return http.Answer(None, 0, str(exc)[: http.EXCERPT_CHARS])


def describe(answer: http.Answer) -> str:
    code = "no answer" if answer.status_code is None else f"HTTP {answer.status_code}"
    return f"{code} in {answer.duration_ms} ms: {answer.excerpt[:200]}"


def _failure(settings: Settings, endpoint: WebhookEndpoint, answer: http.Answer) -> bool:
    """Count a failed attempt against ``endpoint``; True when it is now disabled."""
    now = utcnow()
    endpoint.consecutive_failures += 1
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    long_enough = now - endpoint.failing_since >= timedelta(
        hours=settings.webhooks_disable_after_hours
    )
    if endpoint.consecutive_failures >= settings.webhooks_disable_after_failures and long_enough:
        endpoint.enabled = False
        endpoint.disabled_reason = (
            f"disabled after {endpoint.consecutive_failures} failed attempts in a row since "
            f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC; last: {describe(answer)}"
        )
        return True
    return False


def record(
    session: Any,
    settings: Settings,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    answer: http.Answer,
    *,
    last_attempt: bool,
) -> str:
    """Write one attempt's outcome; the delivery's new status."""
    delivery.attempts += 1
    delivery.last_status_code = answer.status_code
    delivery.last_duration_ms = answer.duration_ms
    delivery.response_excerpt = answer.excerpt[: http.EXCERPT_CHARS]
    if answer.ok:
        delivery.status = DeliveryStatus.succeeded.value
        delivery.delivered_at = utcnow()
        delivery.next_attempt_at = None
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
        return delivery.status
    disabled = _failure(settings, endpoint, answer)
    delivery.next_attempt_at = None
    if disabled:
        delivery.status = DeliveryStatus.failed.value
        stop_pending(session, endpoint.id)
    elif last_attempt:
        delivery.status = DeliveryStatus.dead.value
    return delivery.status


def stop_pending(session: Any, endpoint_id: int) -> None:
    """Mark the pending deliveries of a disabled endpoint ``failed`` (``replay`` resends)."""
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == DeliveryStatus.pending.value,
        )
        .values(status=DeliveryStatus.failed.value, next_attempt_at=None)
    )


def deliver(
    factory: SessionFactory, settings: Settings, delivery_id: str, job_id: int | None = None
) -> dict[str, Any]:
    """Run one attempt of ``delivery_id`` (see the module docstring); a summary for the job.

    Raises :class:`DeliveryFailed` when the attempt failed and the job has attempts left.
    """
    with unit_of_work(factory) as session:
        found = session.execute(
            select(WebhookDelivery, WebhookEndpoint, Event)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id)
        ).one_or_none()
        if found is None:
            return {"delivery_id": delivery_id, "skipped": "no such delivery"}
        delivery, endpoint, event = found
        if delivery.status == DeliveryStatus.succeeded.value:
            return {"delivery_id": delivery_id, "skipped": "already succeeded"}
        if not endpoint.enabled:
            delivery.status = DeliveryStatus.failed.value
            delivery.response_excerpt = ENDPOINT_DISABLED
            return {"delivery_id": delivery_id, "skipped": ENDPOINT_DISABLED}
        prepared = prepare(endpoint, delivery.id, event)
    answer = send(prepared, settings)
    with unit_of_work(factory) as session:
        stmt = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
        delivery = session.scalars(stmt).one()
        endpoint = session.get_one(WebhookEndpoint, delivery.endpoint_id, with_for_update=True)
        last = True
        if job_id is not None:
            job = session.get(Job, job_id)
            last = job is None or job.attempts >= job.max_attempts
        status = record(session, settings, delivery, endpoint, answer, last_attempt=last)
    summary = {
        "delivery_id": delivery_id,
        "status": status,
        "status_code": answer.status_code,
        "duration_ms": answer.duration_ms,
    }
    if status == DeliveryStatus.pending.value:
        raise DeliveryFailed(f"delivery {delivery_id}: {describe(answer)}")
    return summary


def sweep_dead(session: Any) -> int:
    """Mark ``dead`` every pending delivery whose job is dead with no live job left for it
    (a worker killed on the last attempt: the ledger gave up on the job in its claim path, so
    :func:`deliver` never recorded it); how many. ``replay`` resends them. A batch
    (``webhooks.deliver_many``) names its deliveries in its arguments: those of a dead batch
    that no live batch took over are dead too."""
    prefix = literal("delivery:") + WebhookDelivery.id
    jobs_of_it = Job.key.startswith(prefix, autoescape=False)
    live = [JobStatus.queued.value, JobStatus.running.value, JobStatus.failed.value]
    dead_job = exists().where(jobs_of_it, Job.status == JobStatus.dead.value)
    live_job = exists().where(jobs_of_it, Job.status.in_(live))
    # Read the pending deliveries before the batches (a hand-off commits its new batch with
    # the failures it records: a delivery seen pending has its live batch visible after).
    pending = set(
        session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.status == DeliveryStatus.pending.value)
        )
    )
    orphans: set[str] = set()
    if pending:
        batches = session.execute(
            select(Job.status, Job.args).where(Job.kind == DELIVER_MANY_KIND)
        ).all()
        in_dead = {
            str(i)
            for status, args in batches
            if status == JobStatus.dead.value
            for i in args.get("delivery_ids", ())
        }
        in_live = {
            str(i)
            for status, args in batches
            if status in live
            for i in args.get("delivery_ids", ())
        }
        orphans = (pending & in_dead) - in_live
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == DeliveryStatus.pending.value,
            ~live_job,
            or_(dead_job, WebhookDelivery.id.in_(sorted(orphans))),
        )
        .values(
            status=DeliveryStatus.dead.value,
            next_attempt_at=None,
            response_excerpt="dead: its job gave up (a worker stopped during the last attempt)",
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
