"""Every service that makes a change emits its event: the demo school, a revoke, an import."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import Certificate, Event, WebhookDelivery
from lms_core.settings import Settings
from tests.cli.helpers import ok
from tests.conftest import Cli
from tests.webhooks.helpers import Factory, add


def test_services_emit_their_events(
    hook_cli: Cli,
    session: Session,
    session_factory: Factory,
    webhook_settings: Settings,
    tmp_path: Path,
) -> None:
    add(session_factory, webhook_settings, "https://hooks.example.org/all")
    add(
        session_factory,
        webhook_settings,
        "https://hooks.example.org/certs",
        ["certificate.revoked"],
    )
    ok(hook_cli("demo", "seed"))
    assert Counter(session.scalars(select(Event.type))) == {
        "user.created": 3,
        "enrollment.created": 2,
        "enrollment.completed": 1,
        "certificate.issued": 1,
        "quiz.attempt.graded": 1,
        "submission.graded": 1,
    }
    number = session.scalars(select(Certificate.number)).one()
    ok(hook_cli("certificates", "revoke", number, "--reason", "issued by mistake"))
    revoked = session.scalars(select(Event).where(Event.type == "certificate.revoked")).one()
    assert revoked.payload["number"] == number
    assert revoked.payload["revoked_reason"] == "issued by mistake"
    assert (
        len(
            session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.event_id == revoked.id)
            ).all()
        )
        == 2
    )

    csv = tmp_path / "users.csv"
    rows = "".join(f"learner{n}@school.example,Learner {n},student\n" for n in range(30))
    csv.write_text("email,full_name,role\n" + rows, encoding="utf-8")
    ok(hook_cli("import", "users", str(csv)))
    types = Counter(session.scalars(select(Event.type)))
    assert types["user.created"] == 3  # a bulk import emits one import.applied, not a row each
    applied = session.scalars(select(Event).where(Event.type == "import.applied")).one()
    assert applied.payload["entity"] == "users" and applied.payload["file_name"] == "users.csv"
    assert applied.payload["counts"]["create"] == 30
    for event in session.scalars(select(Event)):
        text = str(event.payload)
        assert "argon2" not in text and "token" not in text
