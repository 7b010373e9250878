"""Server-side prepared statements (``LMS_DB_PREPARE``, lms_core/kept.py) on PostgreSQL: the
hot statements are prepared once per connection and answer as they did unprepared; a
connection the pool replaced prepares again; the setting turns it off. On SQLite nothing
is prepared and the same statements answer the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import (
    Engine,
    bindparam,
    create_engine,
    event,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lms_core import kept
from lms_core.accounts.token_lookup import find_identity
from lms_core.db import make_engine
from lms_core.models import AuditEntry, User, utcnow
from lms_core.settings import Settings

#: Prepared on the server for the statements that ask: its text names ours.
PREPARED = "SELECT name, statement FROM pg_prepared_statements WHERE starts_with(name, 'lms_k')"


def _same(value: Any) -> Any:
    return value


def _users_by_domain() -> Any:
    # A literal percent sign (doubled in psycopg2's SQL) and a placeholder used twice.
    return (
        select(User.email, literal_column("'100%'").label("sure"))
        .where(User.email.like(bindparam("pattern", required=False)))
        .where(User.id >= bindparam("lowest", required=False))
        .where(User.id >= bindparam("lowest", required=False))
        .order_by(User.email)
    )


def _engine(settings: Settings, url: str, **update: Any) -> Engine:
    return make_engine(settings.model_copy(update={"database_url": url, **update}))


@pytest.fixture
def filled(settings: Settings, scratch_url: str) -> Iterator[str]:
    from lms_core.ops import schema

    engine = _engine(settings, scratch_url)
    schema.upgrade(engine)
    with engine.begin() as conn:
        for n, domain in enumerate(("a.example", "b.example", "a.example")):
            conn.execute(
                User.__table__.insert().values(
                    email=f"user{n}@{domain}", role="student", is_active=True, full_name=f"U {n}"
                )
            )
    engine.dispose()
    yield scratch_url


def _run(session: Session, *, prepare: bool) -> list[tuple[Any, ...]]:
    found = kept.rows(
        session.connection(),
        _users_by_domain(),
        {"pattern": "%@a.example", "lowest": 1},
        stream=False,
        finish=_same,
        prepare=prepare,
    )
    return list(found)


def test_a_kept_statement_is_prepared_once_and_answers_as_before(
    settings: Settings, filled: str, is_postgres: bool
) -> None:
    engine = _engine(settings, filled)
    try:
        with Session(engine) as session:
            plain = _run(session, prepare=False)
            first = _run(session, prepare=True)
            again = _run(session, prepare=True)
            assert (
                plain
                == first
                == again
                == [("user0@a.example", "100%"), ("user2@a.example", "100%")]
            )
            if not is_postgres:
                return  # SQLite: nothing to prepare, the same rows
            prepared = session.connection().exec_driver_sql(PREPARED).all()
            assert len(prepared) == 1, prepared  # once, not at every run
            name, text = prepared[0]
            assert text.startswith(f"PREPARE {name} AS SELECT users.email, '100%'")
            assert "$1" in text and "$2" in text and "$3" not in text  # "lowest" twice, one slot
    finally:
        engine.dispose()


def _rename() -> Any:
    """An UPDATE as a kept statement (a placeholder in its WHERE and one in its SET)."""
    return (
        update(User)
        .where(User.email.like(bindparam("pattern", required=False)))
        .values(
            full_name=bindparam("new_name", required=False),
            updated_at=bindparam("new_updated_at", required=False),
        )
    )


def _note() -> Any:
    """An INSERT as a kept statement, every column bound: a JSON one (a bind processor)."""
    table = AuditEntry.__table__
    return insert(AuditEntry).values(
        {
            name: bindparam(f"new_{name}", type_=table.c[name].type, required=False)
            for name in ("created_at", "actor_label", "action", "entity_type", "after")
        }
    )


@pytest.mark.parametrize("watch", [False, True])
def test_a_kept_write_changes_what_core_would(
    settings: Settings, filled: str, is_postgres: bool, watch: bool
) -> None:
    """``kept.write``: the rows it changed, values through their types (JSON serialised),
    prepared on PostgreSQL; with a statement listener attached it runs through Core, seen."""
    engine = _engine(settings, filled)
    seen: list[str] = []
    if watch:
        event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    try:
        with Session(engine) as session:
            connection = session.connection()
            renamed = {"pattern": "%@a.example", "new_name": "A", "new_updated_at": utcnow()}
            assert kept.write(connection, _rename(), renamed, prepare=True) == 2
            note = {
                "new_created_at": datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
                "new_actor_label": "cli:test",
                "new_action": "test.note",
                "new_entity_type": "users",
                "new_after": {"why": ["a", 1]},
            }
            assert kept.write(connection, _note(), note, prepare=True) == 1
            names = session.scalars(select(User.full_name).order_by(User.id)).all()
            assert names == ["A", "U 1", "A"]
            entry = session.scalars(select(AuditEntry)).one()
            assert (entry.after, entry.created_at) == ({"why": ["a", 1]}, note["new_created_at"])
            assert bool(seen) == watch
            if is_postgres and not watch:
                rows = [r[1] for r in connection.exec_driver_sql(PREPARED).all()]
                assert any("UPDATE users" in r for r in rows), rows
                assert any("INSERT INTO audit_log" in r for r in rows), rows
    finally:
        engine.dispose()


@pytest.mark.parametrize("watch", [False, True])
def test_a_kept_write_that_leaves_a_computed_column_unbound_is_refused(
    settings: Settings, watch: bool
) -> None:
    """Compiled once, a kept write cannot run a column's ``onupdate`` (``users.updated_at``)
    at each execution as Core does: it must bind it, or it is refused before it runs --
    with a statement listener attached too (it would run through Core, which computes it)."""
    engine = _engine(settings, settings.database_url)
    if watch:
        event.listen(engine, "before_cursor_execute", lambda *a: None)
    try:
        unbound = update(User).values(full_name=bindparam("new_name", required=False))
        with Session(engine) as session, pytest.raises(TypeError, match="unbound: updated_at"):
            kept.write(session.connection(), unbound, {"new_name": "A"})
    finally:
        engine.dispose()


def test_orm_statements_that_ask_are_prepared(
    settings: Settings, filled: str, is_postgres: bool
) -> None:
    """An ORM statement with the execution option goes through the engine's ``do_execute``
    listener: the same objects, and the statement prepared on the connection."""
    statement = (
        select(User)
        .where(User.email == bindparam("email"))
        .execution_options(**{kept.PREPARE: True})
    )
    engine = _engine(settings, filled)
    try:
        with Session(engine) as session:
            for _ in range(7):  # past the five custom plans PostgreSQL makes first
                user = session.scalars(statement, {"email": "user1@b.example"}).one()
                assert user.full_name == "U 1"
                session.expunge_all()
            assert session.scalars(statement, {"email": "nobody@b.example"}).first() is None
            if is_postgres:
                rows = session.connection().exec_driver_sql(PREPARED).all()
                assert [r[1] for r in rows if "FROM users" in r[1]], rows
    finally:
        engine.dispose()


def test_the_setting_turns_it_off(settings: Settings, filled: str, is_postgres: bool) -> None:
    """``LMS_DB_PREPARE=0`` (behind PgBouncer's transaction mode): nothing is prepared and
    the statements still answer. SQLite never prepares."""
    on = _engine(settings, filled)
    off = _engine(settings, filled, db_prepare=False)
    try:
        assert bool(on.get_execution_options().get(kept.PREPARING)) is is_postgres
        assert not off.get_execution_options().get(kept.PREPARING)
        with Session(off) as session:
            assert len(_run(session, prepare=True)) == 2
            session.scalars(
                select(User).where(User.id == 1).execution_options(**{kept.PREPARE: True})
            ).all()
            if is_postgres:
                assert session.connection().exec_driver_sql(PREPARED).all() == []
    finally:
        on.dispose()
        off.dispose()


def test_a_replaced_connection_prepares_again(
    settings: Settings, filled: str, is_postgres: bool
) -> None:
    """The pool forgets what a dead connection had prepared: the next one prepares anew
    (no "prepared statement does not exist"). A rollback keeps what was prepared."""
    engine = _engine(settings, filled)
    try:
        with Session(engine) as session:
            assert len(_run(session, prepare=True)) == 2
            session.rollback()  # prepared statements outlive a rollback
            assert len(_run(session, prepare=True)) == 2
            session.connection().invalidate()
            session.rollback()
            assert len(_run(session, prepare=True)) == 2
            if is_postgres:
                assert len(session.connection().exec_driver_sql(PREPARED).all()) == 1
    finally:
        engine.dispose()


def test_past_the_cap_statements_run_unprepared(
    settings: Settings, filled: str, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kept, "MAX_PREPARED", 1)
    engine = _engine(settings, filled)
    try:
        with Session(engine) as session:
            assert len(_run(session, prepare=True)) == 2
            other = select(User.id).where(User.id == 1).execution_options(**{kept.PREPARE: True})
            assert session.execute(other).scalar_one() == 1  # answered, not prepared
            if is_postgres:
                assert len(session.connection().exec_driver_sql(PREPARED).all()) == 1
    finally:
        engine.dispose()


def test_the_token_check_reads_plain_columns(session: Session, make: Any) -> None:
    """The API's token check (a kept, prepared statement) finds the token's user."""
    from lms_core.accounts.api_tokens import create_personal_token, token_identity
    from lms_core.actor import Actor

    user = make.user("instructor", email="tok@example.org")
    _, raw = create_personal_token(
        session, actor=Actor.for_user(user), name="t", scopes=["courses:read"]
    )
    row = find_identity(session, raw)
    assert row is not None and row.email == "tok@example.org" and row.is_active is True
    identity = token_identity(session, raw)
    assert identity is not None
    assert identity.actor == Actor.for_user(user)
    assert identity.scopes == frozenset({"courses:read"})
    assert find_identity(session, raw + "x") is None
    assert find_identity(session, "") is None


def test_escaped_percent_signs_are_text_not_slots(settings: Settings, is_postgres: bool) -> None:
    """psycopg2's SQL doubles a literal percent sign: ``'%%(a)s'`` is the text ``%(a)s``, not
    the parameter ``a`` (on SQLite nothing is prepared: the text is never rewritten)."""
    sql = "SELECT '%%(a)s' AS text, %(a)s::int + 1 AS n, '50%%' AS pct"
    engine = make_engine(settings)  # connections of its own: nothing prepared on them yet
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            cursor = raw.cursor()
            if not is_postgres:
                cursor.execute("SELECT '%(a)s', ? + 1, '50%'", (1,))
                assert cursor.fetchall() == [("%(a)s", 2, "50%")]
                return
            info: dict[Any, Any] = {}
            run = kept.prepared_sql(info, cursor, sql)
            assert run.startswith("EXECUTE lms_k") and run.endswith(" (%(a)s)"), run
            cursor.execute(run, {"a": 1})
            assert cursor.fetchall() == [("%(a)s", 2, "50%")]
            assert kept.prepared_sql(info, cursor, sql) == run  # prepared once
    finally:
        engine.dispose()


def _retype_email(url: str, length: int) -> None:
    """A migration run while the app serves: a column the statements return changes type."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"ALTER TABLE users ALTER COLUMN email TYPE varchar({length})")
    finally:
        admin.dispose()


@pytest.mark.parametrize("kind", ["kept", "orm"])
def test_a_statement_made_stale_by_a_migration_costs_one_failure(
    settings: Settings, filled: str, is_postgres: bool, kind: str
) -> None:
    """PostgreSQL refuses a prepared statement whose result changed type ("cached plan must
    not change result type"): the connection is replaced, so the next unit of work prepares
    afresh instead of failing on that connection for ever (kept and ORM statements)."""
    orm = select(User).where(User.id >= 1).execution_options(**{kept.PREPARE: True})

    def read(session: Session) -> list[Any]:
        return _run(session, prepare=True) if kind == "kept" else list(session.scalars(orm))

    engine = _engine(settings, filled)
    try:
        with Session(engine) as session:
            assert len(read(session)) in (2, 3)
        if is_postgres:
            _retype_email(filled, 400)
            with Session(engine) as session, pytest.raises(DBAPIError) as failed:
                read(session)
            assert failed.value.connection_invalidated
            assert "cached plan must not change result type" in str(failed.value)
        with Session(engine) as session:  # a new connection: prepared again, answers
            assert len(read(session)) in (2, 3)
            assert len(read(session)) in (2, 3)
    finally:
        engine.dispose()


def test_streamed_statements_are_not_prepared(settings: Settings, filled: str) -> None:
    """A server-side cursor (``yield_per``) declares its query: the statement runs as it is."""
    engine = _engine(settings, filled)
    streamed = select(User).order_by(User.id).execution_options(**{kept.PREPARE: True}, yield_per=2)
    try:
        with Session(engine) as session:
            assert [u.id for u in session.scalars(streamed)] == [1, 2, 3]
    finally:
        engine.dispose()


def test_a_statement_has_one_name_whoever_prepares_it(
    settings: Settings, filled: str, is_postgres: bool
) -> None:
    """Named after its text: two processes (engines) never give one name to two statements."""
    if not is_postgres:
        assert not _engine(settings, filled).get_execution_options().get(kept.PREPARING)
        return
    names = []
    for _ in range(2):
        engine = _engine(settings, filled)
        try:
            with Session(engine) as session:
                _run(session, prepare=True)
                names.append(session.connection().exec_driver_sql(PREPARED).all()[0][0])
        finally:
            engine.dispose()
    assert names[0] == names[1] and len(names[0]) == len("lms_k") + 24
