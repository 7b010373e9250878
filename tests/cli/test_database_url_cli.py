"""Database URLs as people type them: ``postgres://`` works, the rest is one clear line, and a
mistyped SQLite path is reported, never created, by every command but ``init``/``db upgrade``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from lms_core.ops.schema import head_revision
from lmsctl.commands.doctor import EXIT_EMPTY
from lmsctl.main import app
from lmsctl.runtime import Runtime
from tests.cli.helpers import ok, ok_json, refused, refused_json

pytestmark = pytest.mark.scratch


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """lmsctl as in a real shell: settings from --database / LMS_DATABASE_URL, cwd a temp dir."""
    monkeypatch.chdir(tmp_path)
    for name in ("LMS_DATABASE_URL", "LMS_ENVIRONMENT", "LMS_ACTOR", "LMS_FILES_DIR"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args: str) -> Result:
        runtime = Runtime()
        try:
            return runner.invoke(app, list(args), obj=runtime)
        finally:
            if runtime.engine is not None:
                runtime.engine.dispose()

    return run


BAD_URLS = {
    "mysql://lms:s3cret-pw@db.example.org/lms": "mysql databases are not supported",
    "not a url": "not a database URL",
    "oracle://lms:s3cret-pw@db.example.org/lms": "oracle databases are not supported",
    "postgresql+nosuchdriver://lms:s3cret-pw@db.example.org/lms": "driver postgresql+nosuchdriver is not",
}


@pytest.mark.parametrize("url", list(BAD_URLS))
def test_an_unusable_url_is_one_line_from_the_option(shell, url):
    line = refused(
        shell("--database", url, "users", "list"), "database_url", contains=BAD_URLS[url]
    )
    assert "s3cret" not in line  # the URL is not repeated: it may hold a password
    assert "sqlite:///PATH or postgresql://" in line
    error = refused_json(shell("--database", url, "users", "list", "--json"), "database_url")
    assert BAD_URLS[url] in error["message"] and "s3cret" not in json.dumps(error)


@pytest.mark.parametrize("url", list(BAD_URLS))
def test_an_unusable_url_is_one_line_from_the_environment(shell, url, monkeypatch):
    monkeypatch.setenv("LMS_DATABASE_URL", url)
    for command in (["users", "list"], ["doctor"], ["db", "current"], ["init"]):
        refused(shell(*command), "database_url", contains=BAD_URLS[url])


def test_postgres_scheme_is_postgresql(shell, scratch_url):
    """Hosts hand out ``postgres://``; SQLAlchemy knows no such dialect. It means PostgreSQL."""
    unreachable = shell("--database", "postgres://nobody@127.0.0.1:1/none", "doctor", "--json")
    assert unreachable.exit_code == 1
    checks = {c["check"]: c for c in json.loads(unreachable.stdout)["checks"]}
    assert "unreachable" in checks["database"]["detail"]
    assert "Connection refused" in checks["database"]["detail"]
    plain = shell("--database", "postgresql://nobody@127.0.0.1:1/none", "db", "current")
    refused(plain, "database_url", contains="database error")  # psycopg2, the bundled driver
    if make_url(scratch_url).get_backend_name() != "postgresql":
        return
    hosted = "postgres://" + scratch_url.partition("://")[2]
    assert ok_json(shell("--database", hosted, "db", "upgrade", "--json"))["current"] == (
        head_revision()
    )
    assert ok_json(shell("--database", hosted, "db", "current", "--json"))["up_to_date"] is True


READ_COMMANDS = [
    ["users", "list"],
    ["courses", "list", "--json"],
    ["enrollments", "list"],
    ["export", "users"],
    ["db", "downgrade", "base", "--yes"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_a_mistyped_sqlite_path_creates_nothing(shell, tmp_path, command):
    url = f"sqlite:///{tmp_path / 'nonexistent' / 'dir' / 'x.db'}"

    result = shell("--database", url, *command)

    assert result.exit_code == 1 and "Traceback" not in result.output
    if "--json" in command:
        error = refused_json(result, "database_url", contains="does not exist")
        assert error["hint"] == {"code": "initialise_database", "params": {}}
    else:
        line = refused(result, "database_url", contains="does not exist")
        assert "x.db" in line and line.endswith("(run: lmsctl init)"), line
    assert list(tmp_path.iterdir()) == [], "a read command created files or folders"


def test_checks_of_a_missing_sqlite_file_report_it_empty_and_create_nothing(shell, tmp_path):
    url = f"sqlite:///{tmp_path / 'nonexistent' / 'x.db'}"

    assert ok_json(shell("--database", url, "db", "current", "--json"))["current"] is None
    refused(shell("--database", url, "db", "check"), "revision", contains="database is empty")
    doctor = shell("--database", url, "doctor")
    assert doctor.exit_code == EXIT_EMPTY, doctor.output
    assert doctor.stderr.strip().endswith("database is empty: initialise it (run: lmsctl init)")
    assert list(tmp_path.iterdir()) == []


def test_init_and_db_upgrade_create_the_sqlite_file_and_its_folder(shell, tmp_path):
    first = tmp_path / "new" / "dir" / "lms.db"
    ok(shell("--database", f"sqlite:///{first}", "init"))
    assert first.is_file()
    assert ok_json(shell("--database", f"sqlite:///{first}", "users", "list", "--json")) == []

    second = tmp_path / "other" / "lms.db"
    ok(shell("--database", f"sqlite:///{second}", "db", "upgrade"))
    assert second.is_file()
