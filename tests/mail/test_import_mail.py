"""An import that hands out invitation links also mails them, in its own transaction."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.models import OutboxMail
from lms_core.models.jobs import Job
from tests.cli.helpers import ok, ok_json
from tests.conftest import Cli
from tests.mail.smtp_server import Server

USERS = (
    "external_id,email,full_name,role\nS-1,ann@x.org,Ann <i>,student\nS-2,bob@x.org,Bob,student\n"
)
BAD = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\nS-2,not-an-email,Bob,pupil\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_invites_out_also_mails_each_link(
    mail_cli: Cli, smtp_server: Server, session: Session, tmp_path: Path
) -> None:
    links = tmp_path / "invites.csv"
    ok(
        mail_cli(
            "import", "users", str(write(tmp_path, "u.csv", USERS)), "--invites-out", str(links)
        )
    )
    rows = {r["email"]: r["link"] for r in csv.DictReader(links.open(encoding="utf-8-sig"))}
    mails = {m.to_address: m for m in session.scalars(select(OutboxMail))}
    assert set(mails) == set(rows) == {"ann@x.org", "bob@x.org"}
    for email, link in rows.items():
        assert mails[email].template == "invitation" and link in mails[email].body_text
    assert "Ann &lt;i&gt;" in (mails["ann@x.org"].body_html or "")
    ok(mail_cli("jobs", "run-due"))
    assert sorted(str(m["To"]) for m in smtp_server.messages) == ["ann@x.org", "bob@x.org"]


def test_a_refused_import_queues_no_mail(mail_cli: Cli, session: Session, tmp_path: Path) -> None:
    links = tmp_path / "invites.csv"
    result = mail_cli(
        "import", "users", str(write(tmp_path, "bad.csv", BAD)), "--invites-out", str(links)
    )
    assert result.exit_code == 1 and not links.exists()
    assert session.scalar(select(func.count()).select_from(OutboxMail)) == 0
    assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_an_undone_import_sends_none_of_its_invitations(
    mail_cli: Cli, smtp_server: Server, tmp_path: Path
) -> None:
    links = tmp_path / "invites.csv"
    applied = ok_json(
        mail_cli(
            "import",
            "users",
            str(write(tmp_path, "u.csv", USERS)),
            "--invites-out",
            str(links),
            "--json",
        )
    )
    ok(mail_cli("import", "undo", str(applied["run_id"])))  # the users and their tokens go
    ok(mail_cli("jobs", "run-due"))
    assert smtp_server.messages == []
    rows = ok_json(mail_cli("email", "outbox", "--json"))
    assert sorted((r["to"], r["status"]) for r in rows) == [
        ("ann@x.org", "cancelled"),
        ("bob@x.org", "cancelled"),
    ]
