"""Five-field cron expressions (UTC), parsed and matched in plain Python.

Periodic jobs (``jobs/schedule.py``) and export schedules (``lms_core.exports.schedules``)
share this one dialect, so they never disagree on what ``*/15`` or a weekday means, and
``lms_core`` needs no queue library to read a schedule (the rule: ``lms_core`` never imports
Huey). Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or ``jan``..),
day of week (0-7, 0 and 7 = Sunday, or ``sun``..). Each field is ``*``, a value, a range
``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n``, or a comma list of those. As in Huey's
``crontab`` (which the worker used before), a time matches when *every* field does (the
day of month and the day of week together, not either).

:meth:`Cron.previous` finds the last matching minute by walking days, then hours, then
minutes (at most a few hundred steps), not by testing every minute of the catch-up window:
the scheduler asks it for every entry every minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

#: (name as messages say it, lowest, highest) of each field, in order.
FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
NAMES: dict[int, dict[str, int]] = {
    3: {name: number for number, name in enumerate(MONTHS, start=1)},
    4: {name: number for number, name in enumerate(DAYS)},
}


class CronError(ValueError):
    """A cron expression that cannot be used; the message names the field and why."""

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        #: 1-based field number, None when the number of fields is wrong.
        self.position = position


def _number(text: str, position: int) -> int:
    lowered = text.lower()
    if lowered in NAMES.get(position, {}):
        return NAMES[position][lowered]
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a number")
    return int(text)


def _field(text: str, position: int) -> frozenset[int]:
    """The values of one field; ValueError saying why not."""
    _name, low, high = FIELDS[position]
    values: set[int] = set()
    for piece in text.split(","):
        base, slash, step_text = piece.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"step {step_text!r} must be a whole number of at least 1")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _dash, last = base.partition("-")
            start, end = _number(first, position), _number(last, position)
            if start > end:
                raise ValueError(f"range {base!r} runs backwards")
        elif base:
            start = _number(base, position)
            end = high if slash else start
        else:
            raise ValueError("is empty")
        if start < low or end > high:
            raise ValueError(f"must be within {low}-{high}")
        values.update(range(start, end + 1, step))
    if position == 4:  # 7 is Sunday too
        values = {v % 7 for v in values}
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A parsed expression: the values each field allows."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    def day_matches(self, day: date) -> bool:
        return (
            day.month in self.months
            and day.day in self.days
            and day.isoweekday() % 7 in self.weekdays
        )

    def matches(self, moment: datetime) -> bool:
        """True when ``moment``'s minute matches (naive = UTC; seconds ignored)."""
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and self.day_matches(moment.date())
        )

    def previous(self, moment: datetime, earliest: datetime | None = None) -> datetime | None:
        """The last matching minute at or before ``moment`` (aware, UTC), not before
        ``earliest`` (default: 8 days back); None when there is none in between."""
        moment = _minute(moment)
        earliest = _minute(earliest) if earliest is not None else moment - timedelta(days=8)
        day = moment.date()
        while day >= earliest.date():
            if self.day_matches(day):
                last_hour = moment.hour if day == moment.date() else 23
                for hour in reversed(self.hours):
                    if hour > last_hour:
                        continue
                    today_now = day == moment.date() and hour == moment.hour
                    last_minute = moment.minute if today_now else 59
                    for minute in reversed(self.minutes):
                        if minute <= last_minute:
                            found = datetime.combine(day, time(hour, minute), tzinfo=UTC)
                            return found if found >= earliest else None
            day -= timedelta(days=1)
        return None


def _minute(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def parse(text: str) -> Cron:
    """Parse five fields; :class:`CronError` naming the field (``field 2 (hour) '25' is not
    valid: must be within 0-23``) or the count of fields."""
    fields = (text or "").split()
    if len(fields) != len(FIELDS):
        raise CronError(
            f"needs 5 fields (minute hour day-of-month month day-of-week, UTC), "
            f"got {len(fields)}: {text!r}"
        )
    parsed: list[frozenset[int]] = []
    for position, value in enumerate(fields):
        try:
            parsed.append(_field(value, position))
        except ValueError as exc:
            raise CronError(
                f"field {position + 1} ({FIELDS[position][0]}) {value!r} is not valid: {exc}",
                position=position + 1,
            ) from None
    minutes, hours, days, months, weekdays = parsed
    return Cron(" ".join(fields), tuple(sorted(minutes)), tuple(sorted(hours)), days, months,
                weekdays)  # fmt: skip


def latest_slot(
    cron: str | Cron, now: datetime, *, since: datetime | None = None
) -> datetime | None:
    """The last minute at or before ``now`` that ``cron`` matches, not before ``since``
    (default 8 days back); None if there is none."""
    parsed = parse(cron) if isinstance(cron, str) else cron
    return parsed.previous(now, since)
