"""A quiz's questions: list, add, import a bank (GIFT, Aiken, CSV, XLSX), export, remove.

An import is all or nothing: the file is parsed and checked whole before a row is written,
and a refused file (``FileRefused``, every problem with its line and column) writes nothing.
``replace`` rewrites the quiz's questions with the file's *in place*, position by position:
question N keeps its id, so the answers attempts stored for it still point at it and a fixed
key can be regraded (``lmsctl quizzes regrade``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.errors import Conflict, FileProblem, FileRefused, ValidationError
from lms_core.models import Question, Quiz
from lms_core.quizzes.bank.shapes import QuestionData, validate_question
from lms_core.quizzes.fields import QuestionRow
from lms_core.quizzes.quizzes import get_managed_quiz

FORMATS = ("gift", "aiken", "csv", "xlsx")


def question_row(q: Question) -> QuestionRow:
    """A question with its key, numbered in the quiz's order."""
    return QuestionRow(
        number=q.order_index,
        id=q.id,
        question_type=q.question_type,
        title=q.title,
        question_text=q.question_text,
        text_format=q.text_format,
        points=float(q.points),
        options=q.options,
        correct_answer=q.correct_answer,
        explanation=q.explanation,
        category=q.category,
    )


def ordered_questions(session: Session, quiz_id: int) -> list[Question]:
    return list(
        session.scalars(
            select(Question)
            .where(Question.quiz_id == quiz_id)
            .order_by(Question.order_index, Question.id)
        )
    )


def list_questions(session: Session, *, actor: Actor, quiz_ref: str | int) -> list[Question]:
    """The questions with their keys: for the course's managers only."""
    quiz = get_managed_quiz(session, actor, quiz_ref, "see the questions and their answers")
    return ordered_questions(session, quiz.id)


def _values(data: QuestionData) -> dict[str, Any]:
    """A parsed question's columns."""
    values = dict(data.to_columns())
    values["points"] = Decimal(str(values["points"]))
    values["options"] = list(values["options"] or [])
    return values


def to_data(q: Question) -> QuestionData:
    """A stored question as the formats' ``QuestionData`` (for export and grading)."""
    return QuestionData.from_columns(q)


def _check_all(questions: Sequence[QuestionData], *, file: str) -> None:
    """Every question valid (the parsers check too; this guards other callers), or nothing is written."""
    problems = [
        FileProblem(problem, file=file, line=q.line, column=f"question {i}")
        for i, q in enumerate(questions, start=1)
        for problem in validate_question(q)
    ]
    if problems:
        raise FileRefused(problems)


@dataclass
class ImportResult:
    quiz: Quiz
    added: int
    updated: int
    removed: int
    total: int
    dry_run: bool
    #: With ``replace``: the numbers of the replaced questions whose content differs (the
    #: ones a regrade can change); the other replaced ones are identical.
    changed: list[int] = field(default_factory=list)

    def change_of(self, number: int) -> str:
        """What a replace did to question ``number``: ``new``, ``changed`` or ``same``."""
        if number > self.updated:
            return "new"
        return "changed" if number in self.changed else "same"


def parse_bank(
    data: bytes,
    *,
    file: str,
    fmt: str | None = None,
    warnings: list[FileProblem] | None = None,
) -> list[QuestionData]:
    """Questions from a file's bytes (``file`` names it in messages; ``-`` is stdin).

    Raises ``FileRefused`` with every problem found (line and column of each). What was
    read but skipped (a GIFT description item, numerical wrong-answer feedback) is appended
    to ``warnings`` when a list is given, so the instructor learns of it.
    """
    from lms_core.quizzes.bank.formats import read_questions

    if fmt is not None and fmt.strip().lower() not in FORMATS:
        raise ValidationError(f"must be one of {', '.join(FORMATS)}", field="format", value=fmt)
    questions = read_questions(
        file, data, fmt=fmt.strip().lower() if fmt else None, warnings=warnings
    )
    if not questions:
        raise FileRefused([FileProblem("holds no questions", file=file)])
    return questions


def import_questions(
    session: Session,
    *,
    actor: Actor,
    quiz_ref: str | int,
    questions: Sequence[QuestionData],
    replace: bool = False,
    dry_run: bool = False,
    source: str | None = None,
) -> ImportResult:
    """Append parsed questions to the quiz (or ``replace`` its questions), in the caller's transaction."""
    quiz = get_managed_quiz(session, actor, quiz_ref, "import questions")
    if not questions:
        raise ValidationError("no questions to import", field="file")
    _check_all(questions, file=source or "questions")
    existing = ordered_questions(session, quiz.id)
    values = [_values(q) for q in questions]
    if replace:
        updated = min(len(existing), len(values))
        removed = len(existing) - updated
        added = len(values) - updated
    else:
        updated, removed, added = 0, 0, len(values)
    total = len(values) if replace else len(existing) + len(values)
    if quiz.is_published and total == 0:  # pragma: no cover - values is never empty here
        raise Conflict("a published quiz needs at least one question", field="quiz")
    changed = [
        q.order_index
        for q, v in zip(existing, values, strict=False)
        if any(getattr(q, name) != value for name, value in v.items())
    ]
    result = ImportResult(quiz, added, updated, removed, total, dry_run, changed)
    if dry_run:
        return result
    if replace:
        for q, v in zip(existing, values, strict=False):
            for name, value in v.items():
                setattr(q, name, value)
        for q in existing[updated:]:
            session.delete(q)
        start = updated
        new = values[updated:]
    else:
        start = len(existing)
        new = values
    session.flush()
    for i, v in enumerate(new, start=start + 1):
        session.add(Question(quiz_id=quiz.id, order_index=i, **v))
    session.flush()
    session.expire(quiz, ["questions"])
    audit.record(
        session,
        actor,
        "quiz.import_questions",
        quiz,
        after={
            "source": source,
            "replace": replace,
            "added": added,
            "updated": updated,
            "removed": removed,
            "total": total,
            "changed": result.changed,
        },
    )
    return result


def remove_question(
    session: Session, *, actor: Actor, quiz_ref: str | int, number: int
) -> Question:
    """Remove question ``number``; the ones after it move up (1..n without gaps)."""
    quiz = get_managed_quiz(session, actor, quiz_ref, "remove questions")
    questions = ordered_questions(session, quiz.id)
    match = [q for q in questions if q.order_index == number]
    if not match:
        raise ValidationError(
            f"the quiz has no question {number} (it has 1..{len(questions)})",
            field="number",
            value=number,
        )
    if quiz.is_published and len(questions) == 1:
        raise Conflict(
            "the quiz is published and this is its only question", field="number", value=number
        )
    gone = match[0]
    audit.record(
        session, actor, "quiz.remove_question", quiz, before=dict[str, Any](question_row(gone))
    )
    session.delete(gone)
    session.flush()
    for i, q in enumerate((q for q in questions if q is not gone), start=1):
        q.order_index = i
    session.flush()
    session.expire(quiz, ["questions"])
    return gone


def export_questions(
    session: Session, *, actor: Actor, quiz_ref: str | int, fmt: str, out: Path | IO[Any]
) -> int:
    """Write the quiz's questions in ``fmt`` to a path or stream (binary for xlsx, else text)."""
    from lms_core.quizzes.bank.formats import write_questions

    fmt = (fmt or "").strip().lower()
    if fmt not in FORMATS:
        raise ValidationError(f"must be one of {', '.join(FORMATS)}", field="format", value=fmt)
    quiz = get_managed_quiz(session, actor, quiz_ref, "export questions")
    data = [to_data(q) for q in ordered_questions(session, quiz.id)]
    write_questions(data, fmt, out)
    return len(data)
