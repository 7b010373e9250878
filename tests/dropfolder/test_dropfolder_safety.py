"""The drop folder never follows a link, never lets a stale marker through, and survives a
file moved away while it looks (docs/dropfolder.md, "Links are refused")."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.dropfolder import scan as scan_module
from lms_core.dropfolder.importer import import_dropped
from lms_core.dropfolder.scan import file_sha256, scan
from lms_core.models import ImportRun, Job, User
from tests.cli.helpers import ok_json
from tests.conftest import Cli

SECRET = "external_id,email,full_name,role\nLMS_SECRET_KEY,s3cr3t-value-XYZ,Ann,student\n"
USERS = "external_id,email,full_name,role\nS-1,ann@x.org,Ann,student\n"


def _scan(cli: Cli) -> dict:
    folder = cli.settings.import_drop_dir
    assert folder is not None
    return scan(cli.factory, folder, stable_seconds=0.0).as_dict()


def _count(session: Session, model: type, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _no_copy_of_secret(drop: Path) -> None:
    """No regular file under the drop folder (links are not read) holds the secret."""
    for path in drop.rglob("*"):
        info = os.lstat(path)
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
            assert b"s3cr3t-value-XYZ" not in path.read_bytes(), path


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    outside = tmp_path / "srv"
    outside.mkdir()
    path = outside / ".env"
    path.write_text(SECRET, encoding="utf-8")
    return path


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_link_to_a_secret_is_refused_once_and_never_read(
    drop_cli: Cli, drop: Path, session: Session, secret: Path, link: str
) -> None:
    if link == "symbolic":
        (drop / "users.csv").symlink_to(secret)
    else:
        os.link(secret, drop / "users.csv")
    (drop / "users.csv.done").write_text("", encoding="utf-8")
    first = _scan(drop_cli)
    assert first["queued"] == [] and [r["file"] for r in first["refused"]] == ["users.csv"]
    assert ("symbolic link" if link == "symbolic" else "hard link") in first["refused"][0]["reason"]
    assert _scan(drop_cli)["refused"] == []  # reported once
    ok_json(drop_cli("jobs", "run-due", "--json"))
    assert _count(session, Job, Job.kind == "dropfolder.import") == 0
    assert _count(session, ImportRun) == 0
    assert os.path.lexists(drop / "users.csv")  # left alone
    _no_copy_of_secret(drop)


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_link_swapped_in_after_the_scan_is_refused_by_the_import(
    drop_cli: Cli, drop: Path, session: Session, secret: Path, link: str
) -> None:
    """The scan saw a regular file with the secret's bytes; the sender then put a link in its
    place before the job ran: the job checks what it moved, not the name."""
    if link == "symbolic":
        (drop / "users.csv").symlink_to(secret)
    else:
        os.link(secret, drop / "users.csv")
    sha = hashlib.sha256(secret.read_bytes()).hexdigest()
    args = {"name": "users.csv", "entity": "users", "sha256": sha}
    result = import_dropped(drop_cli.factory, drop_cli.settings, drop, args)
    assert result["outcome"] == "unsafe", result
    assert _count(session, ImportRun) == 0
    assert not [p for p in (drop / "working").rglob("*") if not p.is_dir()]
    assert (Path(result["moved_to"]).parent / "users.csv.note.txt").exists()
    _no_copy_of_secret(drop)
    assert secret.read_text(encoding="utf-8") == SECRET  # the target is untouched


def test_a_stale_done_marker_is_removed_by_the_rerun(
    drop_cli: Cli, drop: Path, session: Session
) -> None:
    """Killed after the move into working/ but before the marker went: the re-run removes it,
    so a later half-written file of that name is not taken at once."""
    path = drop / "users.csv"
    path.write_text(USERS, encoding="utf-8")
    (drop / "users.csv.done").write_text("", encoding="utf-8")
    sha = file_sha256(path)
    work = drop / "working" / sha[:16]
    work.mkdir(parents=True)
    os.replace(path, work / "users.csv")  # the kill lands here
    args = {"name": "users.csv", "entity": "users", "sha256": sha}
    assert import_dropped(drop_cli.factory, drop_cli.settings, drop, args)["outcome"] == "applied"
    assert not (drop / "users.csv.done").exists()
    (drop / "users.csv").write_text(USERS[:30], encoding="utf-8")  # the next one, half written
    assert _scan(drop_cli)["waiting"] == ["users.csv"]


def test_a_rerun_after_the_last_move_reports_the_import_done(
    drop_cli: Cli, drop: Path, session: Session
) -> None:
    (drop / "users.csv").write_text(USERS, encoding="utf-8")
    args = {"name": "users.csv", "entity": "users", "sha256": file_sha256(drop / "users.csv")}
    first = import_dropped(drop_cli.factory, drop_cli.settings, drop, args)
    assert first["outcome"] == "applied"
    again = import_dropped(drop_cli.factory, drop_cli.settings, drop, args)  # killed at the end
    assert again["outcome"] == "applied" and again["recovered"] is True
    assert again["run_id"] == first["run_id"] and again["moved_to"] == first["moved_to"]
    assert _count(session, ImportRun, ImportRun.status == "applied") == 1
    assert _count(session, User, User.email == "ann@x.org") == 1


def test_a_file_moved_away_during_the_scan_is_skipped(
    drop_cli: Cli, drop: Path, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import job moves a file between the listing and the read: the scan goes on with
    the other files instead of dying (and the scan job with it)."""
    for name in ("users-a.csv", "users-b.csv"):
        (drop / name).write_text(USERS.replace("S-1", name), encoding="utf-8")
        (drop / f"{name}.done").write_text("", encoding="utf-8")
    real: Callable[[Path], str] = scan_module.file_sha256

    def moved_first(path: Path) -> str:
        if path.name == "users-a.csv":
            os.replace(path, drop / "working-elsewhere.tmp")  # the concurrent job's move
        return real(path)

    monkeypatch.setattr(scan_module, "file_sha256", moved_first)
    report = _scan(drop_cli)
    assert [q["file"] for q in report["queued"]] == ["users-b.csv"]
    state = json.loads((drop / ".lms-dropfolder.json").read_text(encoding="utf-8"))
    assert "users-a.csv" not in state["looks"]
