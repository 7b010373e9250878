"""Queueing: the outbox row and its job are written in the caller's transaction, once per key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.accounts.tokens import request_password_reset
from lms_core.actor import Actor
from lms_core.imports.invites import invite_users
from lms_core.mail.outbox import message_id, queue_mail
from lms_core.models import MailStatus, OneTimeToken, OutboxMail
from lms_core.models.jobs import Job
from lms_core.security import token_hash

BASE = "https://lms.school.example"


def count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_queued_mail_is_rendered_now_with_its_job(session: Session) -> None:
    mail = queue_mail(
        session,
        template="course_completion",
        to="ada@school.example",
        context={"full_name": "Ada", "course_title": "Algebra"},
        key="completion:1",
        base_url=BASE,
    )
    assert mail.status == MailStatus.queued.value and mail.attempts == 0
    assert mail.subject == "You completed Algebra"
    assert "Congratulations" in mail.body_text and mail.body_html
    job = session.scalars(select(Job).where(Job.key == "mail:completion:1")).one()
    assert (job.kind, job.args, job.status) == ("mail.send", {"outbox_id": mail.id}, "queued")
    again = queue_mail(
        session,
        template="course_completion",
        to="ada@school.example",
        context={"full_name": "Ada Lovelace", "course_title": "Algebra II"},
        key="completion:1",
        base_url=BASE,
    )
    assert again.id == mail.id and again.subject == "You completed Algebra"
    assert count(session, OutboxMail) == 1 and count(session, Job) == 1


def test_the_message_id_depends_on_the_key_and_the_site_only() -> None:
    first = message_id("invite:1:abc", BASE)
    assert first == message_id("invite:1:abc", BASE + "/")
    assert first.startswith("<") and first.endswith("@lms.school.example>")
    assert first != message_id("invite:2:abc", BASE)
    assert first != message_id("invite:1:abc", "https://other.example")


def test_invitations_are_mailed_in_the_transaction_of_their_tokens(
    session: Session, make: Any, operator: Actor
) -> None:
    ada = make.user(password=None, name="Ada <b>Lovelace</b>")
    grace = make.user(password=None)
    savepoint = session.begin_nested()
    report = invite_users(session, actor=operator, base_url=BASE, emails=[ada.email, grace.email])
    assert report.mailed == 2
    mails = {m.to_address: m for m in session.scalars(select(OutboxMail))}
    assert set(mails) == {ada.email, grace.email}
    link = next(i.link for i in report.invited if i.email == ada.email)
    assert link and link in mails[ada.email].body_text
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in (mails[ada.email].body_html or "")
    raw = link.rsplit("/", 1)[1]
    assert mails[ada.email].key == f"invite:{ada.id}:{token_hash(raw)[:16]}"
    job = session.scalars(select(Job)).one()  # one job sends the batch
    assert (job.kind, sorted(job.args["outbox_ids"])) == (
        "mail.send_many",
        sorted(m.id for m in mails.values()),
    )
    savepoint.rollback()  # the change is undone: its tokens, mails and jobs with it
    assert count(session, OneTimeToken) == 0
    assert count(session, OutboxMail) == 0
    assert count(session, Job) == 0


def test_no_mail_when_not_asked_for_or_in_a_dry_run(
    session: Session, make: Any, operator: Actor
) -> None:
    ada = make.user(password=None)
    dry = invite_users(session, actor=operator, base_url=BASE, emails=[ada.email], dry_run=True)
    quiet = invite_users(session, actor=operator, base_url=BASE, emails=[ada.email], mail=False)
    assert (dry.mailed, quiet.mailed) == (0, 0) and len(quiet.invited) == 1
    assert count(session, OutboxMail) == 0


def test_a_reset_link_is_mailed_with_its_token(
    session: Session, make: Any, operator: Actor
) -> None:
    ada = make.user()
    _, raw = request_password_reset(session, actor=operator, email=ada.email, mail_base_url=BASE)
    mail = session.scalars(select(OutboxMail)).one()
    assert mail.template == "password_reset" and mail.to_address == ada.email
    assert f"{BASE}/reset-password/{raw}" in mail.body_text
    assert "2 hours" in mail.body_text
    request_password_reset(session, actor=operator, email=ada.email)  # no base URL: no mail
    assert count(session, OutboxMail) == 1
