"""A quiz's fields, written once: names, limits, choices, defaults, the check of each value,
and the typed inputs ``create_quiz``/``update_quiz`` take (:mod:`lms_core.quizzes.quizzes`).

The names are the seed's (the ``quizzes`` table, ``lms_core.models.quizzes``); they are also
the keys of ``--json`` rows. The number and yes/no checks are :mod:`lms_core.fields`' own (one
rule for ``"false"``, one for ranges); the rest keep the messages the services gave before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Final, TypedDict

from lms_core.catalog.fields import TITLE_MAX
from lms_core.errors import ValidationError
from lms_core.fields import FieldSpec, Invalid
from lms_core.models import GradingMethod, QuizType
from lms_core.validation import check_text, parse_choice

#: The description is ``Text``, capped here (more than a course's: a quiz's instructions).
DESCRIPTION_MAX: Final = 100_000
#: Percent of the points an attempt needs to pass.
PASSING_SCORE_MIN: Final = 0
PASSING_SCORE_MAX: Final = 100
#: A year: a longer limit is a typo (99999999999 minutes overflowed the deadline's datetime).
TIME_LIMIT_MAX: Final = 366 * 24 * 60
#: Attempts per learner; more is a typo for "unlimited" (0), and the column is an ``integer``.
MAX_ATTEMPTS_MAX: Final = 1000
#: A learner's text answer (short answer, essay).
ANSWER_TEXT_MAX: Final = 100_000

#: What a new quiz gets for a setting not given (the model's column defaults; a test holds
#: them equal). ``None`` for the two limits means "no time limit", "unlimited attempts".
DEFAULTS: Final[Mapping[str, Any]] = {
    "description": None,
    "quiz_type": QuizType.graded.value,
    "passing_score": Decimal("70"),
    "time_limit_minutes": None,
    "max_attempts": None,
    "shuffle_questions": False,
    "shuffle_options": False,
    "show_correct_answers": True,
    "grading_method": GradingMethod.highest.value,
}
#: Settings ``create_quiz``/``update_quiz`` accept besides the title.
SETTINGS: Final = tuple(DEFAULTS)
#: Fields written to the audit log when they change.
AUDITED: Final = ("title", *SETTINGS, "is_published")


class QuizRow(TypedDict):
    """A quiz as listings and ``--json`` show it (``course`` a slug, ``lesson`` COURSE/LESSON)."""

    id: int
    title: str
    course: str
    lesson: str
    quiz_type: str
    passing_score: float
    time_limit_minutes: int | None
    max_attempts: int | None
    shuffle_questions: bool
    shuffle_options: bool
    show_correct_answers: bool
    grading_method: str
    published: bool
    questions: int
    description: str | None


class QuizDetail(QuizRow):
    """``show``: the row with the total points and the number of attempts."""

    points: float
    attempts: int


class QuestionRow(TypedDict):
    """A question with its key, as ``quizzes questions --json`` shows it (managers only)."""

    number: int
    id: int
    question_type: str
    title: str | None
    question_text: str
    text_format: str
    points: float
    options: list[Any]
    correct_answer: Any
    explanation: str | None
    category: str | None


class AttemptRow(TypedDict):
    """An attempt as listings and ``--json`` show it, keys in order (times in ISO 8601)."""

    id: int
    quiz_id: int
    email: str
    number: int
    status: str
    score: float | None
    passed: bool | None
    points_earned: float | None
    points_possible: float | None
    started_at: str
    deadline_at: str | None
    submitted_at: str | None
    graded_at: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class QuizSettings:
    """Settings a create or an update may give; ``None`` means "not given"."""

    description: str | None = None
    quiz_type: str | None = None
    passing_score: Decimal | float | int | str | None = None
    #: Minutes per attempt; 0 clears the limit.
    time_limit_minutes: int | None = None
    #: Attempts per learner; 0 clears the limit.
    max_attempts: int | None = None
    shuffle_questions: bool | None = None
    shuffle_options: bool | None = None
    show_correct_answers: bool | None = None
    grading_method: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QuizCreate(QuizSettings):
    """A new quiz (unpublished, no questions); settings not given take :data:`DEFAULTS`."""

    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QuizUpdate(QuizSettings):
    """Changes to a quiz's settings."""

    title: str | None = None


def given(data: QuizSettings) -> dict[str, Any]:
    """The fields a command sets (``None``: not given), by name."""
    values = {f.name: getattr(data, f.name) for f in fields(data)}
    return {name: value for name, value in values.items() if value is not None}


def _spec_check(spec: FieldSpec) -> Callable[[Any], Any]:
    """The check of :mod:`lms_core.fields` for a field of this kind (``"false"`` is False,
    ``"12"`` is 12, a number is checked against its range before it is rounded), raising."""

    def check(value: Any) -> Any:
        result = spec.check(value)
        if isinstance(result, Invalid):
            raise ValidationError(result.message, field=spec.name, value=value)
        return result

    return check


def _limit(field: str, maximum: int) -> Callable[[Any], int | None]:
    """Whole number from 0 to ``maximum``; 0 or None clears the limit (no time limit,
    unlimited attempts)."""
    spec = FieldSpec(field, "int", maximum=maximum)

    def check(value: Any) -> int | None:
        if value is None:
            return None
        result = spec.check(value)
        if isinstance(result, Invalid):
            raise ValidationError(f"{result.message}, 0 for none", field=field, value=value)
        return result or None

    return check


def _flag(field: str) -> Callable[[Any], Any]:
    return _spec_check(FieldSpec(field, "bool", default=DEFAULTS[field]))


#: The check of each field: the value to store, or a ``ValidationError`` naming the field.
CHECKS: Final[Mapping[str, Callable[[Any], Any]]] = {
    "title": lambda v: check_text(v, field="title", max_length=TITLE_MAX, required=True),
    "description": lambda v: check_text(v, field="description", max_length=DESCRIPTION_MAX) or None,
    "quiz_type": lambda v: parse_choice(QuizType, v, field="quiz_type").value,
    "passing_score": _spec_check(
        FieldSpec(
            "passing_score",
            "decimal",
            minimum=PASSING_SCORE_MIN,
            maximum=PASSING_SCORE_MAX,
            default=DEFAULTS["passing_score"],
        )
    ),
    "time_limit_minutes": _limit("time_limit_minutes", TIME_LIMIT_MAX),
    "max_attempts": _limit("max_attempts", MAX_ATTEMPTS_MAX),
    "shuffle_questions": _flag("shuffle_questions"),
    "shuffle_options": _flag("shuffle_options"),
    "show_correct_answers": _flag("show_correct_answers"),
    "grading_method": lambda v: parse_choice(GradingMethod, v, field="grading_method").value,
}
