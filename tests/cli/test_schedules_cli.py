"""lmsctl schedules add/list/remove/run, and a due slot exported by ``lmsctl jobs run-due``."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lms_core.db import unit_of_work
from lms_core.models import ExportSchedule, Job, utcnow
from lms_core.settings import Settings
from tests.cli.helpers import db_state, ok, ok_json, refused, refused_json
from tests.conftest import Cli

Factory = Callable[[], Session]


@pytest.fixture
def jobs_cli(settings: Settings, session_factory: Factory, tmp_path: Path) -> Cli:
    own = settings.model_copy(
        update={
            "huey_url": f"sqlite:///{tmp_path / 'huey.db'}",
            "files_dir": tmp_path / "files",
            "jobs_backoff_base_seconds": 0.0,
        }
    )
    return Cli(own, session_factory)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def _add(cli: Cli, name: str, folder: Path, *extra: str, cron: str = "0 2 * * *") -> Any:
    return cli(
        "schedules", "add", name, "--cron", cron, "--export", "users", "--to", str(folder),
        *extra, "--json",
    )  # fmt: skip


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_add_list_remove(jobs_cli: Cli, out: Path, make: Any) -> None:
    course = make.course()
    row = ok_json(
        jobs_cli(
            "schedules", "add", "grades", "--cron", "30 2 * * 1-5", "--export", "gradebook",
            "--course", course.slug, "--format", "xlsx", "--to", str(out), "--keep", "3", "--json",
        )
    )  # fmt: skip
    assert row["name"] == "grades" and row["export"] == "gradebook" and row["keep"] == 3
    assert row["args"] == {"format": "xlsx", "course": course.slug}
    assert row["folder"] == str(out.resolve()) and row["created_by"].startswith("cli:")
    ok_json(_add(jobs_cli, "people", out))
    listed = ok_json(jobs_cli("schedules", "list", "--json"))
    assert [s["name"] for s in listed] == ["grades", "people"]
    assert "grades" in ok(jobs_cli("schedules", "list")).stdout
    ok_json(jobs_cli("schedules", "remove", "people", "--json"))
    assert [s["name"] for s in ok_json(jobs_cli("schedules", "list", "--json"))] == ["grades"]
    refused(jobs_cli("schedules", "remove", "people"), "name", contains="no export schedule")


@pytest.mark.parametrize(
    ("args", "field", "says"),
    [
        (["--cron", "0 24 * * *"], "cron", "field 2 (hour) '24' is not valid"),
        (["--cron", "0 2 * *"], "cron", "needs 5 fields"),
        (["--to", "MISSING"], "to", "does not exist"),
        (["--to", "FILE"], "to", "is not a folder"),
        (["--export", "grades"], "export", "must be one of gradebook"),
        (["--export", "gradebook"], "course", "needs the course"),
        (["--course", "no-such-course"], "course", "a users export has no course"),
        (["--export", "enrollments", "--course", "no-such"], "course_slug", "no course"),
        (["--format", "pdf"], "format", "csv, xlsx"),
        (["--keep", "0"], "keep", "must be 1 to"),
        (["--name", "../up"], "name", "letters, digits"),
        (["--name", "taken"], "name", "exists already"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    jobs_cli: Cli, out: Path, session: Session, args: list[str], field: str, says: str
) -> None:
    ok_json(_add(jobs_cli, "taken", out))
    (out / "a-file").write_text("x")
    values = {
        "--name": "nightly",
        "--cron": "0 2 * * *",
        "--export": "users",
        "--to": str(out),
    }
    options = dict(zip(args[::2], args[1::2], strict=True))
    values.update(options)
    values["--to"] = {"MISSING": str(out / "missing"), "FILE": str(out / "a-file")}.get(
        values["--to"], values["--to"]
    )
    command = ["schedules", "add", values.pop("--name")]
    for flag, value in values.items():
        command += [flag, value]
    for flag in ("--course", "--format", "--keep"):
        if flag in options:
            command += [flag, options[flag]]
    before = db_state(session)
    refused_json(jobs_cli(*command, "--json"), field, contains=says)
    refused(jobs_cli(*command), field, contains=says)
    assert db_state(session) == before


def test_a_learner_may_not_add_a_schedule(jobs_cli: Cli, out: Path, make: Any) -> None:
    learner = make.user()
    refused_json(
        jobs_cli(
            "schedules", "add", "x", "--cron", "0 2 * * *", "--export", "users", "--to", str(out),
            "--json", as_=learner.email,
        ),
        "as",
        contains="administrator",
    )  # fmt: skip


def _backdate(factory: Factory, name: str) -> None:
    with unit_of_work(factory) as session:
        session.execute(
            update(ExportSchedule)
            .where(ExportSchedule.name == name)
            .values(created_at=utcnow() - timedelta(days=2))
        )


def _export_jobs(factory: Factory) -> list[Job]:
    with unit_of_work(factory, write=False) as session:
        stmt = select(Job).where(Job.kind == "exports.scheduled").order_by(Job.id)
        return list(session.scalars(stmt))


def test_a_due_slot_is_exported_once_by_run_due(
    jobs_cli: Cli, out: Path, session_factory: Factory
) -> None:
    # A daily slot ten minutes ago: both run-due calls below see the same latest slot.
    slot = (utcnow() - timedelta(minutes=10)).replace(second=0, microsecond=0)
    ok_json(_add(jobs_cli, "people", out, cron=f"{slot.minute} {slot.hour} * * *"))
    _backdate(session_factory, "people")
    first = jobs_cli("jobs", "run-due", "--json")
    data = json.loads(first.stdout)
    assert first.exit_code == 0, first.stdout + first.stderr
    assert "export-schedules" in data["periodic"]
    expected = f"people-{slot:%Y%m%dT%H%M%SZ}.csv"
    assert _files(out) == [expected]
    [job] = _export_jobs(session_factory)
    assert job.status == "succeeded" and job.key == f"export:people:{slot:%Y-%m-%dT%H:%M}"
    assert job.result is not None and job.result["file"] == str(out.resolve() / expected)
    ok(jobs_cli("jobs", "run-due"))
    assert _files(out) == [expected]  # the same slot: no second job, no second file
    assert len(_export_jobs(session_factory)) == 1
    [row] = ok_json(jobs_cli("schedules", "list", "--json"))
    assert row["last_file"] == str(out.resolve() / expected) and row["last_error"] is None


def test_run_now_and_retention(jobs_cli: Cli, out: Path) -> None:
    for day in range(1, 4):
        (out / f"people-202612{day:02d}T020000Z.csv").write_text("old\n")
    (out / "people-weekly-20261201T020000Z.csv").write_text("another schedule's\n")
    ok_json(_add(jobs_cli, "people", out, "--keep", "2"))
    data = ok_json(jobs_cli("schedules", "run", "people", "--json"))
    written = Path(data["file"]).name
    assert sorted(data["pruned"]) == ["people-20261201T020000Z.csv", "people-20261202T020000Z.csv"]
    assert _files(out) == sorted(
        [written, "people-20261203T020000Z.csv", "people-weekly-20261201T020000Z.csv"]
    )
    assert "email" in Path(data["file"]).read_text(encoding="utf-8-sig")
    # Run again without --json: the human line names the file written (a second later, a
    # new name: the file is stamped to the second).
    again = ok(jobs_cli("schedules", "run", "people")).stdout
    assert re.search(
        rf"^wrote {re.escape(str(Path(data['file']).parent))}/people-\d{{8}}T\d{{6}}Z\.csv", again
    )


def test_a_removed_folder_fails_with_the_error_on_the_schedule(
    jobs_cli: Cli, out: Path, session_factory: Factory
) -> None:
    ok_json(_add(jobs_cli, "people", out, cron="* * * * *"))
    _backdate(session_factory, "people")
    shutil.rmtree(out)
    refused(jobs_cli("schedules", "run", "people"), "schedule", contains="does not exist")
    result = jobs_cli("jobs", "run-due", "--json")
    assert result.exit_code == 1
    failed = [j for j in json.loads(result.stdout)["jobs"] if j["kind"] == "exports.scheduled"]
    # The slot's job, and the retry of the one `schedules run` queued (no backoff here).
    assert [j["status"] for j in failed] == ["failed", "failed"]
    assert all(f"folder: {out.resolve()} does not exist" in j["error"] for j in failed)
    [row] = ok_json(jobs_cli("schedules", "list", "--json"))
    assert f"folder: {out.resolve()} does not exist" in row["last_error"]
    assert not out.exists()
