"""The operations services check the actor themselves: schema, health, demo data, init.

What ``lmsctl --as`` relies on (tests/cli/test_rights_every_command.py walks the CLI); here the
services are called directly, as the back office or a job would, with a learner as actor.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from lms_core.actor import Actor, actor_for_email
from lms_core.db import make_engine
from lms_core.errors import NotFound, PermissionDenied
from lms_core.models import Course, Role, User
from lms_core.ops import demo, health, schema
from lms_core.ops.setup import AdminRequest, initialise
from tests.helpers import audit_count

INITIAL = "7615766e684a"  # the first migration: users exist, later tables do not


@pytest.fixture
def scratch_engine(settings, scratch_url):
    engine = make_engine(settings, url=scratch_url)
    yield engine
    engine.dispose()


@pytest.fixture
def student(make):
    return Actor.for_user(make.user("student"))


def test_a_learner_cannot_migrate_or_inspect_the_schema(scratch_engine):
    schema.upgrade(scratch_engine)
    learner = Actor(label="sam@example.org", role=Role.student)

    with pytest.raises(PermissionDenied, match="only an administrator may downgrade the schema"):
        schema.migrate(scratch_engine, "base", actor=learner, down=True)
    with pytest.raises(PermissionDenied, match="upgrade the schema"):
        schema.migrate(scratch_engine, "head", actor=learner)
    with pytest.raises(PermissionDenied):
        schema.checked_status(scratch_engine, actor=learner)

    assert schema.current_revision(scratch_engine) == schema.head_revision()
    before, after = schema.migrate(
        scratch_engine, INITIAL, actor=Actor.operator("pytest"), down=True
    )
    assert (before, after) == (schema.head_revision(), INITIAL)


def test_a_learner_cannot_run_the_health_checks(settings, engine, student):
    with pytest.raises(PermissionDenied, match="health checks"):
        health.diagnose(settings, engine, actor=student)
    assert health.diagnose(settings, engine, actor=Actor.operator("pytest"))


def test_a_learner_cannot_seed_or_generate_demo_data(session, settings, hasher, student):
    audits = audit_count(session)
    users = session.query(User).count()

    with pytest.raises(PermissionDenied, match="seed demo data"):
        demo.seed(session, actor=student, hasher=hasher, settings=settings)
    with pytest.raises(PermissionDenied, match="generate demo data"):
        demo.generate(
            session, actor=student, settings=settings, n_users=5, n_courses=1, n_enrollments=5
        )
    with pytest.raises(PermissionDenied, match="generate demo data"):
        demo.plan_generate(settings, actor=student, n_users=5, n_courses=1, n_enrollments=5)

    assert session.query(User).count() == users
    assert session.query(Course).count() == 0
    assert audit_count(session) == audits


def test_a_learner_cannot_initialise(scratch_engine, settings, hasher):
    learner = Actor(label="sam@example.org", role=Role.student)
    with pytest.raises(PermissionDenied, match="initialise the database"):
        initialise(scratch_engine, settings, actor=learner, hasher=hasher)
    assert set(inspect(scratch_engine).get_table_names()) == set()


def test_a_weak_password_refuses_init_before_the_schema_is_touched(
    scratch_engine, settings, hasher, tmp_path
):
    asked = []

    def password() -> str:
        asked.append(True)
        return "weak"

    with pytest.raises(Exception, match="at least"):
        initialise(
            scratch_engine,
            settings.model_copy(update={"files_dir": tmp_path / "files"}),
            actor=Actor.operator("pytest"),
            hasher=hasher,
            admin=AdminRequest(email="root@school.example", full_name="Root", password=password),
        )
    assert asked == [True]
    assert set(inspect(scratch_engine).get_table_names()) == set()
    assert not (tmp_path / "files").exists()


def test_actor_for_email_reads_any_schema_state(scratch_engine):
    with scratch_engine.connect() as conn, pytest.raises(PermissionDenied, match="no users yet"):
        actor_for_email(conn, "root@school.example")

    schema.upgrade(scratch_engine, INITIAL)  # an older schema than the models
    with scratch_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (email, role, is_active, failed_login_attempts, full_name) "
                "VALUES ('root@school.example', 'admin', true, 0, 'Root'), "
                "('gone@school.example', 'student', false, 0, 'Gone')"
            )
        )
    with scratch_engine.connect() as conn:
        root = actor_for_email(conn, " Root@School.example ")
        assert root.is_admin and root.label == "root@school.example" and root.user_id
        with pytest.raises(PermissionDenied, match="deactivated"):
            actor_for_email(conn, "gone@school.example")
        with pytest.raises(NotFound):
            actor_for_email(conn, "nobody@school.example")
