"""lmsctl email test / outbox, and the mails the user commands queue, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lms_core.settings import Settings
from tests.cli.helpers import ok, ok_json, refused, refused_json
from tests.conftest import Cli
from tests.mail.conftest import pointing_at
from tests.mail.smtp_server import Server, closed_port

SENT_BY = "sent by the job worker: lmsctl jobs worker, or lmsctl jobs run-due"


def test_email_test_sends_one_mail_now(mail_cli: Cli, smtp_server: Server) -> None:
    result = ok(mail_cli("email", "test", "Me@School.example"))
    assert "sent a test e-mail to me@school.example through 127.0.0.1:" in result.stdout
    [message] = smtp_server.messages
    assert message["To"] == "me@school.example"
    assert message["Subject"] == "Test mail from lms.school.example"
    data = ok_json(mail_cli("email", "test", "me@school.example", "--json"))
    assert (
        data["to"] == "me@school.example"
        and data["message_id"] == smtp_server.messages[1]["Message-ID"]
    )


def test_email_test_says_why_nothing_was_sent(
    cli: Cli,
    mail_cli: Cli,
    smtp_server: Server,
    settings: Settings,
    session: Session,
    tmp_path: Path,
) -> None:
    refused(cli("email", "test", "me@school.example"), "smtp_host", contains="not configured")
    refused(mail_cli("email", "test", "not-an-address"), "to", contains="not a valid")
    smtp_server.capture.answer = "550 5.7.1 relaying denied"
    line = refused(mail_cli("email", "test", "me@school.example"), "smtp")
    assert "refused the mail: 550 5.7.1 relaying denied" in line
    port = closed_port()
    down = Cli(pointing_at(settings, port, tmp_path), mail_cli.factory)
    error = refused_json(down("email", "test", "me@school.example", "--json"), "smtp")
    assert f"cannot reach 127.0.0.1:{port}" in error["message"]
    assert smtp_server.messages == []


def test_users_invite_queues_mails_that_run_due_sends(
    mail_cli: Cli, smtp_server: Server, make: Any
) -> None:
    ada = make.user(password=None, name="Ada Lovelace")
    result = ok(mail_cli("users", "invite", ada.email))
    assert f"queued 1 invitation e-mail(s) ({SENT_BY})" in result.stderr
    link = next(line for line in result.stdout.splitlines() if ada.email in line).split("\t")[2]
    assert link.startswith("https://lms.school.example/set-password/")
    assert smtp_server.messages == []  # queued, not sent: the worker sends it
    queued = ok_json(mail_cli("email", "outbox", "--status", "queued", "--json"))
    assert [(m["to"], m["template"], m["status"]) for m in queued] == [
        (ada.email, "invitation", "queued")
    ]
    assert "body_text" not in queued[0]
    ok(mail_cli("jobs", "run-due"))
    [message] = smtp_server.messages
    assert message["To"] == ada.email and message["Message-ID"] == queued[0]["message_id"]
    body = message.get_body(("plain",))
    assert body is not None and link in body.get_content()
    ok(mail_cli("jobs", "run-due"))
    assert len(smtp_server.messages) == 1
    sent = ok_json(mail_cli("email", "outbox", "--json"))
    assert [(m["status"], m["attempts"]) for m in sent] == [("sent", 1)]
    assert sent[0]["sent_at"] is not None


def test_no_email_and_links_file_still_work(mail_cli: Cli, make: Any, tmp_path: Path) -> None:
    ada = make.user(password=None)
    grace = make.user(password=None)
    result = ok(mail_cli("users", "invite", ada.email, "--no-email"))
    assert "queued" not in result.stderr
    out = tmp_path / "links.csv"
    data = ok_json(mail_cli("users", "invite", grace.email, "-o", str(out), "--json"))
    assert data["mailed"] == 1 and out.is_file()
    assert grace.email in out.read_text(encoding="utf-8-sig")
    rows = ok_json(mail_cli("email", "outbox", "--json"))
    assert [r["to"] for r in rows] == [grace.email]


def test_reset_password_token_is_mailed(mail_cli: Cli, smtp_server: Server, make: Any) -> None:
    ada = make.user()
    result = ok(mail_cli("users", "reset-password", ada.email, "--token", "--json"))
    token = json.loads(result.stdout)["token"]
    assert f"queued 1 password reset e-mail ({SENT_BY})" in result.stderr
    ok(mail_cli("jobs", "run-due"))
    [message] = smtp_server.messages
    assert message["Subject"] == "Reset your lms.school.example password"
    body = message.get_body(("plain",))
    assert body is not None
    assert f"https://lms.school.example/reset-password/{token}" in body.get_content()


def test_outbox_filters_refuses_and_warns(cli: Cli, make: Any, learner: Any) -> None:
    ada = make.user(password=None)
    ok(cli("users", "invite", ada.email))
    result = ok(cli("email", "outbox", "--status", "queued"))
    assert ada.email in result.stdout
    assert "1 queued, 0 sending, 0 sent, 0 failed" in result.stderr
    assert "warning: mail is not configured (no LMS_SMTP_HOST)" in result.stderr
    assert ok_json(cli("email", "outbox", "--status", "sent", "--json")) == []
    refused(cli("email", "outbox", "--status", "lost"), "status", contains="queued")
    refused(cli("email", "outbox", as_=learner.email), "as", contains="administrator")


def test_a_replaced_invitation_is_cancelled_not_sent(
    mail_cli: Cli, smtp_server: Server, make: Any
) -> None:
    """``users invite`` twice before the worker runs: one mail, with the link that works."""
    ada = make.user(password=None)
    ok(mail_cli("users", "invite", ada.email))
    second = ok_json(mail_cli("users", "invite", ada.email, "--json"))["invited"][0]["link"]
    ok(mail_cli("jobs", "run-due"))
    [message] = smtp_server.messages
    body = message.get_body(("plain",))
    assert body is not None and second in body.get_content()
    rows = ok_json(mail_cli("email", "outbox", "--json"))
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1), ("cancelled", 0)]
    assert "no longer works" in rows[1]["last_error"]
