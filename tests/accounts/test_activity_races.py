"""Activity notes under concurrency, with real connections and threads: long units of work
that reach the same learners in opposite orders do not deadlock, and a login does not wait
for an open bulk completion that included the learner (lms_core/accounts/activity.py: the
rows of ``users`` are written, in id order, only as each unit commits).

On PostgreSQL the two units are held open together (a barrier before their commits); when
each wrote the learners' rows where the activity happened, the cron held one learner's row
and waited for the other's, which the bulk completion held while waiting for the first:
PostgreSQL aborted one with a deadlock. SQLite has one writer at a time (the units queue
behind each other): the same outcomes are asserted without holding both open."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lms_core.accounts import auth
from lms_core.actor import Actor
from lms_core.catalog.progress import complete_lesson_for_many
from lms_core.db import make_engine, make_session_factory, unit_of_work
from lms_core.models import Attempt, Lesson, LessonProgress, User, utcnow
from lms_core.ops import schema
from lms_core.quizzes import attempts
from lms_core.quizzes.review import close_overdue
from lms_core.security import PasswordHasher
from lms_core.settings import Settings
from tests.conftest import cheap_settings
from tests.factories import PASSWORD, Factories
from tests.quizzes.quizkit import make_quiz

#: Only a guard against a hung test: the threads meet long before.
WAIT = 30


@dataclass
class Site:
    engine: Engine
    factory: Callable[[], Session]
    settings: Settings
    hasher: PasswordHasher
    operator: Actor


@contextmanager
def site(scratch_url: str, tmp_path: Path) -> Iterator[Site]:
    settings = cheap_settings(scratch_url, tmp_path / "files")
    engine = make_engine(settings)
    schema.upgrade(engine)
    try:
        yield Site(
            engine,
            make_session_factory(engine),
            settings,
            PasswordHasher.from_settings(settings),
            Actor.operator("pytest"),
        )
    finally:
        engine.dispose()


def run(*targets: Callable[[], None]) -> list[BaseException]:
    """Run the targets in threads; the exceptions they raised."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def body() -> None:
            try:
                target()
            except BaseException as exc:  # reported to the test
                errors.append(exc)

        return body

    threads = [threading.Thread(target=guarded(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * WAIT)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def test_the_overdue_cron_and_a_bulk_completion_in_opposite_orders_do_not_deadlock(
    scratch_url: str, tmp_path: Path, is_postgres: bool
) -> None:
    with site(scratch_url, tmp_path) as s:
        past = utcnow() - timedelta(hours=1)
        with s.factory() as session:
            make = Factories(session, s.hasher, s.operator)
            quiz = make_quiz(session, make, s.operator, time_limit_minutes=10)
            first, second = quiz.student, make.user()
            make.enroll(second, quiz.course)
            other = make.course(lessons=2, published=True)
            bulk_enrollments = [make.enroll(u, other).id for u in (first, second)]
            # The cron closes attempts by id: the second learner's first, then the first's;
            # the bulk completion goes by enrollment: the first learner's, then the second's.
            for learner in (second, first):
                attempts.start_attempt(
                    session,
                    actor=s.operator,
                    quiz_ref=quiz.ref,
                    email=learner.email,
                    now=past,
                )
            lesson_id = session.scalars(
                select(Lesson.id).where(Lesson.course_id == other.id).order_by(Lesson.id)
            ).first()
            session.commit()
            learners = (first.id, second.id)
        # PostgreSQL: both units have done all their work before either commits.
        both_done = threading.Barrier(2, timeout=WAIT) if is_postgres else None
        outcomes: dict[str, int] = {}

        def cron() -> None:
            with unit_of_work(s.factory) as session:
                outcomes["closed"] = len(close_overdue(session, actor=s.operator))
                if both_done is not None:
                    both_done.wait()

        def bulk() -> None:
            with unit_of_work(s.factory) as session:
                lesson = session.get(Lesson, lesson_id)
                assert lesson is not None
                outcomes["completed"] = complete_lesson_for_many(session, lesson, bulk_enrollments)
                if both_done is not None:
                    both_done.wait()

        assert run(cron, bulk) == []
        assert outcomes == {"closed": 2, "completed": 2}
        with s.factory() as session:
            kept = dict(
                session.execute(
                    select(User.id, User.last_activity_at).where(User.id.in_(learners))
                ).all()
            )
            completed = session.scalar(select(LessonProgress.completed_at).limit(1))
            handed_in = session.scalars(select(Attempt.submitted_at)).all()
        # Each learner's latest: the bulk completion (now), after the attempt's deadline.
        assert completed is not None and all(at is not None for at in handed_in)
        assert all(kept[u] == completed for u in learners)
        assert all(kept[u] > at for u in learners for at in handed_in if at is not None)


@pytest.mark.parametrize("learners", [1, 3])
def test_a_login_does_not_wait_for_an_open_bulk_completion(
    scratch_url: str, tmp_path: Path, is_postgres: bool, learners: int
) -> None:
    """``learners``: one (the single-row write at commit) or several (the locked, ordered
    ``UPDATE ... FROM (VALUES ...)``)."""
    with site(scratch_url, tmp_path) as s:
        with s.factory() as session:
            make = Factories(session, s.hasher, s.operator)
            course = make.course(lessons=2, published=True)
            users = [make.user() for _ in range(learners)]
            enrollment_ids = [make.enroll(u, course).id for u in users]
            lesson_id = session.scalars(
                select(Lesson.id).where(Lesson.course_id == course.id).order_by(Lesson.id)
            ).first()
            session.commit()
            email, user_id = users[0].email, users[0].id
        bulk_worked, logged_in = threading.Event(), threading.Event()
        order: list[str] = []

        def bulk() -> None:
            with unit_of_work(s.factory) as session:
                lesson = session.get(Lesson, lesson_id)
                assert lesson is not None
                complete_lesson_for_many(session, lesson, enrollment_ids)
                bulk_worked.set()
                if is_postgres:  # the rest of a long regrade, in the same transaction
                    assert logged_in.wait(WAIT), "the login waited for the open bulk unit"
            order.append("bulk committed")

        def login() -> None:
            assert bulk_worked.wait(WAIT)
            with unit_of_work(s.factory) as session:
                out = auth.authenticate(
                    session, email=email, password=PASSWORD, hasher=s.hasher, settings=s.settings
                )
                assert out.ok
            order.append("logged in")
            logged_in.set()

        assert run(bulk, login) == []
        # PostgreSQL: the login committed while the bulk unit was still open.
        expected = (
            ["logged in", "bulk committed"] if is_postgres else ["bulk committed", "logged in"]
        )
        assert order == expected
        with s.factory() as session:
            row = session.execute(
                select(User.last_login_at, User.last_activity_at).where(User.id == user_id)
            ).one()
            completed = session.scalar(select(LessonProgress.completed_at).limit(1))
        assert row.last_login_at is not None and completed is not None
        # Whichever committed last, the kept time is the later of the two activities.
        assert row.last_activity_at == max(row.last_login_at, completed)


def test_units_that_inserted_rows_pointing_at_the_learners_do_not_deadlock(
    scratch_url: str, tmp_path: Path, is_postgres: bool
) -> None:
    """Inserting a row whose foreign key names a user (an audit entry, a submission, a
    login's session) takes ``KEY SHARE`` on that user's row until commit. The commit-time
    lock is ``FOR NO KEY UPDATE``, which does not conflict with it: with ``FOR UPDATE`` two
    units that each inserted an entry naming one of two learners and noted both deadlocked
    on PostgreSQL (the first commit waited for the second unit's key share, the second for
    the first's locks). SQLite has one writer: the units run in turn."""
    from lms_core.accounts.activity import note_activity
    from lms_core.models import AuditEntry

    with site(scratch_url, tmp_path) as s:
        with s.factory() as setup:
            make = Factories(setup, s.hasher, s.operator)
            a, b = make.user("student"), make.user("student")
            setup.commit()
            ids = (a.id, b.id)
        at = utcnow()

        def unit(actor_id: int, shift: int) -> Session:
            opened = s.factory()
            opened.add(
                AuditEntry(
                    actor_id=actor_id, actor_label="x", action="x.y", entity_type="enrollment"
                )
            )
            opened.flush()  # KEY SHARE on the actor's row, held to the commit
            for user_id in ids:
                note_activity(opened, user_id, at + timedelta(days=shift))
            return opened

        if is_postgres:
            units = [unit(ids[0], 0), unit(ids[1], 1)]
            second_may_commit = threading.Event()

            def commit_first() -> None:
                second_may_commit.set()
                units[0].commit()

            def commit_second() -> None:
                second_may_commit.wait(WAIT)
                units[1].commit()

            errors = run(commit_first, commit_second)
            for opened in units:
                opened.close()
            assert errors == []
        else:
            for actor_id, shift in ((ids[0], 0), (ids[1], 1)):
                with unit(actor_id, shift) as opened:
                    opened.commit()
        with s.factory() as check:
            times = check.scalars(
                select(User.last_activity_at).where(User.id.in_(ids)).order_by(User.id)
            ).all()
        assert times == [at + timedelta(days=1)] * 2
