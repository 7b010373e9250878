"""What a report is: named sections of rows, a period, and how a value is normalised."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, true
from sqlalchemy.orm import Session

from lms_core.errors import ValidationError
from lms_core.models.base import utcnow
from lms_core.reports import prepared
from lms_core.reports.prepared import Shape, period_values

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Period:
    """``[since, until)`` in UTC; either end may be open. ``now`` is the report's "today":
    ``until`` when given, else the clock (at-risk and active-learner figures count back from it).
    """

    since: datetime | None = None
    until: datetime | None = None
    now: datetime = field(default_factory=utcnow)

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None) -> Period:
        since, until = _utc(_bounded(since, "since")), _utc(_bounded(until, "until"))
        if since is not None and until is not None and since >= until:
            raise ValidationError(
                f"the period is empty: it starts {since.isoformat()} and ends "
                f"{until.isoformat()} (the end is excluded)",
                field="until",
                value=until.isoformat(),
            )
        return cls(since, until, until or utcnow())

    @property
    def shape(self) -> Shape:
        """What the report's kept statements depend on (:mod:`lms_core.reports.prepared`)."""
        return Shape.of(self.since, self.until)

    def values(self) -> dict[str, Any]:
        """The values of a :class:`~lms_core.reports.prepared.Frame`'s placeholders."""
        return period_values(self.since, self.until, self.now)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


#: The years a period may name: the reports count back up to 10 years (at risk) and 30 days
#: (active learners) from its end, and move it to UTC, which near year 1 or 9999 overflows
#: Python's dates (an OverflowError, not a message).
FIRST_YEAR, LAST_YEAR = 1900, 9000


def _bounded(value: datetime | None, field: str) -> datetime | None:
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValidationError(
            f"must be a date between the years {FIRST_YEAR} and {LAST_YEAR}",
            field=field,
            value=value.isoformat(),
        )
    return value


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Section:
    """One table of a report. ``statement`` is run only when the rows are read."""

    name: str
    columns: Sequence[str]
    #: A kept statement (built once per shape, :mod:`lms_core.reports.prepared`) ...
    statement: Select[Any]
    #: ... and the values of its placeholders for this report.
    values: Mapping[str, Any] = field(default_factory=dict)
    #: Heavy sections (one row per learner) stream from a server-side cursor.
    stream: bool = False

    def rows(self, session: Session) -> Iterator[tuple[Any, ...]]:
        """The rows, values normalised (see :func:`plain`).

        Run as prepared SQL on the session's DBAPI cursor (:func:`prepared.rows`: through
        the ORM or Core, a figure of a few rows cost 10-50x its query); streamed sections
        are read ``prepared.CHUNK`` rows at a time."""
        return prepared.rows(
            session.connection(), self.statement, self.values, stream=self.stream, finish=plain
        )


@dataclass(frozen=True)
class Report:
    """A report: what it is about, the period, and its sections in reading order."""

    kind: str
    subject: str
    period: Period
    sections: Sequence[Section]

    def section(self, name: str) -> Section:
        for s in self.sections:
            if s.name == name:
                return s
        raise ValidationError(
            f"the {self.kind} report has no section {name!r}; it has "
            + ", ".join(s.name for s in self.sections),
            field="section",
            value=name,
        )

    def only(self, names: Iterable[str]) -> Report:
        picked = [self.section(n) for n in names]
        return Report(self.kind, self.subject, self.period, picked)


def plain(value: Any) -> Any:
    """A value as every writer shows it: numbers rounded half up to 2 decimals (floats, so that
    JSON prints numbers), timestamps as aware UTC datetimes, dates as ``YYYY-MM-DD`` text.

    Dispatched on the value's exact type, so that the values most columns hold (integers,
    text, ``None``) cost one set look-up instead of four ``isinstance`` checks: a report reads
    every value of every row through here."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    normalise = _BY_TYPE.get(kind)
    if normalise is not None:
        return normalise(value)
    return _by_isinstance(value)


#: Integers a double holds exactly (2**53): ``hundredths / 100.0`` is then correctly rounded.
_EXACT = float(2**53)
#: Below this, a double's spacing is far under 0.005: ``round()`` agrees with the decimal
#: rounding of what the double prints as, ties aside.
_ROUND_BELOW = 1e12


def _float(value: float) -> float:
    hundredths = value * 100.0
    if hundredths.is_integer() and abs(hundredths) < _EXACT and hundredths / 100.0 == value:
        # The double nearest a whole number of hundredths (most figures: shares, points):
        # it prints with two decimals or fewer, so rounding would give it back (+ 0.0:
        # never "-0.0"). Both checks are needed: 1.29 plus one ulp, times 100, rounds to
        # 129.0 too. Two float operations, where repr() cost ~0.5 us a value.
        return value + 0.0
    if not math.isfinite(value):
        return value
    text = repr(value)
    if "e" in text:
        return _decimal(Decimal(text))
    decimals = len(text) - text.index(".") - 1
    if decimals <= 2:
        # Two decimals or fewer: rounding would give it back (+ 0.0: never "-0.0").
        return value + 0.0
    if (decimals == 3 and text[-1] == "5") or abs(value) >= _ROUND_BELOW:
        # A tie as printed: half up from the decimal the double prints as (repr), so that
        # 2.675 (stored 2.67499...) and 0.125 round up as people and PostgreSQL's numeric
        # do; round() would give 2.67 and 0.12.
        return _decimal(Decimal(text))
    # No tie as printed: no x.xx5 lies between the printed decimal and the double (it would
    # print shorter, or closer), so round() on the double rounds as the decimal would; 0.6
    # us, where the decimal took ~3.
    return round(value, 2) + 0.0


def _decimal(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP)) + 0.0  # never "-0.0"


def _datetime(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _date(value: date) -> str:
    return value.isoformat()


def _by_isinstance(value: Any) -> Any:
    """Subclasses of the types :func:`plain` dispatches on (a driver's own float or datetime)."""
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, datetime):
        return _datetime(value)
    if isinstance(value, date):
        return _date(value)
    return value


#: Types :func:`plain` gives back as they are (``bool`` is not ``int`` to ``type()``).
_AS_IS: frozenset[type] = frozenset({int, str, bool, type(None), bytes})
_BY_TYPE: dict[type, Callable[[Any], Any]] = {
    float: _float,
    Decimal: _decimal,
    datetime: _datetime,
    date: _date,
}


def _or_none(normalise: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``normalise`` for a column declared of its type: the driver may still give ``None``,
    or another type (SQLite's dynamic typing), which :func:`plain` then handles."""
    kind = next(k for k, f in _BY_TYPE.items() if f is normalise)

    def finish(value: Any) -> Any:
        if value.__class__ is kind:
            return normalise(value)
        return plain(value)

    return finish


#: For :mod:`lms_core.reports.prepared`: per declared Python type of a column, what
#: :func:`plain` does to its values, without looking their type up each time.
plain.by_type = {kind: _or_none(f) for kind, f in _BY_TYPE.items()}  # type: ignore[attr-defined]


def fetch_all(session: Session, report: Report) -> dict[str, list[dict[str, Any]]]:
    """Every section as a list of dicts (tests, and the small reports the API will return)."""
    return {
        s.name: [dict(zip(s.columns, row, strict=True)) for row in s.rows(session)]
        for s in report.sections
    }


Builder = Callable[..., Report]


def parse_when(text: str | None, field: str) -> datetime | None:
    """``YYYY-MM-DD`` (midnight) or an ISO 8601 timestamp; without an offset, UTC."""
    if text is None or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            "must be a date (2026-01-31) or an ISO 8601 time (2026-01-31T08:00, UTC "
            "unless an offset is given)",
            field=field,
            value=text,
        ) from None
    return _utc(_bounded(value, field))


def among(ids: Select[Any]) -> ColumnElement[bool]:
    """The WHERE of a select of enrollment ids, to filter ``Enrollment`` rows by it directly.

    ``Enrollment.id IN (SELECT id FROM enrollments WHERE ...)`` on the same table made
    PostgreSQL scan every enrollment and semi-join at the end; the predicate itself reaches
    the indexes on ``student_id``, ``course_id`` and ``(course_id, enrolled_at)``.
    """
    clause = ids.whereclause
    return true() if clause is None else clause
