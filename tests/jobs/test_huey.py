"""make_huey picks the queue settings describe; the tasks run and really change the database."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import huey
import pytest
from sqlalchemy import select

from jobs.huey_app import make_huey
from jobs.tasks import register_tasks
from lms_core.actor import Actor
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.models import Enrollment, Lesson, LessonProgress
from lms_core.ops import schema
from lms_core.security import PasswordHasher
from lms_core.settings import Settings
from tests.conftest import cheap_settings
from tests.factories import Factories


def test_default_is_sqlite_beside_the_sqlite_database(tmp_path: Path) -> None:
    settings = cheap_settings(f"sqlite:///{tmp_path / 'data' / 'lms.db'}", tmp_path / "files")
    queue = make_huey(settings)
    assert type(queue) is huey.SqliteHuey
    assert Path(queue.storage.filename) == tmp_path / "data" / "huey.db"
    assert (tmp_path / "data" / "huey.db").is_file()


def test_the_embedded_queue_is_owner_only(tmp_path: Path) -> None:
    """Like the database beside it: 0600 for the file, 0700 for a folder made for it."""
    settings = cheap_settings(f"sqlite:///{tmp_path / 'data' / 'lms.db'}", tmp_path / "files")
    queue = make_huey(settings)
    queue.enqueue(register_tasks(queue, settings).ping.s())  # the file really written
    assert (tmp_path / "data" / "huey.db").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700


def test_default_without_a_sqlite_database_is_var_huey_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = cheap_settings("postgresql+psycopg2://lms@db/lms", tmp_path / "files")
    queue = make_huey(settings)
    assert type(queue) is huey.SqliteHuey
    assert queue.storage.filename == str(Path("var/huey.db"))
    assert (tmp_path / "var" / "huey.db").is_file()


def test_sqlite_huey_url_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "queues" / "jobs.db"
    settings = cheap_settings("sqlite://", tmp_path / "files", huey_url=f"sqlite:///{path}")
    assert Path(make_huey(settings).storage.filename) == path


def test_redis_url_gives_redis_huey(tmp_path: Path) -> None:
    # Building it opens no connection: the pool connects on first use.
    settings = cheap_settings("sqlite://", tmp_path, huey_url="redis://127.0.0.1:1/3")
    queue = make_huey(settings, name="lms-x")
    assert type(queue) is huey.RedisHuey
    assert queue.name == "lms-x"
    assert queue.storage.pool.connection_kwargs["db"] == 3


def test_unknown_scheme_is_refused(tmp_path: Path) -> None:
    settings = cheap_settings("sqlite://", tmp_path, huey_url="amqp://broker")
    with pytest.raises(ValueError, match="amqp"):
        make_huey(settings)


def test_immediate_is_an_in_memory_queue(tmp_path: Path) -> None:
    settings = cheap_settings(f"sqlite:///{tmp_path / 'lms.db'}", tmp_path / "files")
    queue = make_huey(settings, immediate=True)
    assert type(queue) is huey.MemoryHuey
    assert queue.immediate
    assert not (tmp_path / "huey.db").exists()


def test_ping_runs_immediately(settings: Settings) -> None:
    tasks = register_tasks(make_huey(settings, immediate=True), settings)
    assert tasks.ping("hello")()["echo"] == "hello"


def test_a_task_enqueued_by_one_instance_runs_on_another(tmp_path: Path) -> None:
    """The producer and the consumer build their own queue; task names must agree."""
    settings = cheap_settings(f"sqlite:///{tmp_path / 'lms.db'}", tmp_path / "files")
    producer = register_tasks(make_huey(settings), settings)
    consumer = register_tasks(make_huey(settings), settings)
    result = producer.ping("across")
    message = consumer.huey.dequeue()
    assert message is not None
    consumer.huey.execute(message)
    assert result.get()["echo"] == "across"


def test_recompute_course_progress_fixes_stale_progress(
    scratch_url: str, tmp_path: Path, hasher: PasswordHasher
) -> None:
    settings = cheap_settings(scratch_url, tmp_path / "files")
    engine = make_engine(settings)
    try:
        schema.upgrade(engine)
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            enrollment = Factories(session, hasher, Actor.system("pytest")).enroll()
            first = session.scalars(
                select(Lesson.id)
                .where(Lesson.course_id == enrollment.course_id)
                .order_by(Lesson.order_index)
            ).first()
            # Progress written behind the services' back (as a bulk import would): now stale.
            session.add(LessonProgress(enrollment_id=enrollment.id, lesson_id=first))
            enrollment_id, course_id = enrollment.id, enrollment.course_id
        with unit_of_work(factory) as session:
            assert session.get_one(Enrollment, enrollment_id).progress_percentage == Decimal("0")

        tasks = register_tasks(make_huey(settings, immediate=True), settings)
        try:
            assert tasks.recompute_course_progress(course_id)() == 1
            assert tasks.recompute_course_progress(course_id + 1000)() == 0
        finally:
            tasks.close()

        with unit_of_work(factory) as session:
            enrollment = session.get_one(Enrollment, enrollment_id)
            assert enrollment.progress_percentage == Decimal("50.00")
    finally:
        engine.dispose()
