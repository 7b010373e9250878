"""Helpers of the webhook tests: add an endpoint, run due jobs, read deliveries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.db import unit_of_work
from lms_core.jobs.groups import run_due
from lms_core.jobs.ledger import Outcome
from lms_core.models.webhooks import WebhookDelivery, WebhookEndpoint
from lms_core.settings import Settings
from lms_core.webhooks.endpoints import add_endpoint
from tests.webhooks.conftest import SECRET

Factory = Callable[[], Session]
OPERATOR = Actor.operator("pytest")


def add(factory: Factory, settings: Settings, url: str, events: list[str] | None = None) -> int:
    with unit_of_work(factory) as session:
        endpoint = add_endpoint(
            session, settings, actor=OPERATOR, url=url, events=events or ["*"], secret=SECRET
        )
        return endpoint.id


def drain(factory: Factory, settings: Settings) -> list[Outcome]:
    return run_due(factory, settings)


def deliveries(factory: Factory) -> list[WebhookDelivery]:
    with unit_of_work(factory, write=False) as session:
        stmt = select(WebhookDelivery).order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        return list(session.scalars(stmt))


def endpoint(factory: Factory, endpoint_id: int) -> WebhookEndpoint:
    with unit_of_work(factory, write=False) as session:
        return session.get_one(WebhookEndpoint, endpoint_id)


def new_user(factory: Factory, email: str = "ada@school.example") -> Any:
    from lms_core.accounts.fields import UserCreate
    from lms_core.accounts.users import create_user

    with unit_of_work(factory) as session:
        user, _ = create_user(
            session, actor=OPERATOR, data=UserCreate(email=email, full_name="Ada Lovelace")
        )
        return user.id
