"""The toolkit's cron dialect: fields parsed and checked by name, and the previous matching
minute found by walking fields, the same minute a minute-by-minute search finds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from lms_core.jobs import cron


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("61 * * * *", "field 1 (minute) '61' is not valid: must be within 0-59"),
        ("0 24 * * *", "field 2 (hour) '24'"),
        ("0 2 0 * *", "field 3 (day) '0'"),
        ("0 2 * 13 *", "field 4 (month) '13'"),
        ("0 2 * * 8", "field 5 (day-of-week) '8'"),
        ("*/0 * * * *", "field 1 (minute) '*/0'"),
        ("5-1 * * * *", "range '5-1' runs backwards"),
        ("x * * * *", "'x' is not a number"),
        ("1,,2 * * * *", "is empty"),
        ("0 2 * *", "needs 5 fields"),
    ],
)
def test_a_bad_field_is_named(text: str, says: str) -> None:
    with pytest.raises(cron.CronError) as caught:
        cron.parse(text)
    assert says in str(caught.value)


def test_lists_ranges_steps_and_names() -> None:
    parsed = cron.parse("0,30 9-17/4 */10 jan,jul mon-fri")
    assert parsed.minutes == (0, 30)
    assert parsed.hours == (9, 13, 17)
    assert parsed.days == frozenset({1, 11, 21, 31})
    assert parsed.months == frozenset({1, 7})
    assert parsed.weekdays == frozenset({1, 2, 3, 4, 5})
    assert cron.parse("0 0 * * 7").weekdays == frozenset({0})  # 7 is Sunday too
    assert cron.parse("5/20 * * * *").minutes == (5, 25, 45)
    assert cron.parse(" 0  2 * * 1-5 ").text == "0 2 * * 1-5"


def test_matches_reads_naive_times_as_utc() -> None:
    sunday_2am = cron.parse("0 2 * * sun")
    assert sunday_2am.matches(datetime(2026, 12, 6, 2, 0))  # a Sunday
    assert sunday_2am.matches(datetime(2026, 12, 6, 2, 0, 59, tzinfo=UTC))
    assert not sunday_2am.matches(datetime(2026, 12, 7, 2, 0))


def _brute(parsed: cron.Cron, now: datetime, earliest: datetime) -> datetime | None:
    moment = now.replace(second=0, microsecond=0)
    while moment >= earliest:
        if parsed.matches(moment):
            return moment
        moment -= timedelta(minutes=1)
    return None


def test_previous_agrees_with_a_minute_by_minute_search() -> None:
    rng = random.Random(12)  # noqa: S311 - seeded, for a repeatable test
    pieces = {
        0: ["*", "0", "17", "*/5", "10-20", "0,30", "59"],
        1: ["*", "0", "3", "*/6", "9-17", "23"],
        2: ["*", "1", "15", "31", "*/10", "28-31"],
        3: ["*", "12", "1-6", "dec", "feb"],
        4: ["*", "0", "1-5", "sat", "3"],
    }
    for _ in range(150):
        text = " ".join(rng.choice(pieces[i]) for i in range(5))
        parsed = cron.parse(text)
        now = datetime(2026, 12, 6, tzinfo=UTC) + timedelta(minutes=rng.randrange(60 * 24 * 60))
        now += timedelta(seconds=rng.randrange(60))
        earliest = now.replace(second=0) - timedelta(days=8)
        assert parsed.previous(now, earliest) == _brute(parsed, now, earliest), (text, now)


def test_previous_stops_at_the_earliest_minute() -> None:
    weekly = cron.parse("0 2 * * mon")
    monday = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assert weekly.previous(monday + timedelta(days=3)) == monday
    assert weekly.previous(monday + timedelta(days=3), monday + timedelta(minutes=1)) is None
    assert cron.latest_slot("0 0 1 1 *", datetime(2026, 12, 6, tzinfo=UTC)) is None
