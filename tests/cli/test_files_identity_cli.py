"""Two databases pointed at one files folder: the second is refused, the first's PDFs stay.

Both databases are made from scratch (SQLite: two files; PostgreSQL: the scratch database
and ``<test database>2``), so their first courses have the same id and therefore the same
certificate folder: before the folder was stamped, the second's issue run deleted all the
first's PDFs as orphans.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.cli.conftest import ScratchCli
from tests.cli.helpers import ok, ok_json, refused, refused_json
from tests.conftest import scratch_database

pytestmark = pytest.mark.scratch

COURSE = "shared-course"


@pytest.fixture
def second_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the test's own."""
    with scratch_database(db_url, tmp_path / "second.db") as url:
        yield url


def _course_with_completers(db: ScratchCli, files_dir: Path, learners: int = 3) -> None:
    """``lmsctl init``, then a published one-lesson course every learner completed."""
    ok(db("init", files_dir=files_dir))
    script = [
        ["users", "create", "teacher@x.org", "--name", "Teacher", "--role", "instructor"],
        ["courses", "create", COURSE, "--title", "Shared", "--instructor", "teacher@x.org"],
        ["lessons", "add", COURSE, "only", "--title", "Only lesson"],
        ["courses", "publish", COURSE],
    ]
    for i in range(learners):
        email = f"l{i}@x.org"
        script += [
            ["users", "create", email, "--name", f"Learner {i}"],
            ["enrollments", "enroll", email, COURSE],
            ["enrollments", "complete-lesson", email, f"{COURSE}/only"],
        ]
    for args in script:
        ok(db(*args, files_dir=files_dir))


def _pdfs(files_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(files_dir)): p.read_bytes() for p in files_dir.rglob("*.pdf")}


def test_a_second_database_is_refused_the_first_ones_files_folder(
    scratch: ScratchCli, second_url: str, tmp_path: Path
) -> None:
    shared, own = tmp_path / "shared", tmp_path / "own"
    first, second = ScratchCli(scratch.url, shared), ScratchCli(second_url, own)
    _course_with_completers(first, shared)
    assert len(ok_json(first("certificates", "issue", COURSE, "--json"))["issued"]) == 3
    theirs = _pdfs(shared)
    assert len(theirs) == 3
    identity = first.scalar("SELECT identity FROM database_identity")

    # init itself is refused, before it writes anything.
    line = refused(second("init", files_dir=shared), "files_dir")
    assert line == (
        f"error: files_dir: files folder {shared} belongs to another database "
        f"(identity {identity}, {make_url(first.url).render_as_string(hide_password=True)}); "
        f"set LMS_FILES_DIR to a folder of its own for this database (if the folder really is "
        f"this database's, e.g. the database was made again, remove {shared}/.lms-database)"
    )
    assert "database_identity" not in second.tables()

    # A second database set up with a folder of its own, then pointed at the shared one.
    _course_with_completers(second, own)
    assert second.scalar("SELECT identity FROM database_identity") != identity
    refused(
        second("certificates", "issue", COURSE, files_dir=shared),
        "files_dir",
        contains=f"belongs to another database (identity {identity}",
    )
    refused(
        second("certificates", "issue", COURSE, "--dry-run", files_dir=shared),
        "files_dir",
        contains="set LMS_FILES_DIR to a folder of its own",
    )
    assert _pdfs(shared) == theirs
    assert second.scalar("SELECT count(*) FROM certificates") == 0

    upload = tmp_path / "notes.txt"
    upload.write_text("lecture notes\n", encoding="utf-8")
    refused(second("files", "upload", str(upload), files_dir=shared), "files_dir")
    assert second.scalar("SELECT count(*) FROM files") == 0
    assert not any(p.name.endswith(".txt") for p in shared.rglob("*"))

    # Each in its own folder, both work; the first's PDFs are still all there.
    assert len(ok_json(second("certificates", "issue", COURSE, "--json"))["issued"]) == 3
    assert len(ok_json(first("certificates", "issue", COURSE, "--json"))["issued"]) == 0
    assert _pdfs(shared) == theirs


def test_doctor_reports_a_files_folder_of_another_database(
    scratch: ScratchCli, second_url: str, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    first, second = ScratchCli(scratch.url, shared), ScratchCli(second_url, tmp_path / "own")
    ok(first("init"))
    ok(second("init"))

    checks = {c["check"]: c for c in ok_json(first("doctor", "--json"))["checks"]}
    assert checks["files_owner"]["ok"] is True
    assert first.scalar("SELECT identity FROM database_identity") in checks["files_owner"]["detail"]

    result = second("doctor", "--json", files_dir=shared)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    owner = {c["check"]: c for c in data["checks"]}["files_owner"]
    assert owner["ok"] is False
    assert owner["detail"].startswith(f"files folder {shared} belongs to another database")

    plain = second("doctor", files_dir=shared)
    assert plain.exit_code == 1
    assert plain.stderr.startswith("error: files_owner: files folder")


def test_a_database_downgraded_and_upgraded_again_is_told_why_its_folder_is_refused(
    scratch: ScratchCli, tmp_path: Path
) -> None:
    """Upgraded again, the database has a new identity: the message says it looks re-made."""
    files = tmp_path / "files"
    db = ScratchCli(scratch.url, files)
    ok(db("init"))
    stamp = files / ".lms-database"
    first = db.scalar("SELECT identity FROM database_identity")
    assert f"identity: {first}" in stamp.read_text(encoding="utf-8")
    ok(db("db", "downgrade", "87f21df572e2", "--yes"))
    ok(db("db", "upgrade"))
    assert db.scalar("SELECT identity FROM database_identity") != first
    upload = tmp_path / "notes.txt"
    upload.write_text("lecture notes\n", encoding="utf-8")
    refused(
        db("files", "upload", str(upload)),
        "files_dir",
        contains="it looks like this database was re-created, or downgraded and upgraded again",
    )
    stamp.unlink()  # what the message says to do when the folder is this database's
    ok(db("files", "upload", str(upload)))
    assert db.scalar("SELECT count(*) FROM files") == 1


def test_a_database_without_its_identity_row_is_refused_at_once(
    scratch: ScratchCli, tmp_path: Path
) -> None:
    """Every writer of the folder claims it inside its write transaction: on SQLite a claim
    that needed a second writer waited for its own process until the busy timeout."""
    files = tmp_path / "files"
    db = ScratchCli(scratch.url, files)
    ok(db("init"))
    with db.engine() as engine, engine.begin() as conn:
        conn.execute(text("DELETE FROM database_identity"))
    upload = tmp_path / "notes.txt"
    upload.write_text("lecture notes\n", encoding="utf-8")
    error = refused_json(
        db("files", "upload", str(upload), "--json", sqlite_busy_timeout_ms=500),
        "database_url",
        contains="has no identity (the database_identity table is empty)",
    )
    assert error["hint"] == {"code": "run_migrations", "params": {}}
    assert db.scalar("SELECT count(*) FROM files") == 0
    assert db.scalar("SELECT count(*) FROM database_identity") == 0
