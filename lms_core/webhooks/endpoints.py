"""The administrator's webhook services: add, list, enable/disable, deliveries, replay, test.

Services (flush, never commit; the caller owns the transaction), admin only. A secret is
never returned by any of them: rows carry ``has_secret`` instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.errors import Conflict, NotFound, ValidationError
from lms_core.events import EVENT_TYPES, TEST_EVENT, enqueue_delivery, forget_endpoints, record
from lms_core.models import utcnow
from lms_core.models.jobs import Job
from lms_core.models.webhooks import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from lms_core.permissions import require_admin
from lms_core.settings import Settings
from lms_core.webhooks import http

MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 500


def endpoint_row(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": ",".join(endpoint.events),
        "enabled": endpoint.enabled,
        "consecutive_failures": endpoint.consecutive_failures,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at,
    }


def delivery_row(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_duration_ms": delivery.last_duration_ms,
        "response_excerpt": delivery.response_excerpt,
        "next_attempt_at": delivery.next_attempt_at,
        "created_at": delivery.created_at,
        "delivered_at": delivery.delivered_at,
    }


def check_events(events: list[str]) -> list[str]:
    """The subscribed types, each known; ``["*"]`` for all."""
    if events == ["*"]:
        return events
    cleaned = sorted({e.strip() for e in events if e.strip()})
    if not cleaned:
        raise ValidationError("name at least one event type, or all of them", field="events")
    unknown = [e for e in cleaned if e not in EVENT_TYPES]
    if unknown:
        raise ValidationError(
            f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}",
            field="events",
            value=",".join(unknown),
        )
    return cleaned


def check_secret(secret: str) -> str:
    secret = secret.strip()
    if not MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS:
        raise ValidationError(
            f"must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')",
            field="secret",
        )
    return secret


def check_target(url: str, settings: Settings) -> str:
    """The URL, refused when it is malformed or names a private address literally (a host
    name is checked at each delivery, when it is resolved)."""
    target = http.parse_url(url)
    address = http.literal_address(target.host)
    if address is not None and not settings.webhooks_allow_private:
        reason = http.forbidden_reason(address)
        if reason is not None:
            raise ValidationError(f"{reason} ({http.ALLOW_HINT})", field="url", value=url)
    return url.strip()


def add_endpoint(
    session: Session,
    settings: Settings,
    *,
    actor: Actor,
    url: str,
    events: list[str],
    secret: str,
) -> WebhookEndpoint:
    require_admin(actor, "add webhook endpoints")
    endpoint = WebhookEndpoint(
        url=check_target(url, settings),
        events=check_events(events),
        secret=check_secret(secret),
        enabled=True,
        consecutive_failures=0,
        created_at=utcnow(),
    )
    session.add(endpoint)
    session.flush()
    forget_endpoints(session)
    after = {"url": endpoint.url, "events": endpoint.events}
    audit.record(session, actor, "webhook.add", endpoint, after=after)
    return endpoint


def get_endpoint(session: Session, *, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    require_admin(actor, "see webhook endpoints")
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint #{endpoint_id}", field="id", value=endpoint_id)
    return endpoint


def endpoints_query(session: Session, *, actor: Actor) -> Select[Any]:
    require_admin(actor, "list webhook endpoints")
    return select(WebhookEndpoint).order_by(WebhookEndpoint.id)


def set_enabled(
    session: Session, *, actor: Actor, endpoint_id: int, enabled: bool
) -> WebhookEndpoint:
    """Disable (pending deliveries become ``failed``) or enable (failure count reset)."""
    from lms_core.webhooks.delivery import stop_pending

    endpoint = get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    before = {"enabled": endpoint.enabled}
    endpoint.enabled = enabled
    if enabled:
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
        endpoint.disabled_reason = None
    else:
        endpoint.disabled_reason = f"disabled by {actor.label}"
        stop_pending(session, endpoint.id)
    session.flush()
    forget_endpoints(session)
    action = "webhook.enable" if enabled else "webhook.disable"
    audit.record(session, actor, action, endpoint, before=before, after={"enabled": enabled})
    return endpoint


def deliveries_query(
    session: Session, *, actor: Actor, endpoint_id: int | None = None, status: str | None = None
) -> Select[Any]:
    require_admin(actor, "list webhook deliveries")
    stmt = select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        if status not in DeliveryStatus.__members__:
            choices = ", ".join(DeliveryStatus.__members__)
            raise ValidationError(f"must be one of {choices}", field="status", value=status)
        stmt = stmt.where(WebhookDelivery.status == status)
    return stmt


def next_attempt(session: Session, delivery: WebhookDelivery) -> datetime | None:
    """When a pending delivery's job runs next (the ledger decides, with backoff)."""
    if delivery.status != DeliveryStatus.pending.value:
        return None
    stmt = (
        select(Job.run_at)
        .where(Job.key.startswith(f"delivery:{delivery.id}"), Job.status.in_(["queued", "failed"]))
        .order_by(Job.id.desc())
    )
    # A delivery sent by a batch has no job of its own: its row says when its batch runs.
    return session.scalars(stmt).first() or delivery.next_attempt_at


def _resend(session: Session, delivery: WebhookDelivery) -> None:
    delivery.status = DeliveryStatus.pending.value
    delivery.next_attempt_at = utcnow()
    session.flush()
    enqueue_delivery(session, delivery.id, attempt=delivery.attempts + 1)


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise Conflict(
            f"webhook endpoint #{endpoint.id} is disabled ({endpoint.disabled_reason}); "
            "enable it first",
            field="endpoint",
            value=endpoint.id,
        )


def replay(
    session: Session, *, actor: Actor, delivery_id: str, dry_run: bool = False
) -> WebhookDelivery:
    """Send a delivery again (same delivery id, a new job): any status but ``pending``.

    ``dry_run`` only checks (the delivery exists, is not pending, its endpoint is enabled):
    nothing is changed, queued or audited, so the caller may even commit."""
    require_admin(actor, "replay webhook deliveries")
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}", field="id", value=delivery_id)
    if delivery.status == DeliveryStatus.pending.value:
        raise Conflict(
            f"delivery {delivery_id} is pending already: its job will send it",
            field="id",
            value=delivery_id,
        )
    endpoint = get_endpoint(session, actor=actor, endpoint_id=delivery.endpoint_id)
    _require_enabled(endpoint)
    if dry_run:
        return delivery
    _resend(session, delivery)
    audit.record(session, actor, "webhook.replay", endpoint, after={"delivery": delivery.id})
    return delivery


def replay_since(
    session: Session, *, actor: Actor, endpoint_id: int, since: datetime, dry_run: bool = False
) -> list[WebhookDelivery]:
    """Send again every failed or dead delivery of an endpoint created since ``since``."""
    endpoint = get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    _require_enabled(endpoint)
    stmt = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status.in_([DeliveryStatus.failed.value, DeliveryStatus.dead.value]),
            WebhookDelivery.created_at >= since,
        )
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
    )
    found = list(session.scalars(stmt))
    if not dry_run:
        for delivery in found:
            _resend(session, delivery)
        audit.record(session, actor, "webhook.replay", endpoint, after={"deliveries": len(found)})
    return found


def prepare_test(
    session: Session, *, actor: Actor, endpoint_id: int
) -> tuple[WebhookEndpoint, WebhookDelivery]:
    """A ``webhook.test`` event and its delivery, not queued: ``webhooks test`` sends it now."""
    endpoint = get_endpoint(session, actor=actor, endpoint_id=endpoint_id)
    payload = {"endpoint_id": endpoint.id, "sent_by": actor.label}
    event_id = record(session, TEST_EVENT, payload, [endpoint.id], queue=False)
    delivery = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.event_id == event_id)
    ).one()
    return endpoint, delivery
