"""Mail not configured yet, then configured: nothing dies, the sweep sends what waited; sent
mails keep no working link; old rows are pruned."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from jobs.dispatch import queue_periodic
from jobs.schedule import SCHEDULE
from lms_core.jobs.groups import run_due
from lms_core.jobs.ledger import enqueue
from lms_core.mail.outbox import queue_mail
from lms_core.models import MailStatus, OutboxMail, utcnow
from lms_core.models.jobs import Job
from lms_core.settings import Settings
from tests.cli.helpers import ok
from tests.conftest import Cli
from tests.mail.smtp_server import Server

Factory = Callable[[], Session]


def next_sweep(factory: Factory) -> None:
    """The sweep's next slot (five minutes on), as the scheduler would queue it."""
    [entry] = [e for e in SCHEDULE if e.kind == "mail.sweep"]
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert queue_periodic(factory, entry, later) is not None


def outbox(factory: Factory) -> list[OutboxMail]:
    with factory() as session:
        return list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def test_mail_waits_for_smtp_then_the_sweep_sends_it_once(
    cli: Cli, mail_cli: Cli, smtp_server: Server, make: Any
) -> None:
    ada = make.user(password=None)
    grace = make.user()
    ok(cli("users", "invite", ada.email))
    ok(cli("users", "reset-password", grace.email, "--token"))
    for _ in range(3):  # every minute from cron: exit 0, nothing dies, the rows stay queued
        result = ok(cli("jobs", "run-due", "--json"))
        assert json.loads(result.stdout)["ok"] is True
    assert [m.status for m in outbox(cli.factory)] == ["queued", "queued"]
    with cli.factory() as session:
        mail_jobs = session.scalars(select(Job).where(Job.kind.like("mail.send%"))).all()
        assert len(mail_jobs) == 2  # the invitation's batch job, the reset's job
        for job in mail_jobs:
            assert job.status == "succeeded" and job.attempts == 1
            assert job.result and job.result["skipped"] == "not configured: left queued"
    assert smtp_server.messages == []
    # SMTP configured: the next sweep queues a new job for each waiting mail, run-due sends.
    next_sweep(mail_cli.factory)
    ok(mail_cli("jobs", "run-due"))
    assert sorted(m["To"] for m in smtp_server.messages) == sorted([ada.email, grace.email])
    assert [m.status for m in outbox(cli.factory)] == ["sent", "sent"]
    next_sweep(mail_cli.factory)  # a sweep that finds nothing to do; idempotent
    ok(mail_cli("jobs", "run-due"))
    assert len(smtp_server.messages) == 2


def test_a_mail_whose_job_died_is_sent_by_the_sweep(
    session_factory: Factory, mail_settings: Settings, smtp_server: Server
) -> None:
    with session_factory() as session, session.begin():
        mail = queue_mail(
            session,
            template="course_completion",
            to="ada@school.example",
            context={"full_name": "Ada", "course_title": "Algebra"},
            key="completion:7",
            base_url=mail_settings.public_base_url,
        )
        session.execute(update(Job).values(status="dead", error="gave up after 20 attempts"))
    with session_factory() as session, session.begin():
        enqueue(session, "mail.sweep", key="sweep-now")
    outcomes = run_due(session_factory, mail_settings)
    assert [(o.kind, o.status) for o in outcomes] == [
        ("mail.sweep", "succeeded"),
        ("mail.send", "succeeded"),
    ]
    assert [m["To"] for m in smtp_server.messages] == ["ada@school.example"]
    with session_factory() as session:
        keys = session.scalars(select(Job.key).where(Job.kind == "mail.send")).all()
        assert sorted(keys)[0] == f"mail:{mail.key}"
        assert len(keys) == 2 and all(k.startswith(f"mail:{mail.key}") for k in keys)


def test_a_sent_reset_mail_keeps_no_working_link(
    mail_cli: Cli, smtp_server: Server, make: Any
) -> None:
    ada = make.user()
    result = ok(mail_cli("users", "reset-password", ada.email, "--token", "--json"))
    token = json.loads(result.stdout)["token"]
    [queued] = outbox(mail_cli.factory)
    assert token in queued.body_text  # until it is sent
    run_due(mail_cli.factory, mail_cli.settings)  # the job alone: no sweep
    assert len(smtp_server.messages) == 1
    [sent] = outbox(mail_cli.factory)
    assert sent.status == MailStatus.sent.value
    assert token not in sent.body_text and token not in (sent.body_html or "")
    assert (sent.body_text, sent.body_html) == ("", None)
    assert sent.subject and sent.template == "password_reset" and sent.to_address == ada.email
    assert sent.message_id == queued.message_id


def test_a_cancelled_invitation_keeps_no_working_link(
    mail_cli: Cli, smtp_server: Server, make: Any
) -> None:
    ada = make.user(password=None)
    ok(mail_cli("users", "invite", ada.email))
    ok(mail_cli("users", "invite", ada.email))  # the first link stops working
    run_due(mail_cli.factory, mail_cli.settings)  # the jobs alone: no sweep
    first, second = outbox(mail_cli.factory)
    assert (first.status, second.status) == ("cancelled", "sent")
    assert (first.body_text, first.body_html, second.body_text) == ("", None, "")
    assert "set-password" not in json.dumps([m.subject for m in (first, second)])


def test_old_finished_mails_are_pruned(
    session_factory: Factory, mail_settings: Settings, smtp_server: Server
) -> None:
    ids = []
    with session_factory() as session, session.begin():
        for n in range(3):
            ids.append(
                queue_mail(
                    session,
                    template="course_completion",
                    to="ada@school.example",
                    context={"full_name": "Ada", "course_title": f"Course {n}"},
                    key=f"completion:{n}",
                    base_url=mail_settings.public_base_url,
                ).id
            )
    run_due(session_factory, mail_settings)
    old = utcnow() - timedelta(days=40)
    with session_factory() as session, session.begin():
        # One sent long ago, one still queued long ago (never pruned: it waits), one recent.
        session.execute(
            update(OutboxMail).where(OutboxMail.id == ids[0]).values(created_at=old, sent_at=old)
        )
        session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == ids[1])
            .values(created_at=old, status="queued", body_text="waiting")
        )
        # A finished row that kept its bodies (finished another way): the sweep empties them.
        session.execute(
            update(OutboxMail).where(OutboxMail.id == ids[2]).values(body_html="<p>link</p>")
        )
        enqueue(session, "mail.sweep", key="sweep-now")
    [sweep] = [o for o in run_due(session_factory, mail_settings) if o.kind == "mail.sweep"]
    assert sweep.status == "succeeded"
    with session_factory() as session:
        left = session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        assert [m.id for m in left] == ids[1:]
        assert [(m.body_text, m.body_html) for m in left] == [("", None), ("", None)]
        assert session.scalar(select(func.count()).select_from(OutboxMail)) == 2
