"""Kept report statements (lms_core/reports/prepared.py): built once per shape, they must
answer for each request's own subject and period, run raw or through Core alike, and fail
as SQLAlchemy errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lms_core import kept
from lms_core.actor import Actor
from lms_core.models.base import UtcDateTime
from lms_core.reports import course, instructor, prepared, student, system
from lms_core.reports.base import Period, Report, Section, fetch_all
from tests.reports.world import NOW, World, at, build
from tests.web.views_support import statements

ADMIN = Actor.operator("pytest")


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def _forget() -> None:
    """Every kept statement and compiled form gone: the next report builds its own."""
    for module in (course, student, system):
        module._statements.cache_clear()
    instructor._statement.cache_clear()
    kept._compiled.clear()


def _requests(world: World) -> list[tuple[str, Callable[[Session], Report]]]:
    """Reports of every kind, for different subjects, actors and period shapes."""
    t1 = Actor.for_user(world.t1)
    learner = Actor.for_user(world.s[0])
    whole, until, since = Period.of(None, None), Period.of(None, NOW), Period.of(at(1, 10), None)
    # An end still to come: the same ends as ``until``, another shape (not past).
    later = Period.of(None, datetime.now(UTC) + timedelta(days=1))
    out: list[tuple[str, Callable[[Session], Report]]] = []
    for slug in ("rep-course", "rep-noquiz", "rep-empty"):
        for period in (whole, until, since, later):
            for days in (3, 30):
                out.append(
                    (
                        f"course {slug} {period.as_dict()} {days} days",
                        lambda s, slug=slug, period=period, days=days: course.course_report(
                            s, actor=ADMIN, slug=slug, period=period, inactive_days=days
                        ),
                    )
                )
    for who, actor in (
        (world.s[0], ADMIN),
        (world.s[1], ADMIN),
        (world.s[0], t1),
        (world.s[0], learner),
    ):
        for period in (whole, until):
            out.append(
                (
                    f"student {who.email} as {actor.label} {period.as_dict()}",
                    lambda s, who=who, actor=actor, period=period: student.student_report(
                        s, actor=actor, email=who.email, period=period
                    ),
                )
            )
    for teacher in (world.t1, world.t2):
        out.append(
            (
                f"instructor {teacher.email}",
                lambda s, teacher=teacher: instructor.instructor_report(
                    s, actor=ADMIN, email=teacher.email, period=until
                ),
            )
        )
    for period in (whole, until, later, Period.of(at(1, 1), at(1, 20))):
        out.append(
            (
                f"system {period.as_dict()}",
                lambda s, period=period: system.system_report(s, actor=ADMIN, period=period),
            )
        )
    return out


def test_a_kept_statement_answers_for_each_request_not_the_first(
    session: Session, world: World
) -> None:
    """Each report, read after every other request has been served from the same kept
    statements, gives what it gives when it is the first report of the process: no value of
    one request is frozen into the statement another one reuses."""
    requests = _requests(world)
    alone = {}
    for name, make in requests:
        _forget()
        alone[name] = fetch_all(session, make(session))
    _forget()
    for name, make in requests:
        assert repr(fetch_all(session, make(session))) == repr(alone[name]), name
    for name, make in reversed(requests):
        assert repr(fetch_all(session, make(session))) == repr(alone[name]), name
    # The subjects differ, so the answers do: the test compares something.
    assert alone["instructor t1@rep.example.org"] != alone["instructor t2@rep.example.org"]
    assert len({repr(alone[n]) for n, _ in requests if n.startswith("course")}) >= 5
    short, long = (f"course rep-course {Period.of(None, NOW).as_dict()} {d} days" for d in (3, 30))
    assert alone[short]["at_risk"] != alone[long]["at_risk"]


def test_raw_and_core_execution_give_the_same_rows(session: Session, world: World) -> None:
    """With a cursor listener the sections run through Core, visible to it, with the same
    values as on the DBAPI cursor."""
    for name, make in _requests(world):
        raw = fetch_all(session, make(session))
        report = make(session)
        with statements(session.connection()) as seen:
            core = fetch_all(session, report)
        assert repr(core) == repr(raw), name  # True is not 1, 2.0 is not 2
        assert len(seen) == len(report.sections), name


def test_timestamps_come_back_aware_utc_as_the_type_gives_them(
    session: Session, world: World
) -> None:
    """SQLite's timestamps are parsed by a faster path than the type's processor: the same
    values, aware UTC, microseconds kept; anything else still goes through the type."""
    report = student.student_report(
        session, actor=ADMIN, email=world.s[0].email, period=Period.of(None, None)
    )
    rows = fetch_all(session, report)["courses"]
    assert rows and all(r["enrolled_at"].tzinfo is UTC for r in rows)
    with statements(session.connection()):
        assert fetch_all(session, report)["courses"] == rows

    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    process = UtcDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert process is not None
    fast = kept._sqlite_utc(process)
    for text in (
        "2026-01-31 08:00:00.000123",
        "2026-01-31 08:00:00",
        "2026-01-31T08:00:00",
        "2026-01-31T08:00:00Z",
        "2026-01-31 08:00:00-05:00",
        "2026-01-31",
    ):
        assert fast(text) == process(text)
        assert fast(text).tzinfo is UTC
    assert fast(None) is None
    assert fast("2026-01-31 08:00:00+00:00") == datetime(2026, 1, 31, 8, tzinfo=UTC)


def test_a_failing_statement_raises_sqlalchemys_error_with_its_sql(
    session: Session, world: World
) -> None:
    """The raw path wraps the driver's error as Core does (callers catch ``DBAPIError``)."""
    broken = Section("broken", ("x",), select(func.lms_no_such_function(1)))
    with pytest.raises(DBAPIError) as caught:
        list(broken.rows(session))
    assert "lms_no_such_function" in str(caught.value)


def test_a_streamed_section_reads_every_row_a_chunk_at_a_time(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamed sections are read ``CHUNK`` rows at a time: every row, in order, whatever
    the chunk (on PostgreSQL from a server-side cursor, through Core)."""
    from lms_core.models import User

    people = Section(
        "people",
        ("email", "created_at"),
        select(User.email, User.created_at).order_by(User.id),
        stream=True,
    )
    whole = list(people.rows(session))
    assert [r[0] for r in whole] == [u.email for u in (world.t1, world.t2, *world.s)]
    assert all(r[1].tzinfo is UTC for r in whole)
    monkeypatch.setattr(prepared, "CHUNK", 4)
    assert list(people.rows(session)) == whole
    report = course.course_report(
        session, actor=ADMIN, slug="rep-course", period=Period.of(None, NOW), inactive_days=1
    )
    assert report.section("at_risk").stream


def test_a_kept_statement_must_not_expand_at_execution(session: Session) -> None:
    """An expanding IN renders per value list: it cannot be compiled once; refused loudly."""
    from lms_core.models import User

    stmt = select(User.id).where(User.role.in_(["student", "admin"]))
    with pytest.raises(TypeError, match="expand"):
        list(Section("s", ("id",), stmt).rows(session))


def test_period_values_follow_the_period() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    period = Period(None, now, now)
    values = period.values()
    assert values["week_ago"] == now - timedelta(days=7)
    assert values["month_ago"] == now - timedelta(days=30)
    assert period.shape == prepared.Shape(since=False, until=True, past=True)


def test_statements_of_a_callers_own_do_not_pile_up(session: Session, world: World) -> None:
    """Sections built around new statements (an export, a test) compile each once; the
    compiled forms stay bounded however many there are."""
    from lms_core.models import User

    _forget()
    for n in range(kept.MAX_COMPILED + 10):
        section = Section("n", ("id",), select(User.id).where(User.id > n).limit(1))
        list(section.rows(session))
    assert 0 < len(kept._compiled) <= kept.MAX_COMPILED


def test_period_ends_are_bound_as_the_columns_store_them(session: Session, world: World) -> None:
    """A period starting at the very microsecond of an enrollment keeps it; one ending there
    leaves it out: the placeholders' values go through the column type's bind processing
    (SQLite compares the text it stores, ``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    from lms_core.models import Enrollment

    learner = world.s[0]
    enrollment = session.scalars(
        select(Enrollment).where(Enrollment.student_id == learner.id)
    ).first()
    assert enrollment is not None
    moment = enrollment.enrolled_at.replace(microsecond=500000)
    enrollment.enrolled_at = moment
    session.flush()

    def courses(period: Period) -> list[str]:
        report = student.student_report(session, actor=ADMIN, email=learner.email, period=period)
        return [row["course"] for row in fetch_all(session, report)["courses"]]

    slug = enrollment.course.slug
    assert slug in courses(Period.of(moment, None))
    assert slug not in courses(Period.of(None, moment))
    assert slug not in courses(Period.of(moment + timedelta(microseconds=1), None))
    assert slug in courses(Period.of(None, moment + timedelta(microseconds=1)))
