"""Health checks behind ``lmsctl doctor``: settings, database, migrations, files folder."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from lms_core.db import make_engine
from lms_core.errors import Hint, HintCode
from lms_core.ops import health, schema
from lms_core.settings import Environment

UNREACHABLE = "postgresql+psycopg2://postgres:s3cret@127.0.0.1:1/x"


@pytest.fixture
def files_settings(settings, tmp_path):
    return settings.model_copy(update={"files_dir": tmp_path / "files"})


@pytest.fixture
def scratch_engine(settings, scratch_url):
    engine = make_engine(settings, url=scratch_url)
    yield engine
    engine.dispose()


@pytest.fixture
def unreachable_engine(settings):
    engine = make_engine(settings, url=UNREACHABLE)
    yield engine
    engine.dispose()


def by_name(checks):
    return {c.name: c for c in checks}


@pytest.mark.scratch
def test_all_checks_pass_on_a_migrated_database(files_settings, scratch_engine):
    schema.upgrade(scratch_engine)
    checks = health.run_checks(files_settings, scratch_engine)
    assert [c.name for c in checks] == ["settings", "database", "migrations", "files_dir", "mail"]
    assert all(c.ok for c in checks), checks
    found = by_name(checks)
    assert found["migrations"].detail == f"at head {schema.head_revision()}"
    assert "reachable" in found["database"].detail
    # A check creates nothing: a missing folder is fine when init can create it.
    assert found["files_dir"].detail.endswith("does not exist yet; initialising creates it")
    assert not files_settings.files_dir.exists()
    files_settings.files_dir.mkdir(parents=True)
    assert health.check_files_dir(files_settings).ok
    assert list(files_settings.files_dir.iterdir()) == []  # the probe file is removed


def test_settings_check_notes_what_is_not_production_ready(files_settings, unreachable_engine):
    settings_check = by_name(health.run_checks(files_settings, unreachable_engine))["settings"]
    assert settings_check.ok
    assert settings_check.detail.startswith(
        "environment development (not production-ready: secret_key"
    )


def test_unsafe_production_settings_fail_the_settings_check(files_settings, unreachable_engine):
    prod = files_settings.model_copy(update={"environment": Environment.production, "debug": True})
    settings_check = by_name(health.run_checks(prod, unreachable_engine))["settings"]
    assert not settings_check.ok
    assert "debug must be off in production" in settings_check.detail


@pytest.mark.scratch
def test_an_empty_database_fails_the_migrations_check(files_settings, scratch_engine):
    found = by_name(health.run_checks(files_settings, scratch_engine))
    assert found["database"].ok
    assert not found["migrations"].ok
    assert found["migrations"].detail == "database is empty: initialise it"
    assert found["migrations"].hint == Hint(HintCode.initialise_database)


@pytest.mark.scratch
def test_a_drifted_schema_fails_the_migrations_check(files_settings, scratch_engine):
    schema.upgrade(scratch_engine)
    with scratch_engine.begin() as conn:
        conn.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
    migrations = by_name(health.run_checks(files_settings, scratch_engine))["migrations"]
    assert not migrations.ok
    assert "schema differs from the models: 1 difference(s)" in migrations.detail


@pytest.mark.scratch
def test_an_old_revision_fails_the_migrations_check(files_settings, scratch_engine):
    schema.upgrade(scratch_engine)
    with scratch_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'abc123'"))
    migrations = by_name(health.run_checks(files_settings, scratch_engine))["migrations"]
    assert not migrations.ok
    assert (
        migrations.detail == f"at abc123, code expects {schema.head_revision()}: upgrade the schema"
    )
    assert migrations.hint == Hint(HintCode.run_migrations)


def test_an_unreachable_database_is_reported_without_waiting(files_settings, unreachable_engine):
    started = time.monotonic()
    checks = health.run_checks(files_settings, unreachable_engine, wait_seconds=0)
    assert time.monotonic() - started < 5
    assert [c.name for c in checks] == ["settings", "database", "files_dir", "mail"]
    database = by_name(checks)["database"]
    assert not database.ok
    assert "unreachable" in database.detail
    assert "127.0.0.1:1" in database.detail
    assert "s3cret" not in database.detail
    assert by_name(checks)["files_dir"].ok


def test_wait_for_database_retries_until_the_deadline(unreachable_engine):
    started = time.monotonic()
    error = health.wait_for_database(unreachable_engine, 0.4, interval=0.1)
    elapsed = time.monotonic() - started
    assert error
    assert "\n" not in error
    assert 0.4 <= elapsed < 5


def test_wait_for_a_reachable_database_returns_none(engine):
    assert health.wait_for_database(engine, 0) is None


def test_a_files_dir_that_cannot_be_created_fails(settings, tmp_path, unreachable_engine):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    bad = settings.model_copy(update={"files_dir": blocker / "files"})
    files = by_name(health.run_checks(bad, unreachable_engine))["files_dir"]
    assert not files.ok
    assert f"{blocker / 'files'} is not writable" in files.detail


def test_a_files_dir_that_is_a_file_fails(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    check = health.check_files_dir(settings.model_copy(update={"files_dir": blocker}))
    assert (check.name, check.ok) == ("files_dir", False)
    assert "is not writable" in check.detail


def test_safe_url_hides_the_password():
    assert health.safe_url(UNREACHABLE) == "postgresql+psycopg2://postgres:***@127.0.0.1:1/x"
    assert health.safe_url("sqlite:///var/lms.db") == "sqlite:///var/lms.db"


def test_mail_says_whether_it_is_configured(settings):
    from lms_core.settings import Environment

    check = health.check_mail(settings)
    assert (check.name, check.ok, check.warning) == ("mail", True, False)
    assert "mail is not configured (no LMS_SMTP_HOST): mails stay queued" in check.detail
    live = settings.model_copy(update={"environment": Environment.production})
    assert health.check_mail(live).warning  # in production, worth a look
    configured = settings.model_copy(update={"smtp_host": "mail.example.org", "smtp_user": "lms"})
    assert health.check_mail(configured).detail == (
        "SMTP mail.example.org:587 (starttls, login lms); a test mail shows whether it works"
    )
