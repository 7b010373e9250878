"""Engine factory (SQLite pragmas, PostgreSQL pool), unit of work, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from lms_core.accounts import users
from lms_core.accounts.fields import UserCreate
from lms_core.db import insert_or_winner, make_engine, make_session_factory, unit_of_work
from lms_core.errors import Conflict
from lms_core.models import User
from lms_core.ops import schema


@pytest.fixture
def scratch_engine(settings, scratch_url):
    engine = make_engine(settings, url=scratch_url)
    schema.upgrade(engine)
    yield engine
    engine.dispose()


# --- SQLite -----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_engine(settings, tmp_path):
    engine = make_engine(
        settings.model_copy(update={"sqlite_busy_timeout_ms": 1234}),
        url=f"sqlite:///{tmp_path / 'nested' / 'folder' / 'lms.db'}",
    )
    yield engine
    engine.dispose()


def pragma(engine, name):
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_gets_foreign_keys_wal_and_busy_timeout(sqlite_engine):
    assert pragma(sqlite_engine, "foreign_keys") == 1
    assert pragma(sqlite_engine, "journal_mode") == "wal"
    assert pragma(sqlite_engine, "busy_timeout") == 1234
    assert pragma(sqlite_engine, "synchronous") == 1  # NORMAL


def test_sqlite_pragmas_hold_on_every_new_connection(sqlite_engine):
    pragma(sqlite_engine, "foreign_keys")
    sqlite_engine.dispose()
    assert pragma(sqlite_engine, "foreign_keys") == 1
    assert pragma(sqlite_engine, "busy_timeout") == 1234


def test_sqlite_parent_folder_is_created(sqlite_engine, tmp_path):
    pragma(sqlite_engine, "foreign_keys")
    assert (tmp_path / "nested" / "folder" / "lms.db").is_file()


def test_sqlite_foreign_keys_are_enforced(sqlite_engine):
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))"
        )
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), sqlite_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO child (parent_id) VALUES (42)")


def test_sqlite_in_memory_needs_no_folder(settings):
    engine = make_engine(settings, url="sqlite:///:memory:")
    try:
        assert pragma(engine, "foreign_keys") == 1
    finally:
        engine.dispose()


def test_the_url_defaults_to_the_settings(settings, tmp_path):
    engine = make_engine(
        settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'd.db'}"})
    )
    try:
        assert engine.url.database == str(tmp_path / "d.db")
    finally:
        engine.dispose()


# --- PostgreSQL -------------------------------------------------------------------------------


def test_postgresql_gets_the_pool_size_from_settings_and_an_idle_ping(settings):
    custom = settings.model_copy(update={"db_pool_size": 3, "db_max_overflow": 7})
    engine = make_engine(custom, url="postgresql+psycopg2://lms@127.0.0.1:1/lms")  # never connects
    try:
        assert engine.pool.size() == 3
        assert engine.pool._max_overflow == 7
        assert engine.pool._pre_ping is False  # pinged only after idling (test_db_pool.py)
    finally:
        engine.dispose()


# --- unit of work -----------------------------------------------------------------------------


def count_users(engine, email):
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(User).where(User.email == email))


@pytest.mark.scratch
def test_unit_of_work_commits_when_the_block_ends(scratch_engine, operator):
    factory = make_session_factory(scratch_engine)
    with unit_of_work(factory) as session:
        user, _ = users.create_user(
            session, actor=operator, data=UserCreate(email="kept@x.org", full_name="Kept")
        )
    assert count_users(scratch_engine, "kept@x.org") == 1
    assert user.email == "kept@x.org"  # expire_on_commit=False: still readable after commit


@pytest.mark.scratch
def test_unit_of_work_rolls_back_on_an_exception(scratch_engine, operator):
    factory = make_session_factory(scratch_engine)
    with pytest.raises(RuntimeError), unit_of_work(factory) as session:
        users.create_user(
            session, actor=operator, data=UserCreate(email="lost@x.org", full_name="Lost")
        )
        assert count_users(scratch_engine, "lost@x.org") == 0  # not visible before commit
        raise RuntimeError("boom")
    assert count_users(scratch_engine, "lost@x.org") == 0


@pytest.mark.scratch
def test_unit_of_work_rolls_back_every_change_when_a_later_service_refuses(
    scratch_engine, operator
):
    factory = make_session_factory(scratch_engine)
    with pytest.raises(Conflict), unit_of_work(factory) as session:
        users.create_user(
            session, actor=operator, data=UserCreate(email="first@x.org", full_name="First")
        )
        users.create_user(
            session, actor=operator, data=UserCreate(email="FIRST@x.org", full_name="Again")
        )
    assert count_users(scratch_engine, "first@x.org") == 0
    with scratch_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_log")) == 0


@pytest.mark.scratch
def test_unit_of_work_closes_the_session(scratch_engine, operator):
    factory = make_session_factory(scratch_engine)
    with unit_of_work(factory) as session:
        user, _ = users.create_user(
            session, actor=operator, data=UserCreate(email="closed@x.org", full_name="C")
        )
        assert user in session
    assert user not in session
    assert len(session.identity_map) == 0


@pytest.mark.scratch
def test_unit_of_work_rolls_back_on_keyboard_interrupt(scratch_engine, operator):
    factory = make_session_factory(scratch_engine)
    with pytest.raises(KeyboardInterrupt), unit_of_work(factory) as session:
        users.create_user(
            session, actor=operator, data=UserCreate(email="ctrl-c@x.org", full_name="Interrupted")
        )
        session.flush()
        raise KeyboardInterrupt
    assert count_users(scratch_engine, "ctrl-c@x.org") == 0


# --- insert_or_winner: losing a race on a unique key -------------------------------------------


def by_email(session, email):
    return lambda: session.scalars(select(User).where(User.email == email)).first()


@pytest.mark.scratch
def test_insert_or_winner_returns_the_row_another_transaction_committed(scratch_engine):
    """Two units of work insert the same key; the second gets the first's row, and the rest
    of its own work (before and after the lost race) commits with it."""
    factory = make_session_factory(scratch_engine)
    with unit_of_work(factory) as first:
        assert (
            insert_or_winner(first, User(email="race@x.org", full_name="First"), lambda: None)
            is None
        )
    with unit_of_work(factory) as second:
        second.add(User(email="before@x.org", full_name="Before"))
        second.flush()
        loser = User(email="race@x.org", full_name="Second")
        winner = insert_or_winner(second, loser, by_email(second, "race@x.org"))
        assert winner is not None and winner.full_name == "First"
        assert loser not in second  # the failed insert is gone with its savepoint
        second.add(User(email="after@x.org", full_name="After"))
    with scratch_engine.connect() as conn:
        rows = conn.execute(select(User.email, User.full_name).order_by(User.email)).all()
    assert [tuple(r) for r in rows] == [
        ("after@x.org", "After"),
        ("before@x.org", "Before"),
        ("race@x.org", "First"),
    ]


def test_insert_or_winner_finds_a_winner_inserted_earlier_in_the_same_transaction(session):
    first = User(email="twice@x.org", full_name="First")
    assert insert_or_winner(session, first, by_email(session, "twice@x.org")) is None
    again = User(email="twice@x.org", full_name="Again")
    assert insert_or_winner(session, again, by_email(session, "twice@x.org")) is first
    assert session.scalar(select(func.count()).select_from(User)) == 1


def test_insert_or_winner_reraises_when_there_is_no_winner_and_the_session_goes_on(session):
    """A unique violation that no row explains (here: the other unique key) is re-raised; the
    savepoint keeps the caller's transaction usable, on PostgreSQL too."""
    session.add(User(email="kept@x.org", full_name="Kept", external_id="SIS-1"))
    session.flush()
    clash = User(email="other@x.org", full_name="Clash", external_id="SIS-1")
    with pytest.raises(IntegrityError):
        insert_or_winner(session, clash, by_email(session, "other@x.org"))
    session.add(User(email="next@x.org", full_name="Next"))
    session.flush()
    emails = session.scalars(select(User.email).order_by(User.email)).all()
    assert emails == ["kept@x.org", "next@x.org"]


# --- UTC timestamps ---------------------------------------------------------------------------


def test_timestamps_come_back_timezone_aware_in_utc(session, learner):
    paris = timezone(timedelta(hours=2))
    learner.locked_until = datetime(2026, 6, 1, 14, 30, tzinfo=paris)
    session.flush()
    session.expire_all()
    user = session.get(User, learner.id)
    assert user.locked_until == datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
    assert user.locked_until.utcoffset() == timedelta(0)
    assert user.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(session, learner):
    learner.locked_until = datetime(2026, 6, 1, 12, 30)  # naive on purpose
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
    session.rollback()
