"""Webhooks: endpoints that receive domain events, the event outbox, and the delivery log.

An event row is written by :func:`lms_core.events.emit` in the transaction of the change it
reports, together with one delivery row per enabled endpoint subscribed to its type (and a
``webhooks.deliver`` job, or one ``webhooks.deliver_many`` job per endpoint for the deliveries
of one transaction): the change, its events and their deliveries commit or roll
back together (the transactional outbox, as ``mail_outbox``). docs/webhooks.md.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.models.base import Base, utcnow
from lms_core.models.users import _in


class DeliveryStatus(StrEnum):
    #: Waiting for its job (first try, or a retry after a failed attempt).
    pending = "pending"
    #: The endpoint answered 2xx.
    succeeded = "succeeded"
    #: Not delivered and not retried by itself: its endpoint is disabled (``replay`` resends).
    failed = "failed"
    #: Every attempt failed (about a day of retries); ``replay`` resends it.
    dead = "dead"


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (CheckConstraint("consecutive_failures >= 0", name="failures_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    #: Event types it receives; ``["*"]`` for every type.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The signing secret, as given (the stdlib cannot encrypt it and the database must be
    #: able to sign): whoever reads this table can forge deliveries (docs/webhooks.md).
    secret: Mapped[str] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(default=True)
    #: Failed attempts in a row (any delivery); a 2xx answer resets it.
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    #: When the current run of failures started (None while the endpoint works).
    failing_since: Mapped[datetime | None]
    #: Why it was disabled (by an administrator, or after too many failures).
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_type_id", "type", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``user.created``, ``enrollment.completed``... (lms_core.events.EVENT_TYPES).
    type: Mapped[str] = mapped_column(String(100))
    #: Ids and the seed's field names; never a password hash or a token.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Names the change (``certificate.issued:<number>``); the same key twice is one event.
    key: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", DeliveryStatus), name="status_valid"),
        CheckConstraint("attempts >= 0", name="attempts_positive"),
        Index("ix_webhook_deliveries_endpoint_status", "endpoint_id", "status"),
        Index("ix_webhook_deliveries_event_id", "event_id"),
    )

    #: A UUID (hex): the ``Webhook-Id`` header, the same for every attempt and replay, so a
    #: receiver can drop duplicates.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.pending.value)
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None]
    last_duration_ms: Mapped[int | None]
    #: The start of the last answer's body, or the connection error (at most 500 characters).
    response_excerpt: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
