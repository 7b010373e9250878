"""Migrations on an empty database of the test's own: head matches the models, down and up again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import migrations
from lms_core.db import make_engine
from lms_core.models import Base
from lms_core.ops import schema

pytestmark = pytest.mark.scratch


@pytest.fixture
def scratch_engine(settings, scratch_url):
    engine = make_engine(settings, url=scratch_url)
    yield engine
    engine.dispose()


def tables(engine):
    return set(inspect(engine).get_table_names())


def test_an_empty_database_has_no_revision(scratch_engine):
    status = schema.status(scratch_engine)
    assert status.current is None
    assert status.head == schema.head_revision() is not None
    assert status.differences == []  # not compared until at head
    assert status.up_to_date is False


def test_upgrade_to_head_matches_the_models_exactly(scratch_engine):
    schema.upgrade(scratch_engine)
    status = schema.status(scratch_engine)
    assert status.current == status.head
    assert status.differences == []
    assert status.up_to_date is True
    assert tables(scratch_engine) == set(Base.metadata.tables) | {"alembic_version"}


def test_differences_are_found_when_the_database_drifts(scratch_engine):
    schema.upgrade(scratch_engine)
    with scratch_engine.begin() as conn:
        conn.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
    status = schema.status(scratch_engine)
    assert any("stray" in d for d in status.differences)
    assert status.up_to_date is False
    assert schema.status(scratch_engine, compare=False).differences == []


def test_downgrade_to_base_leaves_only_alembic_version_then_upgrade_again(scratch_engine):
    schema.upgrade(scratch_engine)
    schema.downgrade(scratch_engine, "base")
    assert tables(scratch_engine) == {"alembic_version"}
    assert schema.current_revision(scratch_engine) is None
    schema.upgrade(scratch_engine)
    assert schema.current_revision(scratch_engine) == schema.head_revision()
    assert schema.status(scratch_engine).differences == []


def test_upgrade_twice_is_harmless(scratch_engine):
    schema.upgrade(scratch_engine)
    schema.upgrade(scratch_engine)
    assert schema.status(scratch_engine).up_to_date


def test_constraints_of_the_models_hold_in_the_migrated_database(scratch_engine):
    schema.upgrade(scratch_engine)
    with (
        pytest.raises(Exception, match=r"(?i)check|email_lowercase"),
        scratch_engine.begin() as conn,
    ):
        conn.execute(
            text(
                "INSERT INTO users (email, role, is_active, failed_login_attempts, full_name) "
                "VALUES ('Upper@X.org', 'student', true, 0, 'U')"
            )
        )
    with pytest.raises(Exception, match=r"(?i)check|role_valid"), scratch_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (email, role, is_active, failed_login_attempts, full_name) "
                "VALUES ('a@x.org', 'wizard', true, 0, 'A')"
            )
        )


def test_revision_files_have_date_prefixed_names():
    versions = Path(migrations.__file__).parent / "versions"
    names = [p.name for p in versions.glob("*.py")]
    assert names
    assert all(re.fullmatch(r"\d{8}_[0-9a-f]{12}_\w+\.py", name) for name in names)


def test_upgrading_keeps_the_data_of_tables_that_batch_migrations_rebuild(scratch_url):
    """SQLite rebuilds `courses` to add a column and a check; lessons and enrollments that
    reference it must survive (a DROP with foreign keys on would cascade-delete them)."""
    from sqlalchemy import text

    from lms_core.db import make_engine
    from lms_core.ops import schema
    from lms_core.settings import Settings

    engine = make_engine(Settings(), url=scratch_url)
    try:
        schema.upgrade(engine, "7615766e684a")  # the initial schema, before certificates
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, email, role, is_active, failed_login_attempts, full_name) "
                    "VALUES (1, 't@x.org', 'instructor', true, 0, 'T'), (2, 's@x.org', 'student', true, 0, 'S')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO courses (id, title, slug, instructor_id, difficulty_level, is_published) "
                    "VALUES (1, 'C', 'c', 1, 'beginner', true)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO lessons (course_id, title, slug, lesson_type, order_index, is_preview, "
                    "is_required) VALUES (1, 'L', 'l', 'text', 1, false, true)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO enrollments (student_id, course_id, status, enrolled_at, progress_percentage) "
                    "VALUES (2, 1, 'active', CURRENT_TIMESTAMP, 0)"
                )
            )
        schema.upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM lessons")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM enrollments")).scalar() == 1
            assert conn.execute(text("SELECT certificate_min_grade FROM courses")).scalar() == 0
        schema.downgrade(engine, "7615766e684a")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM lessons")).scalar() == 1
    finally:
        engine.dispose()
