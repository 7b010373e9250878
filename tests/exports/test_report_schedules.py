"""Report schedules: a report written per slot (the CLI's document), retention, the mail to
the administrators (once per slot, with the file attached), and bad input refused."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lms_core.db import unit_of_work
from lms_core.exports.jobs import file_name, own_files, run_schedule
from lms_core.models import ExportSchedule, OutboxMail, utcnow
from lms_core.settings import Settings
from tests.cli.helpers import ok, ok_json, refused_json
from tests.conftest import Cli
from tests.mail.conftest import pointing_at
from tests.mail.smtp_server import Server
from tests.reports.world import World, build

Factory = Callable[[], Session]


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    return folder


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    """The mail tests' SMTP server: what it receives is what an administrator would get."""
    server = Server()
    yield server
    server.stop()


@pytest.fixture
def jobs_cli(
    settings: Settings, session_factory: Factory, smtp_server: Server, tmp_path: Path
) -> Cli:
    own = pointing_at(settings, smtp_server.port, tmp_path, jobs_backoff_base_seconds=0.0)
    return Cli(own, session_factory)


def _add(cli: Cli, name: str, folder: Path, *args: str, cron: str = "0 2 * * *") -> Any:
    return cli("schedules", "add", name, "--cron", cron, "--to", str(folder), *args, "--json")


def _backdate(factory: Factory, name: str) -> None:
    with unit_of_work(factory) as session:
        session.execute(
            update(ExportSchedule)
            .where(ExportSchedule.name == name)
            .values(created_at=utcnow() - timedelta(days=2))
        )


def _schedule_id(factory: Factory, name: str) -> int:
    with unit_of_work(factory, write=False) as session:
        stmt = select(ExportSchedule.id).where(ExportSchedule.name == name)
        return session.scalars(stmt).one()


def test_run_due_writes_the_slots_report_as_the_cli_prints_it(
    jobs_cli: Cli, world: World, out: Path, session_factory: Factory
) -> None:
    slot = (utcnow() - timedelta(minutes=10)).replace(second=0, microsecond=0)
    cron = f"{slot.minute} {slot.hour} * * *"
    row = ok_json(
        _add(jobs_cli, "risk", out, "--report", "course", "--course", "rep-course",
             "--format", "json", cron=cron)
    )  # fmt: skip
    assert row["export"] == "report"
    assert row["args"] == {"format": "json", "report": "course", "mail": False,
                           "course": "rep-course"}  # fmt: skip
    _backdate(session_factory, "risk")
    ok(jobs_cli("jobs", "run-due"))
    expected = out / file_name("risk", slot, "json")
    assert [p.name for p in own_files(out, "risk")] == [expected.name]
    until = slot.isoformat()
    printed = jobs_cli("reports", "course", "rep-course", "--until", until, "--format", "json")
    assert expected.read_text(encoding="utf-8") == printed.stdout
    ok(jobs_cli("jobs", "run-due"))  # the same slot: no second job, no second file
    assert len(own_files(out, "risk")) == 1


def test_retention_and_the_days_window(
    jobs_cli: Cli, world: World, out: Path, session_factory: Factory
) -> None:
    ok_json(_add(jobs_cli, "site", out, "--report", "system", "--days", "7", "--keep", "2"))
    sid = _schedule_id(session_factory, "site")
    for day in (1, 2, 3):
        at = datetime(2026, 2, day, 2, 0, tzinfo=UTC)
        result = run_schedule(session_factory, sid, at)
    assert result["pruned"] == ["site-20260201T020000Z.csv"]
    assert [p.name for p in own_files(out, "site")] == [
        "site-20260203T020000Z.csv",
        "site-20260202T020000Z.csv",
    ]
    text = (out / "site-20260203T020000Z.csv").read_text(encoding="utf-8-sig")
    assert text.startswith("totals\nusers,courses")
    xlsx = ok_json(
        _add(jobs_cli, "teach", out, "--report", "instructor", "--user", "T1@rep.example.org",
             "--format", "xlsx")
    )  # fmt: skip
    assert xlsx["args"]["user"] == "t1@rep.example.org"
    done = run_schedule(session_factory, _schedule_id(session_factory, "teach"), utcnow())
    assert done["rows"] == 2 and Path(done["file"]).suffix == ".xlsx"


def test_the_mail_goes_to_each_active_administrator_once_per_slot(
    jobs_cli: Cli,
    world: World,
    out: Path,
    make: Any,
    session: Session,
    session_factory: Factory,
    smtp_server: Server,
) -> None:
    admins = [make.user("admin"), make.user("admin")]
    gone = make.user("admin")
    gone.is_active = False
    session.flush()
    ok_json(_add(jobs_cli, "weekly", out, "--report", "student", "--user", "s2@rep.example.org",
                 "--mail", "--format", "csv", cron="* * * * *"))  # fmt: skip
    _backdate(session_factory, "weekly")
    ok(jobs_cli("jobs", "run-due"))
    [written] = own_files(out, "weekly")
    got = sorted(smtp_server.messages, key=lambda m: str(m["To"]))
    assert sorted(str(m["To"]) for m in got) == sorted(a.email for a in admins)
    for message in got:
        assert "Scheduled report weekly: student s2@rep.example.org" in str(message["Subject"])
        [attached] = list(message.iter_attachments())
        assert attached.get_filename() == written.name
        assert attached.get_content_type() == "text/csv"
        assert attached.get_payload(decode=True) == written.read_bytes()
    # The slot's job run again (a retry after a lost lease): the same mails, none more.
    slot = datetime.strptime(written.stem.split("-")[-1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    run_schedule(session_factory, _schedule_id(session_factory, "weekly"), slot, settings=None)
    with unit_of_work(session_factory, write=False) as check:
        assert check.scalar(select(func.count()).select_from(OutboxMail)) == 2


def test_a_mail_whose_file_is_gone_fails_naming_it(
    jobs_cli: Cli, world: World, out: Path, make: Any, session_factory: Factory
) -> None:
    make.user("admin")
    ok_json(_add(jobs_cli, "site", out, "--report", "system", "--mail"))
    at = datetime(2026, 2, 1, 2, 0, tzinfo=UTC)
    result = run_schedule(
        session_factory, _schedule_id(session_factory, "site"), at, settings=jobs_cli.settings
    )
    Path(result["file"]).unlink()
    ok(jobs_cli("jobs", "run-due"))
    [row] = ok_json(jobs_cli("email", "outbox", "--json"))
    assert row["status"] == "failed" and "cannot be read" in row["last_error"]


def test_a_symlinked_attachment_is_not_sent(
    jobs_cli: Cli, world: World, out: Path, make: Any, session_factory: Factory,
    smtp_server: Server, tmp_path: Path,
) -> None:  # fmt: skip
    """The report's file replaced by a link (to a secret elsewhere) before its mail goes:
    the mail fails naming it, and the linked file's bytes go to no one (retention skips
    links too)."""
    make.user("admin")
    ok_json(_add(jobs_cli, "site", out, "--report", "system", "--mail"))
    at = datetime(2026, 2, 1, 2, 0, tzinfo=UTC)
    result = run_schedule(
        session_factory, _schedule_id(session_factory, "site"), at, settings=jobs_cli.settings
    )
    secret = tmp_path / "secret.txt"
    secret.write_text("not for mail\n", encoding="utf-8")
    written = Path(result["file"])
    written.unlink()
    written.symlink_to(secret)
    ok(jobs_cli("jobs", "run-due"))
    [row] = ok_json(jobs_cli("email", "outbox", "--json"))
    assert row["status"] == "failed" and "symbolic link" in row["last_error"], row
    assert smtp_server.messages == []


def test_retention_keeps_a_file_until_its_mail_is_sent(
    jobs_cli: Cli, world: World, out: Path, make: Any, session_factory: Factory,
    smtp_server: Server,
) -> None:  # fmt: skip
    """--keep 1 with --mail: slots run while the mails wait (SMTP down, the worker behind)
    must not delete the file a queued mail attaches; once sent, the next run prunes it."""
    make.user("admin")
    ok_json(_add(jobs_cli, "site", out, "--report", "system", "--mail", "--keep", "1"))
    sid = _schedule_id(session_factory, "site")
    for hour in (2, 3):
        at = datetime(2026, 2, 1, hour, tzinfo=UTC)
        result = run_schedule(session_factory, sid, at, settings=jobs_cli.settings)
        assert result["pruned"] == []
    ok(jobs_cli("jobs", "run-due"))
    rows = ok_json(jobs_cli("email", "outbox", "--json"))
    assert [row["status"] for row in rows] == ["sent", "sent"], rows
    assert sorted(m.get_filename() for msg in smtp_server.messages
                  for m in msg.iter_attachments()) == [
        "site-20260201T020000Z.csv", "site-20260201T030000Z.csv"]  # fmt: skip
    result = run_schedule(session_factory, sid, datetime(2026, 2, 1, 4, tzinfo=UTC))
    assert sorted(result["pruned"]) == ["site-20260201T020000Z.csv", "site-20260201T030000Z.csv"]
    assert [p.name for p in own_files(out, "site")] == ["site-20260201T040000Z.csv"]


def test_a_mail_that_cannot_be_queued_is_recorded_on_the_schedule(
    jobs_cli: Cli, world: World, out: Path, make: Any, session_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The file is written, then queuing the mails fails (here: the site's settings, read for
    the mail's links, are broken): the run fails with its error on the schedule, as an
    export's failure does, not silently with no ``last_error``."""
    make.user("admin")
    ok_json(_add(jobs_cli, "site", out, "--report", "system", "--mail"))
    sid = _schedule_id(session_factory, "site")
    monkeypatch.setenv("LMS_SMTP_PORT", "not-a-port")
    with pytest.raises(Exception, match="smtp_port"):
        run_schedule(session_factory, sid, datetime(2026, 2, 1, 2, tzinfo=UTC), settings=None)
    with unit_of_work(session_factory, write=False) as check:
        schedule = check.get(ExportSchedule, sid)
        assert schedule is not None and schedule.last_run_at is not None
        assert "smtp_port" in (schedule.last_error or "")
        assert check.scalar(select(func.count()).select_from(OutboxMail)) == 0


def test_a_schedule_removed_during_its_run_mails_nothing(
    jobs_cli: Cli, world: World, out: Path, make: Any, session_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """``schedules remove`` while the report is being written: the run mails no one (the
    administrator removed it to stop it) and says why."""
    from lms_core.exports import jobs

    make.user("admin")
    ok_json(_add(jobs_cli, "site", out, "--report", "system", "--mail"))
    sid = _schedule_id(session_factory, "site")
    real_prune = jobs.prune

    def removed_meanwhile(*args: Any) -> list[str]:  # another process, between write and record
        ok(jobs_cli("schedules", "remove", "site"))
        return real_prune(*args)

    monkeypatch.setattr(jobs, "prune", removed_meanwhile)
    done = run_schedule(session_factory, sid, datetime(2026, 2, 1, 2, tzinfo=UTC),
                        settings=jobs_cli.settings)  # fmt: skip
    assert "removed" in done["skipped"] and "mails" not in done
    with unit_of_work(session_factory, write=False) as check:
        assert check.scalar(select(func.count()).select_from(OutboxMail)) == 0


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--report", "weekly"], "report"),
        (["--report", "course"], "course"),
        (["--report", "course", "--course", "no-such"], "course_slug"),
        (["--report", "student"], "user"),
        (["--report", "student", "--user", "nobody@example.org"], "email"),
        (["--report", "system", "--course", "rep-course"], "course"),
        (["--report", "instructor", "--user", "t1@rep.example.org", "--course", "rep-course"],
         "course"),
        (["--report", "system", "--days", "0"], "days"),
        (["--report", "system", "--format", "pdf"], "format"),
        (["--export", "users", "--report", "system"], "report"),
        (["--export", "users", "--user", "t1@rep.example.org"], "user"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_field(
    jobs_cli: Cli, world: World, out: Path, args: list[str], field: str
) -> None:
    refused_json(_add(jobs_cli, "bad", out, *args), field)
    assert ok_json(jobs_cli("schedules", "list", "--json")) == []


@pytest.mark.parametrize(
    "args", [[], ["--export", "users", "--mail"], ["--export", "users", "--days", "3"]]
)
def test_options_that_need_a_report_are_usage_errors(
    jobs_cli: Cli, out: Path, args: list[str]
) -> None:
    result = _add(jobs_cli, "bad", out, *args)
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["errors"][0]["field"] in {"export", "mail", "days"}


def test_the_message_names_the_report(jobs_cli: Cli, world: World, out: Path) -> None:
    result = ok(
        jobs_cli("schedules", "add", "risk", "--cron", "0 2 * * *", "--to", str(out),
                 "--report", "course", "--course", "rep-course", "--mail")
    )  # fmt: skip
    said = result.stdout + result.stderr
    # The folder is not a recipient: the mail goes to the administrators.
    assert (
        f"schedule risk: report course rep-course to {out}, mailed to the administrators, at"
        in said
    )
    plain = ok(jobs_cli("schedules", "add", "site", "--cron", "0 2 * * *", "--to", str(out),
                        "--report", "system", "--days", "7"))  # fmt: skip
    assert f"schedule site: report system (last 7 days) to {out} at '0 2 * * *'" in plain.stdout


def test_the_listing_says_which_report_and_whether_it_is_mailed(
    jobs_cli: Cli, world: World, out: Path
) -> None:
    ok_json(_add(jobs_cli, "risk", out, "--report", "course", "--course", "rep-course",
                 "--days", "7", "--mail"))  # fmt: skip
    ok_json(_add(jobs_cli, "teach", out, "--report", "instructor", "--user", "t1@rep.example.org"))
    listed = ok(jobs_cli("schedules", "list")).stdout.splitlines()
    [risk] = [line for line in listed if line.startswith("risk\t")]
    [teach] = [line for line in listed if line.startswith("teach\t")]
    assert "\treport course rep-course (last 7 days), mailed\t" in risk
    assert "\treport instructor t1@rep.example.org\t" in teach
    # Scripts read the arguments themselves: --json keeps the kind and the args.
    rows = {r["name"]: r for r in ok_json(jobs_cli("schedules", "list", "--json"))}
    assert rows["risk"]["export"] == "report" and rows["risk"]["args"]["days"] == 7


def test_mail_with_no_active_administrator_is_a_warning(
    jobs_cli: Cli, world: World, out: Path, make: Any, session: Session
) -> None:
    """Added all the same (an administrator may come later), but said, since until then
    each slot mails no one."""
    gone = make.user("admin")
    gone.is_active = False
    session.flush()
    lonely = ok(_add(jobs_cli, "site", out, "--report", "system", "--mail"))
    assert "warning: there is no active administrator to mail it to" in lonely.stderr
    assert ok_json(lonely)["args"]["mail"] is True
    unmailed = ok(_add(jobs_cli, "quiet", out, "--report", "system"))
    assert "warning" not in unmailed.stderr
    make.user("admin")
    session.flush()
    mailed = ok(_add(jobs_cli, "weekly", out, "--report", "system", "--mail"))
    assert "warning" not in mailed.stderr
