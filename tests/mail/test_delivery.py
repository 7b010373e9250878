"""Sending through a real SMTP server: sent once, refused for good, down and retried."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lms_core.jobs.groups import run_due
from lms_core.mail.delivery import deliver
from lms_core.mail.outbox import queue_mail
from lms_core.mail.smtp import MailDeferred
from lms_core.models import MailStatus, OutboxMail, utcnow
from lms_core.models.jobs import Job
from lms_core.settings import Settings
from tests.mail.conftest import pointing_at
from tests.mail.smtp_server import Server, closed_port

Factory = Callable[[], Session]


def queue(factory: Factory, settings: Settings, key: str = "completion:7") -> int:
    """A mail queued and committed, as a command would."""
    with factory() as session, session.begin():
        mail = queue_mail(
            session,
            template="course_completion",
            to="ada@school.example",
            context={"full_name": "Ada <Lovelace>", "course_title": "Algebra"},
            key=key,
            base_url=settings.public_base_url,
        )
        return mail.id


def state(factory: Factory, outbox_id: int) -> tuple[OutboxMail, Job]:
    with factory() as session:
        mail = session.get(OutboxMail, outbox_id)
        assert mail is not None
        job = session.scalars(select(Job).where(Job.key == f"mail:{mail.key}")).one()
        return mail, job


def test_the_job_sends_the_mail_once_with_its_message_id(
    session_factory: Factory, mail_settings: Settings, smtp_server: Server
) -> None:
    outbox_id = queue(session_factory, mail_settings)
    outcomes = run_due(session_factory, mail_settings)
    assert [(o.kind, o.status) for o in outcomes] == [("mail.send", "succeeded")]
    mail, job = state(session_factory, outbox_id)
    assert mail.status == MailStatus.sent.value and mail.sent_at is not None
    assert mail.attempts == 1 and mail.last_error is None
    assert job.result == {"outbox_id": outbox_id, "status": "sent", "message_id": mail.message_id}
    [message] = smtp_server.messages
    assert message["Message-ID"] == mail.message_id
    assert message["Subject"] == "You completed Algebra"
    assert message["To"] == "ada@school.example"
    assert message["From"] == "LMS <lms@school.example>"
    assert smtp_server.capture.envelopes == [("lms@school.example", ["ada@school.example"])]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and "Hello Ada <Lovelace>," in text.get_content()
    assert html is not None and "Hello Ada &lt;Lovelace&gt;," in html.get_content()
    # Run again, by the ledger and by hand: nothing more is sent.
    assert run_due(session_factory, mail_settings) == []
    assert deliver(session_factory, mail_settings, outbox_id) == {
        "outbox_id": outbox_id,
        "skipped": "already sent",
    }
    assert len(smtp_server.messages) == 1


def test_a_mail_sent_again_after_a_crash_keeps_its_message_id(
    session_factory: Factory, mail_settings: Settings, smtp_server: Server
) -> None:
    """The one window: the server took it, the worker died before recording ``sent``."""
    outbox_id = queue(session_factory, mail_settings)
    deliver(session_factory, mail_settings, outbox_id)
    with session_factory() as session, session.begin():  # as a killed worker leaves it
        session.execute(update(OutboxMail).values(status=MailStatus.sending.value, sent_at=None))
    deliver(session_factory, mail_settings, outbox_id)
    first, second = smtp_server.messages
    assert first["Message-ID"] == second["Message-ID"]
    assert state(session_factory, outbox_id)[0].attempts == 2


def test_a_refused_mail_fails_for_good_with_the_answer(
    session_factory: Factory, mail_settings: Settings, smtp_server: Server
) -> None:
    smtp_server.capture.answer = "550 5.1.1 <ada@school.example>: no such user"
    outbox_id = queue(session_factory, mail_settings)
    [outcome] = run_due(session_factory, mail_settings)
    mail, job = state(session_factory, outbox_id)
    assert mail.status == MailStatus.failed.value and mail.sent_at is None
    assert mail.last_error == "550 5.1.1 <ada@school.example>: no such user"
    assert outcome.status == "succeeded" and job.status == "succeeded"  # nothing to retry
    assert job.result is not None and job.result["status"] == "failed"
    assert smtp_server.messages == []
    smtp_server.capture.answer = None
    assert deliver(session_factory, mail_settings, outbox_id)["skipped"] == "already failed"
    assert smtp_server.messages == []


def test_a_temporary_refusal_is_retried_later(
    session_factory: Factory, mail_settings: Settings, smtp_server: Server
) -> None:
    smtp_server.capture.answer = "451 4.3.0 mailbox busy, try later"
    outbox_id = queue(session_factory, mail_settings)
    [outcome] = run_due(session_factory, mail_settings)
    mail, job = state(session_factory, outbox_id)
    assert outcome.status == "failed" and job.status == "failed"
    assert mail.status == MailStatus.queued.value and mail.last_error is not None
    assert "451" in mail.last_error and job.error is not None and "451" in job.error


def test_a_server_down_then_up_gets_the_mail_on_a_retry(
    session_factory: Factory, settings: Settings, tmp_path: Path
) -> None:
    port = closed_port()
    down = pointing_at(settings, port, tmp_path)
    outbox_id = queue(session_factory, down)
    before = utcnow()
    [outcome] = run_due(session_factory, down)
    mail, job = state(session_factory, outbox_id)
    assert outcome.status == "failed"
    assert mail.status == MailStatus.queued.value and mail.attempts == 1
    assert mail.last_error is not None and f"cannot reach 127.0.0.1:{port}" in mail.last_error
    # Back in the queue for a retry after a backoff (the ledger's: full jitter, from 0 s up).
    assert job.status == "failed" and job.attempts == 1 and job.run_at >= before
    server = Server(port)
    try:
        with session_factory() as session, session.begin():  # its retry's time has come
            session.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
        [outcome] = run_due(session_factory, down)
        assert outcome.status == "succeeded"
        mail, job = state(session_factory, outbox_id)
        assert mail.status == MailStatus.sent.value and mail.attempts == 2
        assert [m["Message-ID"] for m in server.messages] == [mail.message_id]
    finally:
        server.stop()


def test_without_smtp_settings_mails_stay_queued(
    session_factory: Factory, settings: Settings
) -> None:
    assert settings.smtp_host is None
    outbox_id = queue(session_factory, settings)
    left = {"outbox_id": outbox_id, "skipped": "not configured: left queued"}
    assert deliver(session_factory, settings, outbox_id) == left
    [outcome] = run_due(session_factory, settings)
    assert outcome.status == "succeeded"  # not a failure: run-due exits 0, the job never dies
    mail, _ = state(session_factory, outbox_id)
    assert (mail.status, mail.attempts) == (MailStatus.queued.value, 0)


def test_a_login_is_made_with_the_password_from_its_file(
    session_factory: Factory, settings: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret-pass\n", encoding="utf-8")
    server = Server(password="s3cret-pass")
    try:
        loaded = Settings(
            database_url=settings.database_url, smtp_password_file=secret, smtp_user="lms"
        )
        assert loaded.smtp_password is not None
        with_login = pointing_at(
            settings, server.port, tmp_path, smtp_user="lms", smtp_password=loaded.smtp_password
        )
        outbox_id = queue(session_factory, with_login)
        deliver(session_factory, with_login, outbox_id)
        assert server.capture.logins == ["lms"] and len(server.messages) == 1
        wrong = pointing_at(
            settings, server.port, tmp_path, smtp_user="lms", smtp_password=SecretStr("guess")
        )
        second = queue(session_factory, wrong, key="completion:8")
        with pytest.raises(MailDeferred, match="login refused"):
            deliver(session_factory, wrong, second)
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_a_batch_sends_each_once_across_failures(
    session_factory: Factory, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lms_core.mail import outbox

    monkeypatch.setattr(outbox, "BATCH", 3)
    port = closed_port()
    site = pointing_at(settings, port, tmp_path)
    with session_factory() as session, session.begin():
        queued = outbox.queue_many(
            session,
            [
                outbox.NewMail("test", f"{name}@school.example", {}, f"test:{name}")
                for name in ("ann", "bob", "cyd", "dee")
            ],
            base_url=site.public_base_url,
        )
    assert queued == 4
    outcomes = run_due(session_factory, site)  # the server is down: both batches fail
    assert sorted(o.status for o in outcomes) == ["failed", "failed"]
    server = Server(port)
    server.capture.refused["bob@school.example"] = "550 5.1.1 no such user"
    try:
        with session_factory() as session, session.begin():
            session.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
        outcomes = run_due(session_factory, site)
        assert [o.status for o in outcomes] == ["succeeded", "succeeded"]
        with session_factory() as session:
            jobs = session.scalars(select(Job).order_by(Job.id)).all()
            assert [j.result for j in jobs] == [{"sent": 2, "failed": 1}, {"sent": 1}]
            status = dict(session.execute(select(OutboxMail.to_address, OutboxMail.status)).all())
        assert status == {
            "ann@school.example": "sent",
            "bob@school.example": "failed",
            "cyd@school.example": "sent",
            "dee@school.example": "sent",
        }
        assert sorted(str(m["To"]) for m in server.messages) == [
            "ann@school.example",
            "cyd@school.example",
            "dee@school.example",
        ]
    finally:
        server.stop()


def test_a_reset_link_used_before_the_mail_went_out_is_not_sent(
    session_factory: Factory, mail_settings: Settings, smtp_server: Server, make: Any
) -> None:
    from lms_core.accounts.tokens import request_password_reset, reset_password_with_token
    from lms_core.actor import Actor
    from lms_core.security import PasswordHasher

    ada = make.user()
    with session_factory() as session, session.begin():
        _, raw = request_password_reset(
            session,
            actor=Actor.operator("pytest"),
            email=ada.email,
            mail_base_url=mail_settings.public_base_url,
        )
        outbox_id = session.scalars(select(OutboxMail.id)).one()
    with session_factory() as session, session.begin():
        hasher = PasswordHasher.from_settings(mail_settings)
        reset_password_with_token(session, raw=raw, password="An0ther-Long-Pass", hasher=hasher)
    assert deliver(session_factory, mail_settings, outbox_id)["status"] == "cancelled"
    assert state(session_factory, outbox_id)[0].status == MailStatus.cancelled.value
    assert smtp_server.messages == []
