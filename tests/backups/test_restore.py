"""The restore drill (docs/backups.md), run for real: back up, restore into an empty target,
compare; a non-empty target refused without --force."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from lms_core.models import Enrollment, User
from tests.backups.conftest import Site
from tests.cli.helpers import ok_json


def _counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            users = conn.scalar(select(func.count()).select_from(User)) or 0
            enrollments = conn.scalar(select(func.count()).select_from(Enrollment)) or 0
            return users, enrollments
    finally:
        engine.dispose()


def test_restore_drill_into_an_empty_target(site: Site, restore_url: str) -> None:
    archive = ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"]
    files = site.tmp / "restored-files"
    done = ok_json(
        site.run(
            "backup", "restore", archive, "--to", restore_url, "--files-dir", str(files), "--json"
        )
    )
    assert done["ok"] is True and done["problems"] == [] and done["files"] == 2
    assert done["tables_checked"] > 20
    assert _counts(restore_url) == _counts(site.url)
    assert (files / "uploads" / "c1" / "notes.txt").read_text() == "lesson notes\n"
    # The restored database is a working site: lmsctl reads it like the original.
    restored = site.settings.model_copy(update={"database_url": restore_url, "files_dir": files})
    users = ok_json(site.run("users", "list", "--json", settings=restored))
    assert len(users) == _counts(site.url)[0]


def test_restore_refuses_a_non_empty_target_without_force(site: Site, restore_url: str) -> None:
    archive = ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"]
    files = site.tmp / "restored-files"
    args = ["backup", "restore", archive, "--to", restore_url, "--files-dir", str(files)]
    ok_json(site.run(*args, "--json"))
    engine = create_engine(restore_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM enrollments"))
    engine.dispose()

    again = site.run(*args, "--json")
    assert again.exit_code == 1, again.output
    error = json.loads(again.stdout)["errors"][0]
    assert error["field"] == "to" and "is not empty" in error["message"]
    assert "--force" in error["message"]
    assert _counts(restore_url)[1] == 0  # refused: nothing touched

    forced = ok_json(site.run(*args, "--force", "--json"))
    assert forced["ok"] is True
    assert _counts(restore_url) == _counts(site.url)


def test_restore_refuses_a_non_empty_files_folder_and_another_kind(
    site: Site, restore_url: str
) -> None:
    archive = ok_json(site.run("backup", "create", "-o", str(site.backups), "--json"))["path"]
    busy = site.tmp / "busy-files"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    result = site.run("backup", "restore", archive, "--to", restore_url, "--files-dir", str(busy))
    assert result.exit_code == 1 and "error: files_dir:" in result.stderr
    other = (
        f"sqlite:///{site.tmp / 'x.db'}"
        if site.kind == "postgresql"
        else "postgresql+psycopg2://nobody@127.0.0.1:1/none"
    )
    cross = site.run("backup", "restore", archive, "--to", other, "--json")
    assert cross.exit_code == 1
    message = json.loads(cross.stdout)["errors"][0]["message"]
    assert f"is a {site.kind} backup and cannot be restored into" in message


def test_backup_commands_are_for_administrators(site: Site, tmp_path: Path) -> None:
    from lms_core.db import make_session_factory, unit_of_work
    from lms_core.models import User as UserModel

    with unit_of_work(make_session_factory(site.engine), write=False) as session:
        learner = session.scalars(
            select(UserModel.email).where(UserModel.role == "student")
        ).first()
    assert learner is not None
    result = site.run("--as", learner, "backup", "create", "-o", str(tmp_path / "b"), "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["errors"][0]
    assert error["field"] == "as" and "administrator" in error["message"]
    assert not (tmp_path / "b").exists()
