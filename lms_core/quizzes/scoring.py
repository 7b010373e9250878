"""From stored answers to points and a score: shared by submitting, hand grading and regrading.

The per-question rules live in ``lms_core.quizzes.bank.marking`` (pure, no database); this
module adds what an attempt needs around them: the hand-graded points an essay keeps, the
score over the quiz's points, and pass/fail against the quiz's passing score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol

from lms_core.errors import ValidationError
from lms_core.models import QuestionType
from lms_core.quizzes.fields import ANSWER_TEXT_MAX

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


class QuestionLike(Protocol):
    """What scoring reads of a question: a ``Question``, or anything read-only with these
    (a named tuple qualifies). A save checks answers against less (:class:`AnswerShape`)."""

    @property
    def id(self) -> int: ...
    @property
    def question_type(self) -> str: ...
    @property
    def points(self) -> Decimal: ...
    @property
    def options(self) -> Any: ...
    @property
    def correct_answer(self) -> Any: ...
    @property
    def order_index(self) -> int: ...


class AnswerShape(Protocol):
    """What saving an answer reads of a question (its number, and what checking the answer's
    shape needs): a ``Question``, or a save's row of plain columns
    (``answer_rows.QuestionRow``), which reads no option's text."""

    @property
    def id(self) -> int: ...
    @property
    def order_index(self) -> int: ...
    @property
    def question_type(self) -> str: ...
    @property
    def option_count(self) -> int: ...


#: Points for one answer (a malformed or missing answer scores 0, never raises).
Grader = Callable[[Any], "Decimal | None"]


@dataclass(frozen=True)
class Scored:
    """An attempt's result: per-question points (str keys, decimal strings, as stored)."""

    question_scores: dict[str, str]
    points_earned: Decimal
    points_possible: Decimal
    #: Essays not graded yet: the attempt waits in ``submitted``; score and passed are None.
    pending: tuple[int, ...]
    score: Decimal | None
    passed: bool | None


#: Distinct answers remembered per question: enough for every choice question, bounded for text.
_MEMO_LIMIT = 4096


def _cents(points: Decimal) -> int:
    return int((points * 100).to_integral_value(ROUND_HALF_UP))


class Scorer:
    """A quiz's questions prepared once, to grade many attempts fast and the same way.

    Points are added in whole cents (integers), and each question remembers the points of the
    answers it has seen (learners give the same answers again and again), so regrading 100k
    attempts mostly costs a dict lookup per answer. The results are exactly those of
    ``make_grader`` (2 decimals, half up) and of docs/question-shapes.md's score rule.
    """

    def __init__(
        self, items: list[tuple[str, Decimal, Grader | None]], passing_score: Decimal
    ) -> None:
        #: (answer key, grader or None for an essay, memo: answer -> (cents, '"key": "1.00"')).
        self.items: tuple[tuple[str, Grader | None, dict[Any, tuple[int, str]]], ...] = tuple(
            (key, grader, {}) for key, _, grader in items
        )
        self.possible = sum((p for _, p, _ in items), Decimal(0)).quantize(CENT)
        self.possible_cents = _cents(self.possible)
        self.passing_score = Decimal(passing_score)
        self.passing_hundredths = _cents(self.passing_score)
        self.has_essays = any(grader is None for _, _, grader in items)
        self._percent: dict[int, Decimal] = {}
        self._hand: dict[tuple[str, str, str], tuple[int, str]] = {}

    def _hand_entry(self, key: str, hand: Any) -> tuple[int, str]:
        """A hand grade's entry, remembered by its text (graders give few distinct points)."""
        memo_key = ("hand", key, str(hand))
        entry = self._hand.get(memo_key)
        if entry is None:
            entry = self._hand[memo_key] = self._entry(key, Decimal(str(hand)))
        return entry

    @staticmethod
    def _entry(key: str, points: Decimal) -> tuple[int, str]:
        cents = _cents(points)
        return cents, f'"{key}": "{Decimal(cents).scaleb(-2)}"'

    def grade(
        self, answers: Mapping[str, Any], hand_scores: Mapping[str, Any]
    ) -> tuple[int, list[str], list[int]]:
        """(cents earned, JSON members of ``question_scores``, essays waiting for a person)."""
        earned = 0
        parts: list[str] = []
        pending: list[int] = []
        get = answers.get
        for key, grader, memo in self.items:
            answer: Any = get(key)
            entry: tuple[int, str] | None
            kind = answer.__class__
            try:
                # Text is its own key; anything else is keyed with its type, so that True,
                # 1 and 1.0 (equal in Python, graded differently) never share an entry.
                if kind is str:
                    memo_key: Any = answer
                elif kind is list:
                    memo_key = (kind, tuple(answer))
                elif kind is dict:
                    memo_key = (kind, frozenset(answer.items()))
                else:
                    memo_key = (kind, answer)
                entry = memo.get(memo_key) if grader is not None else None
            except TypeError:  # an unhashable answer (a nested list...): no memo
                memo_key, entry = None, None
            if entry is None:
                if grader is None:  # an essay: the hand grade, 0 when blank, else waiting
                    hand = hand_scores.get(key)
                    if hand is not None:
                        entry = self._hand_entry(key, hand)
                    elif not str(answer or "").strip():
                        entry = self._entry(key, ZERO)
                    else:
                        pending.append(int(key))
                        continue
                else:  # first time this answer is seen
                    entry = self._entry(key, grader(answer) or ZERO)
                    if memo_key is not None and len(memo) < _MEMO_LIMIT:
                        memo[memo_key] = entry
            earned += entry[0]
            parts.append(entry[1])
        return earned, parts, pending

    def hundredths(self, earned_cents: int) -> int:
        """The score in hundredths of a percent: 100 * earned / possible, half up, at most 100 %.

        A quiz worth 0 points scores 100.
        """
        if self.possible_cents <= 0:
            return 10000
        return min(10000, (20000 * earned_cents + self.possible_cents) // (2 * self.possible_cents))

    def percent(self, earned_cents: int) -> Decimal:
        """The score as a Decimal with 2 decimals (85.71)."""
        hundredths = self.hundredths(earned_cents)
        score = self._percent.get(hundredths)
        if score is None:
            score = self._percent[hundredths] = Decimal(hundredths).scaleb(-2)
        return score

    def score(self, answers: Mapping[str, Any], hand_scores: Mapping[str, Any]) -> Scored:
        """Grade every auto-graded answer; keep the hand grades given to essays.

        An essay left blank scores 0 without waiting for a person.
        """
        import json

        earned, parts, pending = self.grade(answers, hand_scores)
        scores: dict[str, str] = json.loads("{" + ", ".join(parts) + "}")
        points = Decimal(earned).scaleb(-2)
        if pending:
            return Scored(scores, points, self.possible, tuple(pending), None, None)
        score = self.percent(earned)
        return Scored(scores, points, self.possible, (), score, score >= self.passing_score)


def scorer_for(questions: Iterable[QuestionLike], passing_score: Decimal) -> Scorer:
    """Prepare one grader per question (``make_grader``); essays get none (graded by hand)."""
    from lms_core.quizzes.bank.marking import make_grader

    return Scorer(
        [
            (
                str(q.id),
                Decimal(q.points),
                None if q.question_type == QuestionType.essay.value else make_grader(q),
            )
            for q in questions
        ],
        passing_score,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_answer(question: AnswerShape, value: Any, *, field: str) -> Any:
    """The answer in its stored shape (docs/question-shapes.md), or a ValidationError naming it."""
    kind = question.question_type

    def bad(why: str) -> ValidationError:
        return ValidationError(why, field=field, value=value)

    if kind == QuestionType.multiple_choice.value:
        count = question.option_count  # only where options count: a save's row decodes them
        if not _is_int(value) or not 0 <= value < count:
            raise bad(f"must be an option index from 0 to {count - 1}")
        return value
    if kind == QuestionType.multiple_response.value:
        count = question.option_count
        if not isinstance(value, list) or not all(_is_int(v) and 0 <= v < count for v in value):
            raise bad(f"must be a list of option indexes from 0 to {count - 1}")
        if len(set(value)) != len(value):
            raise bad("names an option twice")
        return sorted(value)
    if kind == QuestionType.true_false.value:
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    if kind in (QuestionType.short_answer.value, QuestionType.essay.value):
        if not isinstance(value, str):
            raise bad("must be text")
        if len(value) > ANSWER_TEXT_MAX:
            raise bad(f"is longer than {ANSWER_TEXT_MAX} characters")
        return value
    if kind == QuestionType.numerical.value:
        number = value
        if isinstance(value, str):
            try:
                number = Decimal(value.strip().replace(",", "."))
            except InvalidOperation:
                raise bad("must be a number") from None
        if isinstance(number, bool) or not isinstance(number, int | float | Decimal):
            raise bad("must be a number")
        if not Decimal(str(number)).is_finite():
            raise bad("must be a finite number")
        return value
    if kind == QuestionType.matching.value:
        count = question.option_count
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and k.isdigit() and int(k) < count and isinstance(v, str)
            for k, v in value.items()
        ):
            raise bad(f'must map left indexes 0..{count - 1} to right texts, e.g. {{"0": "..."}}')
        return value
    raise bad(f"unknown question type {kind}")
