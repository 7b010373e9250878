"""Events are written in the transaction of the change, and cost almost nothing unheard."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select

from lms_core import events
from lms_core.db import unit_of_work
from lms_core.errors import ValidationError
from lms_core.models import Event, Job, User, WebhookDelivery
from lms_core.settings import Settings
from tests.webhooks.helpers import Factory, add, new_user


def _count(factory: Factory, model: Any) -> int:
    with unit_of_work(factory, write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_event_rolls_back_with_the_change(session_factory: Factory, settings: Settings) -> None:
    add(session_factory, settings, "https://hooks.example.org/a", ["user.created"])
    with pytest.raises(RuntimeError), unit_of_work(session_factory) as session:
        from lms_core.accounts.fields import UserCreate
        from lms_core.accounts.users import create_user
        from tests.webhooks.helpers import OPERATOR

        create_user(
            session, actor=OPERATOR, data=UserCreate(email="x@school.example", full_name="X")
        )
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
        raise RuntimeError("the change fails after the event was written")
    assert [_count(session_factory, m) for m in (User, Event, WebhookDelivery, Job)] == [0, 0, 0, 0]
    new_user(session_factory)
    assert [_count(session_factory, m) for m in (User, Event, WebhookDelivery, Job)] == [1, 1, 1, 1]
    with unit_of_work(session_factory, write=False) as session:
        job = session.scalars(select(Job)).one()
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert (job.kind, job.key) == ("webhooks.deliver", f"delivery:{delivery.id}")


def test_only_subscribed_enabled_endpoints_get_a_delivery(
    session_factory: Factory, settings: Settings
) -> None:
    add(session_factory, settings, "https://hooks.example.org/users", ["user.created"])
    add(session_factory, settings, "https://hooks.example.org/all", ["*"])
    add(session_factory, settings, "https://hooks.example.org/certs", ["certificate.issued"])
    new_user(session_factory)
    with unit_of_work(session_factory, write=False) as session:
        targets = sorted(d.endpoint_id for d in session.scalars(select(WebhookDelivery)))
    assert len(targets) == 2
    with unit_of_work(session_factory) as session, pytest.raises(ValidationError):
        events.emit(session, "user.exploded", {})


def test_no_endpoint_means_one_query_per_transaction_and_no_rows(
    session_factory: Factory, connection: Any
) -> None:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", seen)
    try:
        with unit_of_work(session_factory) as session:
            for n in range(50):
                assert events.emit(session, "user.created", {"user_id": n}) is None
    finally:
        event.remove(connection, "before_cursor_execute", seen)
    assert len([s for s in statements if "webhook_endpoints" in s]) == 1
    assert not [s for s in statements if "INSERT" in s.upper()]
    assert _count(session_factory, Event) == 0


def test_payload_never_carries_secrets(session_factory: Factory, settings: Settings) -> None:
    add(session_factory, settings, "https://hooks.example.org/a")
    with unit_of_work(session_factory) as session:
        events.emit(
            session,
            "user.created",
            {"user_id": 1, "password_hash": "$argon2id$...", "token": "t", "email": "a@b.example"},
        )
    with unit_of_work(session_factory, write=False) as session:
        assert session.scalars(select(Event.payload)).one() == {
            "user_id": 1,
            "email": "a@b.example",
        }


def test_keyed_event_is_recorded_once(session_factory: Factory, settings: Settings) -> None:
    add(session_factory, settings, "https://hooks.example.org/a")
    with unit_of_work(session_factory) as session:
        first = events.emit(session, "import.applied", {"run_id": 7}, key="import.applied:7")
        again = events.emit(session, "import.applied", {"run_id": 7}, key="import.applied:7")
    assert first == again and _count(session_factory, WebhookDelivery) == 1
