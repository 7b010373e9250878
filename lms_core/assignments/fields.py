"""Assignments' and submissions' fields, written once: names, limits, choices, defaults, the
check of each value, the typed inputs of ``create_assignment``/``update_assignment`` and the
rows listings and ``--json`` print.

The names are the seed's (``lms_core.models.assignments``). Self-contained for now: the checks
keep the exact messages the services gave before; the generic :mod:`lms_core.fields` base can
take the specs over later. The submission and grading checks are here too, because the
``submissions grade`` command and the offline worksheet import must refuse the same values with
the same words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, TypedDict

from lms_core.assignments.files import Upload
from lms_core.catalog.fields import TITLE_MAX
from lms_core.errors import ValidationError
from lms_core.models import LatePolicy
from lms_core.validation import check_text, parse_choice

CENT: Final = Decimal("0.01")
#: ``1,000`` or ``-12,500``: a comma that reads as a thousands separator, never as a decimal one.
_THOUSANDS: Final = re.compile(r"^[+-]?\d{1,3},\d{3}$")
#: The description is ``Text``, capped here (a title is a course's or a lesson's length).
DESCRIPTION_MAX: Final = 100_000
#: ``max_points`` is ``Numeric(8, 2)``: more than 0, at most this.
MAX_POINTS: Final = Decimal("999999.99")
#: Percent of the grade lost per started day late, 0 to 100.
PENALTY_MAX: Final = Decimal(100)
#: A submission's text, its files, and a grader's feedback.
TEXT_MAX: Final = 200_000
FILES_MAX: Final = 20
FEEDBACK_MAX: Final = 20_000

#: What a new assignment gets for a field not given (the model's column defaults; a test
#: holds them equal).
DEFAULTS: Final[Mapping[str, Any]] = {
    "description": None,
    "due_date": None,
    "max_points": Decimal("100"),
    "late_policy": LatePolicy.accept.value,
    "late_cutoff": None,
    "late_penalty_percent": Decimal("0"),
}
#: Fields written to the audit log when they change (every field a command may set).
AUDITED: Final = ("title", *DEFAULTS)


class AssignmentRow(TypedDict):
    """An assignment as listings and ``--json`` show it, keys in order."""

    id: int
    ref: str
    course: str
    lesson: str | None
    title: str
    description: str | None
    due_date: str | None
    max_points: float
    late_policy: str
    late_cutoff: str | None
    late_penalty_percent: float


class AssignmentDetail(AssignmentRow, total=False):
    """``show``: with the counts its course's managers see."""

    enrolled: int
    submissions: int
    graded: int
    late: int


class SubmittedFile(TypedDict):
    id: int
    name: str
    size: int


class SubmissionRow(TypedDict):
    """A submission as listings and ``--json`` show it: ``grade`` as given, ``final`` after
    the late penalty."""

    id: int
    email: str
    full_name: str
    submitted_at: str
    days_late: int
    penalty_percent: float
    grade: float | None
    final: float | None
    feedback: str | None
    #: The grader's id in a single row, their e-mail in ``list_submissions``.
    grader: int | str | None
    graded_at: str | None
    files: list[SubmittedFile]
    text: str | None


When = datetime | date | str


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignmentFields:
    """Fields a create or an update may give; ``None`` means "not given"."""

    description: str | None = None
    #: ISO 8601 text or a datetime (a bare date means its last second, UTC).
    due_date: When | None = None
    max_points: Decimal | int | float | str | None = None
    late_policy: str | None = None
    late_cutoff: When | None = None
    late_penalty_percent: Decimal | int | float | str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignmentCreate(AssignmentFields):
    """A new assignment; fields not given take :data:`DEFAULTS`."""

    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignmentUpdate(AssignmentFields):
    """Changes to an assignment (days late are recomputed when the due date moves)."""

    title: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmissionCreate:
    """A learner's work: a text, files, or both (a resubmission replaces both)."""

    text: str | None = None
    files: Sequence[Upload] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmissionGrade:
    """A grade as the grader gives it (``7,5`` accepted), and feedback (``None``: unchanged)."""

    points: Decimal | int | float | str
    feedback: str | None = None


def given(data: AssignmentFields) -> dict[str, Any]:
    """The fields a command sets (``None``: not given), by name."""
    values = {f.name: getattr(data, f.name) for f in fields(data)}
    return {name: value for name, value in values.items() if value is not None}


# -- values -------------------------------------------------------------------------------------


def parse_when(value: When | None, *, field: str) -> datetime | None:
    """An ISO 8601 date or date-time; without an offset it is UTC, a bare date is its last second.

    ``--due 2026-12-01`` means "by the end of 1 December", which is what people mean.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(23, 59, 59))
    else:
        text = value.strip()
        try:
            if len(text) == 10:
                moment = datetime.combine(date.fromisoformat(text), time(23, 59, 59))
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _not_a_date(field, value) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # 9999-12-31T23:00-05:00 is in year 10000 in UTC, 0001-01-01T00:00+01:00 in year 0:
        # neither has a datetime, and neither is a due date anyone means.
        raise _not_a_date(field, value) from None


def _not_a_date(field: str, value: object) -> ValidationError:
    return ValidationError(
        "must be an ISO 8601 date or date-time, e.g. 2026-12-01 or 2026-12-01T17:00+01:00",
        field=field,
        value=value,
    )


def parse_decimal(
    value: object, *, field: str, low: Decimal, high: Decimal, low_open: bool = False
) -> Decimal:
    """A number (``7,5`` accepted for ``7.5``) within [low, high], at most two decimals.

    The range is checked before the decimals: rounding ``1e30`` to cents needs more digits than
    the decimal context has (``InvalidOperation``), and a number out of range is told so.
    ``1,000`` is refused rather than read as 1 (or as a thousand): a comma is a decimal comma
    only where it cannot be a thousands separator.
    """
    if isinstance(value, bool):
        raise ValidationError("must be a number", field=field, value=value)
    text = str(value).strip() if value is not None else ""
    if "," in text:
        if "." in text or text.count(",") > 1 or _THOUSANDS.match(text):
            raise ValidationError(
                "must be a number without thousands separators (1000, or 7,5 for 7.5)",
                field=field,
                value=value,
            )
        text = text.replace(",", ".")
    try:
        number = Decimal(text)
    except ArithmeticError:
        raise ValidationError("must be a number", field=field, value=value) from None
    if not number.is_finite():
        raise ValidationError("must be a number", field=field, value=value)
    if number < low or number > high or (low_open and number == low):
        lower = f"more than {_plain(low)}" if low_open else f"from {_plain(low)}"
        raise ValidationError(f"must be {lower} to {_plain(high)}", field=field, value=value)
    try:
        cents = number.quantize(CENT, rounding=ROUND_HALF_UP)
    except ArithmeticError:  # in range, so never; kept so that no number ends in a traceback
        raise ValidationError("must be a number", field=field, value=value) from None
    if number != cents:
        raise ValidationError("must have at most two decimals", field=field, value=value)
    return cents


def _plain(number: Decimal) -> str:
    """``10.00`` as ``10``, ``7.50`` as ``7.5``: numbers in messages as people write them."""
    return f"{number.normalize():f}"


def check_grade(points: object, max_points: Decimal) -> Decimal:
    """A grade: 0 to the assignment's maximum, at most two decimals."""
    return parse_decimal(points, field="grade", low=Decimal(0), high=max_points)


def check_feedback(text: str | None) -> str | None:
    """A grader's feedback (blank: none)."""
    return check_text(text, field="feedback", max_length=FEEDBACK_MAX) or None


#: The check of each assignment field: the value to store, or a ``ValidationError``.
CHECKS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "title": lambda v: check_text(v, field="title", max_length=TITLE_MAX, required=True),
    "description": lambda v: check_text(v, field="description", max_length=DESCRIPTION_MAX) or None,
    "due_date": lambda v: parse_when(v, field="due_date"),
    "late_cutoff": lambda v: parse_when(v, field="late_cutoff"),
    "max_points": lambda v: parse_decimal(
        v, field="max_points", low=Decimal(0), high=MAX_POINTS, low_open=True
    ),
    "late_policy": lambda v: parse_choice(LatePolicy, v, field="late_policy").value,
    "late_penalty_percent": lambda v: parse_decimal(
        v, field="late_penalty_percent", low=Decimal(0), high=PENALTY_MAX
    ),
}
