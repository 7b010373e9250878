"""lmsctl db: upgrade, downgrade, current, check, on a scratch database of each test's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from lms_core.ops.schema import head_revision
from lmsctl.main import app
from lmsctl.runtime import Runtime
from tests.cli.helpers import ok, ok_json, refused, refused_json, usage_error
from tests.conftest import cheap_settings

pytestmark = pytest.mark.scratch

HEAD = head_revision()
TABLES = {
    "users",
    "courses",
    "lessons",
    "enrollments",
    "lesson_progress",
    "one_time_tokens",
    "audit_log",
}


def test_an_empty_database(scratch):
    assert ok_json(scratch("db", "current", "--json")) == {
        "current": None,
        "head": HEAD,
        "up_to_date": False,
    }
    out = ok(scratch("db", "current")).stdout
    assert "head" in out and HEAD in out and "no" in out


def test_check_fails_on_an_empty_database(scratch):
    """As lmsctl doctor says it: an empty database is initialised, not upgraded."""
    line = refused(scratch("db", "check"), "revision", contains="database is empty")
    assert line.endswith("initialise it (run: lmsctl init)"), line
    error = refused_json(scratch("db", "check", "--json"), "revision", contains="database is empty")
    assert error["value"] is None
    assert error["hint"] == {"code": "initialise_database", "params": {}}
    assert scratch.tables() - {"alembic_version"} == set()


def test_upgrade_then_check_and_current(scratch):
    result = ok(scratch("db", "upgrade"))
    assert result.stdout.strip() == f"database at {HEAD} (was empty)"
    assert scratch.tables() >= TABLES

    assert ok(scratch("db", "check")).stdout.strip() == f"schema up to date at {HEAD}"
    assert ok_json(scratch("db", "check", "--json")) == {
        "current": HEAD,
        "head": HEAD,
        "differences": [],
    }
    assert ok_json(scratch("db", "current", "--json")) == {
        "current": HEAD,
        "head": HEAD,
        "up_to_date": True,
    }
    assert ok_json(scratch("db", "upgrade", "--json")) == {
        "before": HEAD,
        "current": HEAD,
    }  # again: a no-op


def test_downgrade_to_base_and_back(scratch):
    ok(scratch("db", "upgrade"))

    data = ok_json(scratch("db", "downgrade", "base", "--yes", "--json"))

    assert data == {"before": HEAD, "current": None}
    assert TABLES & scratch.tables() == set()
    assert ok_json(scratch("db", "current", "--json"))["current"] is None
    refused(scratch("db", "check"), "revision", contains="(run: lmsctl init)")
    assert ok_json(scratch("db", "upgrade", "head", "--json")) == {"before": None, "current": HEAD}
    assert scratch.tables() >= TABLES


def test_downgrade_message(scratch):
    ok(scratch("db", "upgrade"))

    result = ok(scratch("db", "downgrade", "base", "-y"))

    assert result.stdout.strip() == f"database at base (was {HEAD})"


def test_downgrade_asks_first(scratch):
    ok(scratch("db", "upgrade"))

    declined = scratch("db", "downgrade", "base", input="n\n")
    assert declined.exit_code == 1
    assert "Downgrade the database to base?" in declined.stderr and "Aborted" in declined.stderr
    assert scratch.tables() >= TABLES

    accepted = scratch("db", "downgrade", "base", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert TABLES & scratch.tables() == set()


def test_downgrade_needs_a_revision(scratch):
    usage_error(scratch("db", "downgrade", "--yes"), "Missing argument")


def test_upgrade_to_an_unknown_revision_is_refused(scratch):
    refused(scratch("db", "upgrade", "nope"), "revision", contains="nope")
    refused_json(scratch("db", "downgrade", "nope", "--yes", "--json"), "revision")


def test_check_finds_a_schema_that_differs_from_the_models(scratch):
    ok(scratch("db", "upgrade"))
    with scratch.engine() as engine, engine.begin() as conn:
        conn.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))

    result = scratch("db", "check")
    assert result.exit_code == 1
    assert "error: schema:" in result.stderr and "stray" in result.stderr
    data = json.loads(scratch("db", "check", "--json").stdout)
    assert [e["field"] for e in data["errors"]] == ["schema"]


def test_an_unreachable_database_is_a_clean_error(tmp_path):
    settings = cheap_settings("postgresql+psycopg2://nobody@127.0.0.1:1/none", tmp_path / "files")

    result = CliRunner().invoke(app, ["db", "current"], obj=Runtime(settings=settings))
    refused(result, "database_url", contains="database error")
    result = CliRunner().invoke(app, ["db", "check", "--json"], obj=Runtime(settings=settings))
    refused_json(result, "database_url", contains="database error")


def test_the_database_option_and_config_file(scratch_url, tmp_path, monkeypatch):
    """Without a ready Runtime, settings come from --database / --config like in a real shell."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("LMS_DATABASE_URL", "LMS_ENVIRONMENT", "LMS_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args):
        runtime = Runtime()
        try:
            return runner.invoke(app, list(args), obj=runtime)
        finally:
            if runtime.engine is not None:
                runtime.engine.dispose()

    assert ok_json(run("--database", scratch_url, "db", "current", "--json"))["current"] is None
    assert ok_json(run("--database", scratch_url, "db", "upgrade", "--json"))["current"] == HEAD

    config = tmp_path / "lms.env"
    config.write_text(f"LMS_DATABASE_URL={scratch_url}\n", encoding="utf-8")
    assert ok_json(run("--config", str(config), "db", "current", "--json"))["current"] == HEAD

    refused(
        run("--config", str(tmp_path / "missing.env"), "db", "current"),
        "config",
        contains="does not exist",
    )
    config.write_text("LMS_DB_POOL_SIZE=0\n", encoding="utf-8")
    refused_json(run("--config", str(config), "db", "current", "--json"), "db_pool_size")
    config.write_text("LMS_ENVIRONMENT=production\n", encoding="utf-8")
    result = run("--config", str(config), "db", "current")
    assert result.exit_code == 1 and "error: secret_key:" in result.stderr


def test_downgrade_past_base_is_refused(scratch):
    assert scratch.tables() == set()  # an empty database (on SQLite, an empty file)
    refused(scratch("db", "downgrade", "-1", "--yes"), "revision")


def test_downgrade_one_step_as_in_the_help_example(scratch):
    ok(scratch("db", "upgrade"))

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    previous = ScriptDirectory.from_config(config).get_revision(HEAD).down_revision
    assert ok_json(scratch("db", "downgrade", "-1", "--yes", "--json")) == {
        "before": HEAD,
        "current": previous,
    }


def test_check_on_a_database_behind_the_code_says_upgrade(scratch):
    ok(scratch("db", "upgrade"))
    ok(scratch("db", "downgrade", "-1", "--yes"))

    line = refused(scratch("db", "check"), "revision", contains="code expects")
    assert line.endswith("upgrade the schema (run: lmsctl db upgrade)"), line
    error = refused_json(scratch("db", "check", "--json"), "revision")
    assert error["hint"] == {"code": "run_migrations", "params": {}}
    assert error["value"] not in (None, HEAD)


def test_a_missing_column_hints_at_db_upgrade(scratch):
    """A schema older than the code (here: before the certificates' legacy_number column)
    is not an uninitialised database: the hint is to migrate, not to init."""
    ok(scratch("init"))
    ok(scratch("db", "downgrade", "c5d2e8f1a7b3", "--yes"))
    line = refused(scratch("certificates", "list"), "database_url", contains="newest revision")
    assert line.endswith("(run: lmsctl db upgrade)"), line
    error = refused_json(scratch("certificates", "list", "--json"), "database_url")
    assert error["hint"] == {"code": "run_migrations", "params": {}}


def test_a_missing_table_hints_at_init_in_json_too(scratch):
    """An uninitialised database met by any command: the hint is data, not glued text."""
    assert scratch.tables() == set()  # an empty database (on SQLite, an empty file)
    line = refused(
        scratch("users", "list"), "database_url", contains="is the database initialised?"
    )
    assert line.endswith("(run: lmsctl init)"), line
    error = refused_json(scratch("users", "list", "--json"), "database_url")
    assert error["hint"] == {"code": "initialise_database", "params": {}}
    assert "run:" not in error["message"]
