"""Reports at their edges: learner text in a terminal table, periods out of range, a "now"
between two events, a failure half-way through a document, SQLite without math functions."""

from __future__ import annotations

import json
import math
import random
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, Integer, cast, func, literal, select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.errors import ValidationError
from lms_core.models import Attempt
from lms_core.models.base import UtcDateTime
from lms_core.reports.base import Period, fetch_all, plain
from lms_core.reports.course import course_report
from lms_core.reports.sql import json_has, json_text, month_of, seconds_between, week_start
from lms_core.reports.student import student_report
from lmsctl import output
from lmsctl.commands import reports as reports_cli
from tests.reports.world import World, at, build

ADMIN = Actor.operator("pytest")


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def test_learner_text_is_shown_not_parsed_as_markup(
    cli: Any, world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rich reads ``[/x]`` as a closing tag (MarkupError) and ``[link=...]`` as a link."""
    world.s[2].full_name = "[/x]"
    session.flush()
    monkeypatch.setattr(output, "is_terminal", lambda: True)
    monkeypatch.setattr(reports_cli, "is_terminal", lambda: True)

    result = cli("reports", "course", "rep-course", "--until", "2026-02-01", "--section", "at_risk")

    assert result.exit_code == 0, result.output
    assert "[/x]" in result.stdout


def test_a_record_shows_learner_text_too(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr(output, "is_terminal", lambda: True)

    output.emit_record({"name": "[link=http://x.example]y[/link] [/b]"}, as_json=False)

    assert "[link=http://x.example]y[/link] [/b]" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["course", "rep-course", "--until", "0001-01-05"], "until"),
        (["system", "--until", "0001-01-20"], "until"),
        (["system", "--since", "9999-12-31T23:00-05:00"], "since"),
        (["student", "s1@rep.example.org", "--since", "0001-01-01"], "since"),
        (["chart", "scores", "rep-course", "-o", "x.png", "--until", "0001-01-03"], "until"),
    ],
)
def test_a_period_out_of_range_is_refused(
    cli: Any, world: World, args: list[str], field: str
) -> None:
    result = cli("reports", *args, "--json")

    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["errors"][0]["field"] == field


def test_inactive_days_out_of_range_is_refused(cli: Any, world: World) -> None:
    result = cli("reports", "course", "rep-course", "--inactive-days", "999999999")

    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_the_service_refuses_inactive_days_out_of_range(session: Session, world: World) -> None:
    with pytest.raises(ValidationError) as caught:
        course_report(
            session,
            actor=ADMIN,
            slug="rep-course",
            period=Period.of(None, at(2, 1)),
            inactive_days=999_999_999,
        )
    assert caught.value.field == "inactive_days"


def test_a_period_built_in_code_out_of_range_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        Period.of(datetime(1, 1, 2), None)
    assert caught.value.field == "since"


def test_at_risk_sees_nothing_after_now(session: Session, world: World) -> None:
    """s3 submitted the quiz (25 %) at 11:30 and the homework at noon on 01-12: with the
    report's "now" at 11:45, the last activity is the quiz, 15 minutes before."""
    got = fetch_all(
        session,
        course_report(
            session, actor=ADMIN, slug="rep-course", period=Period.of(None, at(1, 12, 11, 45))
        ),
    )["at_risk"]

    assert [(r["email"], r["last_activity"], r["days_inactive"], r["reason"]) for r in got] == [
        ("s3@rep.example.org", at(1, 12, 11, 30), 0.01, "failing")
    ]


def test_at_risk_counts_no_attempt_submitted_after_now(session: Session, world: World) -> None:
    """At 11:15 s3 has started the quiz, not submitted it: neither idle nor failing."""
    got = fetch_all(
        session,
        course_report(
            session, actor=ADMIN, slug="rep-course", period=Period.of(None, at(1, 12, 11, 15))
        ),
    )["at_risk"]

    assert got == []


def test_a_student_report_over_a_period(session: Session, world: World) -> None:
    """Until 01-12 11:15: s3's one enrollment (made at 9:00), last active at 11:00 (the quiz
    started); the enrollment of 01-20 in rep-noquiz is outside the period for s1."""
    s3 = fetch_all(
        session,
        student_report(
            session,
            actor=ADMIN,
            email="s3@rep.example.org",
            period=Period.of(None, at(1, 12, 11, 15)),
        ),
    )
    assert [(r["course"], r["last_activity"]) for r in s3["courses"]] == [
        ("rep-course", at(1, 12, 11))
    ]
    s1 = fetch_all(
        session,
        student_report(
            session,
            actor=ADMIN,
            email="s1@rep.example.org",
            period=Period.of(at(1, 1), at(1, 19)),
        ),
    )
    assert [r["course"] for r in s1["courses"]] == ["rep-course"]


def test_a_failure_half_way_leaves_the_json_document_alone(
    cli: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary is written when the next section's query fails: the error goes to stderr,
    not as a second JSON document into the first."""
    from lms_core.reports import course

    kept = course._statements
    broken = select(func.lms_no_such_function(1))
    monkeypatch.setattr(
        course, "_statements", lambda shape: {**kept(shape), "enrollments_per_week": broken}
    )

    result = cli("reports", "course", "rep-course", "--until", "2026-02-01", "--json")

    assert result.exit_code == 1
    assert result.stdout.startswith('{"report": "course"')
    assert '"errors"' not in result.stdout
    assert "error:" in result.stderr


class _NoMath(sqlite3.Connection):
    """A SQLite connection that answers as a library built without math functions."""

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if "sqrt" in sql and not getattr(self, "registered", False):
            raise sqlite3.OperationalError("no such function: sqrt")
        return super().execute(sql, *args)

    def create_function(self, name: str, narg: int, func: Any, **kw: Any) -> None:
        self.registered = name == "sqrt"
        super().create_function(name, narg, func, **kw)


def test_sqrt_is_given_to_a_sqlite_without_math_functions() -> None:
    from lms_core.db import sqlite_math

    conn = sqlite3.connect(":memory:", factory=_NoMath)
    try:
        sqlite_math(conn)
        assert getattr(conn, "registered", False)
        assert conn.execute("SELECT sqrt(9.0), sqrt(-1.0), sqrt(NULL)").fetchone() == (
            3.0,
            None,
            None,
        )
    finally:
        conn.close()


def test_fractions_of_a_second_never_move_a_timestamp_to_the_next_week(
    session: Session,
) -> None:
    """SQLite's date functions round to the millisecond; PostgreSQL truncates."""
    sunday_night = datetime(2026, 1, 11, 23, 59, 59, 999600, tzinfo=UTC)
    month_end = datetime(2026, 1, 31, 23, 59, 59, 999600, tzinfo=UTC)
    got = session.execute(
        select(
            week_start(literal(sunday_night, UtcDateTime())),
            month_of(literal(month_end, UtcDateTime())),
            seconds_between(
                literal(datetime(2026, 1, 5, 12, 0, 0, 999600, tzinfo=UTC), UtcDateTime()),
                literal(datetime(2026, 1, 5, 11, 0, 0, 400, tzinfo=UTC), UtcDateTime()),
            ),
        )
    ).one()

    assert tuple(got) == ("2026-01-05", "2026-01", 3600.0)


def test_numbers_in_answers_read_alike_on_both_databases(session: Session, world: World) -> None:
    """A response saved as a JSON number: the shortest text of the double on both."""
    attempts = session.scalars(select(Attempt).order_by(Attempt.id)).all()
    q1 = str(world.questions[0].id)
    attempts[0].answers = {**attempts[0].answers, q1: 1e20}  # s1's
    attempts[3].answers = {**attempts[3].answers, q1: 2.5}  # s3's
    attempts[2].answers = {**attempts[2].answers, q1: 100.0}  # s2's second
    session.flush()

    got = fetch_all(
        session,
        course_report(session, actor=ADMIN, slug="rep-course", period=Period.of(None, at(2, 1))),
    )["responses"]

    assert sorted(r["response"] for r in got if r["position"] == 1) == ["100", "1e+20", "2.5"]


@pytest.mark.parametrize(
    ("value", "shown"), [(2.675, 2.68), (0.125, 0.13), (Decimal("1.005"), 1.01), (-0.001, 0.0)]
)
def test_figures_round_half_up(value: Any, shown: float) -> None:
    assert plain(value) == shown


def test_plain_gives_every_float_what_decimal_rounding_gives() -> None:
    """Floats with two decimals or fewer skip the decimal rounding: the same value, never
    ``-0.0``; the others are rounded half up from the decimal they print as."""
    values = [0.0, -0.0, 1.0, -2.5, 2.675, 0.125, 1e16, 1.5e-7, 123456.78, -0.005, 99.995, 7.1]
    values += [n / 100 for n in range(-1000, 1000, 7)] + [n / 1000 for n in range(-500, 500, 3)]
    for v in values:
        expected = float(Decimal(repr(v)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) + 0.0
        assert repr(plain(v)) == repr(expected), v


def test_plain_rounds_random_floats_of_every_size_as_decimal_rounding_does() -> None:
    """Whole hundredths skip the decimal rounding: checked against it on random values from
    1e-9 to 1e15, ties (x.xx5) and their neighbours, both signs (seeded: reproducible)."""
    rng = random.Random(15)  # noqa: S311 - test values, not a secret
    values: list[float] = []
    for _ in range(25_000):
        exponent = rng.uniform(-9, 15)
        values.append(rng.choice((-1, 1)) * 10**exponent)
        whole = rng.randrange(-(10**9), 10**9)
        values += [whole / 100, whole / 1000, math.nextafter(whole / 1000, math.inf)]
        values.append(math.nextafter(whole / 100, -math.inf))
    for v in values:
        expected = float(Decimal(repr(v)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) + 0.0
        assert repr(plain(v)) == repr(expected), v


class _DriverFloat(float):
    """A driver's own float type: ``plain`` falls back on ``isinstance`` for it."""


def test_plain_normalises_subclasses_and_offsets_alike() -> None:
    east = timezone(timedelta(hours=2))
    assert plain(_DriverFloat(2.675)) == 2.68
    assert plain(datetime(2026, 1, 1, 10, tzinfo=east)) == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert plain(datetime(2026, 1, 1, 8)) == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert plain(datetime(2026, 1, 1, 8, tzinfo=UTC)).tzinfo is UTC
    assert plain(date(2026, 1, 31)) == "2026-01-31"
    assert [plain(v) for v in (3, "x", None, True)] == [3, "x", None, True]


@pytest.mark.parametrize(
    "value", ["text", "", 3, 2.5, 1e20, True, False, None, [1, 2], {"a": 1}, "missing"]
)
def test_json_has_is_json_text_not_null(session: Session, value: Any) -> None:
    """The responses filter on ``json_has``: it must keep exactly the answers ``json_text``
    gives a text for, on both databases."""
    document = {} if value == "missing" else {"7": value}
    bound = literal(document, JSON)
    # SQLite's CAST(... AS JSON) would make the text a number (0): it takes the text as is.
    doc = bound if session.get_bind().dialect.name == "sqlite" else cast(bound, JSON)
    key = literal(7, Integer)

    has, text = session.execute(select(json_has(doc, key), json_text(doc, key))).one()

    assert bool(has) is (text is not None)
    assert bool(has) is (value not in (None, "missing"))
