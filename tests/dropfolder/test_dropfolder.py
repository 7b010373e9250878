"""Drop-folder imports: complete files only, each set of bytes once, results beside the file
and mailed to the administrators; the database unchanged by a bad file."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.dropfolder.scan import entity_for, scan
from lms_core.models import ImportRun, Job, OutboxMail, User
from tests.cli.helpers import ok, ok_json
from tests.conftest import Cli
from tests.mail.smtp_server import Server

Factory = Callable[[], Session]

USERS = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\nS-2,bob@x.org,Bob,student\n"
BAD = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\nS-2,not-an-email,Bob,pupil\n"


def _scan(cli: Cli) -> dict:
    folder = cli.settings.import_drop_dir
    assert folder is not None
    return scan(
        cli.factory, folder, stable_seconds=cli.settings.import_drop_stable_seconds
    ).as_dict()


def _run_due(cli: Cli) -> dict:
    return ok_json(cli("jobs", "run-due", "--json"))


def _count(session: Session, model: type, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _dated(drop: Path, which: str) -> Path:
    return drop / which / time.strftime("%Y-%m-%d", time.gmtime())


def test_name_patterns() -> None:
    assert entity_for("users-2026.csv") == "users"
    assert entity_for("Users.XLSX") == "users"
    assert entity_for("courses_fall.xlsx") == "courses"
    assert entity_for("enrollments.csv") == "enrollments"
    assert entity_for("sis-export.zip") == "oneroster"
    assert entity_for("lessons.csv") is None
    assert entity_for("users.txt") is None


def test_a_good_file_creates_users_mails_invitations_and_the_admins(
    drop_cli: Cli, drop: Path, session: Session, admin_user: User, smtp_server: Server
) -> None:
    (drop / "users-week1.csv").write_text(USERS, encoding="utf-8")
    assert _scan(drop_cli)["waiting"] == ["users-week1.csv"]  # one look is not enough
    queued = _scan(drop_cli)["queued"]
    assert [q["file"] for q in queued] == ["users-week1.csv"]
    report = _run_due(drop_cli)
    done = [j for j in report["jobs"] if j["kind"] == "dropfolder.import"]
    assert [j["status"] for j in done] == ["succeeded"], report
    assert _count(session, User, User.email.in_(["ann@x.org", "bob@x.org"])) == 2
    invites = {
        m.to_address
        for m in session.scalars(select(OutboxMail).where(OutboxMail.template == "invitation"))
    }
    assert invites == {"ann@x.org", "bob@x.org"}
    results = list(
        session.scalars(select(OutboxMail).where(OutboxMail.template == "import_result"))
    )
    assert [m.to_address for m in results] == [admin_user.email]
    assert "users-week1.csv" in results[0].subject and "imported" in results[0].subject
    target = _dated(drop, "processed")
    assert (target / "users-week1.csv").read_text(encoding="utf-8") == USERS
    result = json.loads((target / "users-week1.csv.result.json").read_text(encoding="utf-8"))
    assert result["outcome"] == "applied" and result["invitations"] == 2
    assert not (drop / "users-week1.csv").exists()
    assert list((drop / "working").iterdir()) == []
    assert not list(drop.rglob(".invites.csv"))  # the links file (secrets) is not kept
    ok(drop_cli("jobs", "run-due"))  # the mails queued by the import, if not sent already
    sent = sorted(str(m["To"]) for m in smtp_server.messages)
    assert sent == sorted(["ann@x.org", "bob@x.org", admin_user.email])


def test_a_half_written_file_waits_until_stable_or_done(
    drop_cli: Cli, drop: Path, session: Session
) -> None:
    path = drop / "users.csv"
    path.write_text(USERS[:40], encoding="utf-8")
    assert _scan(drop_cli)["waiting"] == ["users.csv"]
    with path.open("a", encoding="utf-8") as out:  # still being written
        out.write(USERS[40:60])
    assert _scan(drop_cli)["waiting"] == ["users.csv"]
    assert _count(session, Job, Job.kind == "dropfolder.import") == 0
    # A stability period: two looks with no change are not enough until it has passed.
    slow = drop_cli.settings.model_copy(update={"import_drop_stable_seconds": 3600.0})
    assert scan(drop_cli.factory, drop, stable_seconds=slow.import_drop_stable_seconds).waiting == [
        "users.csv"
    ]
    with path.open("a", encoding="utf-8") as out:
        out.write(USERS[60:])
    # A .done marker makes it complete at once, whatever the period.
    (drop / "users.csv.done").write_text("", encoding="utf-8")
    report = scan(drop_cli.factory, drop, stable_seconds=3600.0)
    assert [q["file"] for q in report.queued] == ["users.csv"]
    _run_due(drop_cli)
    assert _count(session, User, User.email == "bob@x.org") == 1
    assert not (drop / "users.csv.done").exists()


def test_the_same_file_dropped_twice_is_imported_once(
    drop_cli: Cli, drop: Path, session: Session
) -> None:
    (drop / "users-a.csv").write_text(USERS, encoding="utf-8")
    (drop / "users-a.csv.done").write_text("", encoding="utf-8")
    _scan(drop_cli)
    _run_due(drop_cli)
    (drop / "users-b.csv").write_text(USERS, encoding="utf-8")  # the same bytes, new name
    (drop / "users-b.csv.done").write_text("", encoding="utf-8")
    report = _scan(drop_cli)
    assert report["queued"] == [] and len(report["duplicates"]) == 1
    job = session.scalars(select(Job).where(Job.kind == "dropfolder.import")).one()
    run_id = job.result["run_id"] if job.result else None
    assert report["duplicates"][0]["note"] == f"already imported by job {job.id} / run {run_id}"
    target = _dated(drop, "processed")
    assert (target / "users-b.csv").exists()
    assert (
        (target / "users-b.csv.note.txt")
        .read_text(encoding="utf-8")
        .startswith(f"already imported by job {job.id}")
    )
    assert _count(session, ImportRun, ImportRun.status == "applied") == 1
    assert _count(session, OutboxMail, OutboxMail.template == "invitation") == 2


def test_a_bad_file_goes_to_failed_with_its_errors_and_changes_nothing(
    drop_cli: Cli, drop: Path, session: Session, admin_user: User, smtp_server: Server
) -> None:
    users_before = _count(session, User)
    (drop / "users-bad.csv").write_text(BAD, encoding="utf-8")
    (drop / "users-bad.csv.done").write_text("", encoding="utf-8")
    _scan(drop_cli)
    report = _run_due(drop_cli)
    assert [j["status"] for j in report["jobs"] if j["kind"] == "dropfolder.import"] == [
        "succeeded"
    ]
    assert _count(session, User) == users_before
    assert _count(session, OutboxMail, OutboxMail.template == "invitation") == 0
    target = _dated(drop, "failed")
    assert (target / "users-bad.csv").read_text(encoding="utf-8") == BAD
    errors = (target / "users-bad.csv.errors.csv").read_text(encoding="utf-8-sig")
    assert "not-an-email" in errors and "error" in errors.splitlines()[0]
    result = json.loads((target / "users-bad.csv.result.json").read_text(encoding="utf-8"))
    assert result["outcome"] == "refused" and result["error_count"] >= 2
    mail = session.scalars(select(OutboxMail).where(OutboxMail.template == "import_result")).one()
    assert mail.to_address == admin_user.email and "refused" in mail.subject
    ok(drop_cli("jobs", "run-due"))  # the mail, if not sent already (its body is then cleared)
    (sent,) = [m for m in smtp_server.messages if str(m["To"]) == admin_user.email]
    body = sent.get_body(("plain",)) if sent.is_multipart() else sent
    assert body is not None and "line 3" in body.get_content()


def test_an_unreadable_file_and_unknown_names(drop_cli: Cli, drop: Path, session: Session) -> None:
    (drop / "courses.xlsx").write_bytes(b"not a spreadsheet at all")
    (drop / "courses.xlsx.done").write_text("", encoding="utf-8")
    (drop / "notes.txt").write_text("hello", encoding="utf-8")
    first = _scan(drop_cli)
    assert first["unknown"] == ["notes.txt"]
    assert _scan(drop_cli)["unknown"] == []  # reported once
    _run_due(drop_cli)
    target = _dated(drop, "failed")
    result = json.loads((target / "courses.xlsx.result.json").read_text(encoding="utf-8"))
    assert result["outcome"] in ("refused", "failed") and result["errors"]
    assert (target / "courses.xlsx.errors.csv").exists()
    assert (drop / "notes.txt").exists()  # left alone


def test_the_schedule_scans_the_folder(drop_cli: Cli, drop: Path, session: Session) -> None:
    (drop / "users.csv").write_text(USERS, encoding="utf-8")
    (drop / "users.csv.done").write_text("", encoding="utf-8")
    report = _run_due(drop_cli)
    assert "drop-folder" in report["periodic"]
    ok(drop_cli("jobs", "run-due"))  # the import job queued by the scan, if not run already
    assert _count(session, User, User.email == "ann@x.org") == 1


def test_off_without_a_folder(cli: Cli, session: Session) -> None:
    report = ok_json(cli("jobs", "run-due", "--json"))
    scans = [j for j in report["jobs"] if j["kind"] == "dropfolder.scan"]
    assert all(j["status"] == "succeeded" for j in scans)


def test_a_rerun_after_a_kill_before_the_move_imports_nothing_again(
    drop_cli: Cli, drop: Path, session: Session
) -> None:
    """The job's steps each leave their mark: a re-run after the import committed (file still
    in working/) finds the import applied and only moves the file."""
    from lms_core.dropfolder.importer import import_dropped
    from lms_core.dropfolder.scan import file_sha256

    path = drop / "users.csv"
    path.write_text(USERS, encoding="utf-8")
    sha = file_sha256(path)
    work = drop / "working" / sha[:16]
    work.mkdir(parents=True)
    os.replace(path, work / "users.csv")  # as the job leaves it when killed after the move
    ok(drop_cli("import", "users", str(work / "users.csv")))  # ... and after the import
    result = import_dropped(
        drop_cli.factory,
        drop_cli.settings,
        drop,
        {"name": "users.csv", "entity": "users", "sha256": sha},
    )
    assert result["outcome"] == "unchanged"
    assert _count(session, ImportRun, ImportRun.status == "applied") == 1
    assert (_dated(drop, "processed") / "users.csv").exists()


def test_a_rerun_after_its_own_import_committed_reports_it_applied(
    drop_cli: Cli, drop: Path, session: Session
) -> None:
    """Killed between its import's commit and its result file, the job's next attempt is told
    "unchanged" by the ledger; the run is its own (the drop folder's, this file): applied."""
    from lms_core.dropfolder.importer import ACTOR, import_dropped
    from lms_core.dropfolder.scan import file_sha256
    from lms_core.imports.runs import ImportOptions, import_file

    path = drop / "users.csv"
    path.write_text(USERS, encoding="utf-8")
    sha = file_sha256(path)
    work = drop / "working" / sha[:16]
    work.mkdir(parents=True)
    os.replace(path, work / "users.csv")
    import_file(
        drop_cli.factory,
        actor=ACTOR,
        settings=drop_cli.settings,
        entity="users",
        path=work / "users.csv",
        options=ImportOptions(mode="upsert"),
    )
    result = import_dropped(
        drop_cli.factory,
        drop_cli.settings,
        drop,
        {"name": "users.csv", "entity": "users", "sha256": sha},
    )
    assert result["outcome"] == "applied" and result["recovered"] is True
    assert _count(session, ImportRun, ImportRun.status == "applied") == 1
    assert (_dated(drop, "processed") / "users.csv").exists()


def test_a_file_taken_away_before_its_job_ran_can_be_dropped_again(
    drop_cli: Cli, drop: Path, session: Session
) -> None:
    (drop / "users.csv").write_text(USERS, encoding="utf-8")
    (drop / "users.csv.done").write_text("", encoding="utf-8")
    _scan(drop_cli)
    (drop / "users.csv").unlink()  # the sender took it back
    _run_due(drop_cli)
    job = session.scalars(select(Job).where(Job.kind == "dropfolder.import")).one()
    assert job.result is not None and job.result["outcome"] == "gone"
    (drop / "users-again.csv").write_text(USERS, encoding="utf-8")
    (drop / "users-again.csv.done").write_text("", encoding="utf-8")
    assert [q["job_id"] for q in _scan(drop_cli)["queued"]] == [job.id]
    _run_due(drop_cli)
    assert _count(session, User, User.email == "ann@x.org") == 1
    assert (_dated(drop, "processed") / "users-again.csv").exists()
