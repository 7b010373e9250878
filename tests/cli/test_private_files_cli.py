"""What the toolkit puts on disk is readable by its owner only: the SQLite database, the files
folder and the uploads under it; ``doctor`` warns about a database others can read; an upload
of a symbolic link is refused.

The database-file tests use a SQLite file of their own on every run (the feature is SQLite's);
the files-folder tests run on the suite's database, SQLite or PostgreSQL. Modes are read with
``stat`` (CI runs as root, for whom access checks always pass).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from lms_core.models import StoredFile
from tests import samples
from tests.cli.conftest import ScratchCli
from tests.cli.helpers import count, ok, ok_json, refused, refused_json
from tests.conftest import Cli

ADMIN = "root@school.example"
STRONG = "Adm1n-Staple-Battery"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common 022: left alone, new files would be 0644 and folders 0755."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def init(scratch: ScratchCli) -> None:
    ok(scratch("init", "--admin-email", ADMIN, "--password-stdin", input=f"{STRONG}\n"))


def sqlite_cli(tmp_path: Path) -> tuple[ScratchCli, Path]:
    database = tmp_path / "var" / "lms.db"
    return ScratchCli(f"sqlite:///{database}", tmp_path / "var" / "files"), database


def test_init_on_a_fresh_path_makes_the_database_and_its_folders_owner_only(tmp_path):
    scratch, database = sqlite_cli(tmp_path)

    init(scratch)

    assert mode(database) == 0o600
    assert mode(database.parent) == 0o700  # var/, which init made
    assert mode(scratch.files_dir) == 0o700
    with scratch.engine() as engine, engine.begin() as conn:  # WAL: -wal and -shm while open
        conn.execute(text("UPDATE users SET full_name = 'Root' WHERE email = :e"), {"e": ADMIN})
        for companion in (Path(f"{database}-wal"), Path(f"{database}-shm")):
            assert mode(companion) == 0o600, companion


def test_folders_that_exist_keep_their_mode(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    var.chmod(0o755)
    scratch, database = sqlite_cli(tmp_path)

    init(scratch)

    assert mode(var) == 0o755  # the operator's folder: their choice
    assert mode(database) == 0o600
    assert mode(scratch.files_dir) == 0o700


def test_init_makes_the_files_folder_owner_only(scratch):
    init(scratch)

    assert mode(scratch.files_dir) == 0o700


def test_doctor_warns_about_a_database_others_can_read(tmp_path):
    scratch, database = sqlite_cli(tmp_path)
    init(scratch)
    clean = scratch("doctor")
    assert clean.exit_code == 0 and "warning" not in clean.stderr

    database.chmod(0o644)
    result = scratch("doctor")

    assert result.exit_code == 0, result.output  # a warning, not a failure
    assert result.stderr.strip() == (
        f"warning: database_file: {database} is readable by other accounts (mode 0644): "
        f"chmod 600 {database}"
    )
    data = json.loads(scratch("doctor", "--json").stdout)
    [check] = [c for c in data["checks"] if c["check"] == "database_file"]
    assert check["ok"] is True and check["warning"] is True and data["ok"] is True


@pytest.fixture
def files_cli(settings: Any, session_factory: Any, tmp_path: Path) -> Cli:
    """lmsctl with a files folder that does not exist yet."""
    return Cli(settings.model_copy(update={"files_dir": tmp_path / "files"}), session_factory)


def test_an_upload_is_stored_owner_only_in_owner_only_folders(files_cli, make, session, tmp_path):
    source = tmp_path / "syllabus.pdf"
    source.write_bytes(samples.PDF)
    user = make.user()

    ok_json(files_cli("files", "upload", str(source), "--json", as_=user.email))

    [stored] = session.query(StoredFile).all()
    blob = tmp_path / "files" / stored.file_path
    assert blob.read_bytes() == samples.PDF
    assert mode(blob) == 0o600
    for folder in (blob.parent, blob.parent.parent):
        assert mode(folder) == 0o700, folder


def test_an_upload_of_a_symbolic_link_is_refused_and_nothing_stored(
    files_cli, make, session, tmp_path
):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$not-for-upload:19000:0:99999:7:::\n", encoding="utf-8")
    link = tmp_path / "notes.txt"
    link.symlink_to(secret)
    user = make.user()

    line = refused(files_cli("files", "upload", str(link), as_=user.email), "file")
    error = refused_json(files_cli("files", "upload", str(link), "--json", as_=user.email), "file")

    assert "symbolic link" in line and str(link) in line
    assert error["value"] == str(link)
    assert count(session, StoredFile) == 0
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").rglob("*.*"))
