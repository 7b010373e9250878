"""Domain errors. Every front door (CLI, web, API, jobs) maps these to its own answer.

Each error names the field (or file/line/column) it is about, so a user sees what to fix.
The CLI exits 1 for all of them; the API maps them to 400/403/404/409/423.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: Problems kept to report one refusal; beyond that they are only counted (a wrong file can
#: have a million, and a report of a million lines helps nobody).
MAX_PROBLEMS = 1000


class HintCode(StrEnum):
    """What a user can do next about an error, named so each front door can word it.

    The core says it in words ("initialise it"); the CLI shows the command that does it
    (``lmsctl init``), the back office could link to the page. Parameters travel beside the
    code in :class:`Hint`.
    """

    #: The database has no schema yet.
    initialise_database = "initialise_database"
    #: The schema is older than the code.
    run_migrations = "run_migrations"
    #: ``course``, ``lesson``: add this lesson, of type quiz, to the course.
    add_quiz_lesson = "add_quiz_lesson"
    #: ``course``, ``lesson``: change this lesson's type to quiz.
    make_quiz_lesson = "make_quiz_lesson"
    #: ``quiz``: import questions into the quiz.
    import_questions = "import_questions"
    #: ``email``: give this user the admin role.
    promote_user = "promote_user"
    #: ``email``: reactivate this (deactivated or deleted) user.
    reactivate_user = "reactivate_user"
    #: ``email``: change this administrator's role or status on its own, not by an import.
    manage_administrator = "manage_administrator"
    #: ``assignment`` (when known): export a fresh grading worksheet.
    export_worksheet = "export_worksheet"
    #: ``course``: delete the course together with its enrollments, confirmed on purpose.
    delete_with_enrollments = "delete_with_enrollments"
    #: ``removals``: allow a sync this many removals (raise the limit), or force it.
    allow_removals = "allow_removals"
    #: ``encoding`` (when a likely one is known): read the file in this encoding.
    choose_encoding = "choose_encoding"
    #: Give a courses import its lessons in a second file.
    add_lessons_file = "add_lessons_file"
    #: Save a plan from an import's dry run (a plan file is what an apply reads).
    save_plan = "save_plan"
    #: Import without saving a plan (plans never carry passwords), or review with a dry run.
    plan_without_passwords = "plan_without_passwords"
    #: ``field``: leave out this input (a filter or an output) that does not apply here.
    leave_out = "leave_out"


@dataclass(frozen=True)
class Hint:
    """A machine-readable next step: a :class:`HintCode` and its named parameters."""

    code: HintCode
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "params": dict(self.params)}


def hint(code: HintCode, **params: Any) -> Hint:
    """``hint(HintCode.promote_user, email=...)``: a :class:`Hint` built from keywords."""
    return Hint(code, params)


class LmsError(Exception):
    """A refusal the user can act on: never a bug, never a traceback.

    ``hint``, when set, names what the user can do next (see :class:`HintCode`); the message
    says it in words, and each front door words the hint its own way.
    """

    kind = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        hint: Hint | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        self.hint = hint

    def _with_hint(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.hint is not None:
            data["hint"] = self.hint.as_dict()
        return data

    def as_dict(self) -> dict[str, Any]:
        """The shape of one entry of ``errors: [...]`` in ``--json`` output (``hint`` if set)."""
        return self._with_hint({"field": self.field, "value": self.value, "message": self.message})

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ValidationError(LmsError):
    """Input that breaks a rule (bad e-mail, weak password, unknown role)."""


class UsageError(ValidationError):
    """Options that cannot go together, or a file the command cannot write (``-o x.pdf``):
    refused before any work; the CLI exits 2, as for its other usage errors."""

    kind = "usage"


class NotFound(LmsError):
    kind = "not_found"


class Conflict(LmsError):
    """The request clashes with existing state (duplicate e-mail, course with enrollments)."""

    kind = "conflict"


class PermissionDenied(LmsError):
    """The actor may not do this; the field is ``as``, the identity the command acted with."""

    kind = "forbidden"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = "as",
        value: Any = None,
        hint: Hint | None = None,
    ) -> None:
        super().__init__(message, field=field, value=value, hint=hint)


class AccountLocked(LmsError):
    kind = "locked"


class AuthenticationFailed(LmsError):
    kind = "unauthorized"


class ErrorList(LmsError):
    """Several problems found at once (all of a form's fields, not only the first)."""

    def __init__(self, errors: list[LmsError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class FileProblem(LmsError):
    """A problem at a place in an input file, so a user can open the file and fix it.

    ``line`` is the row number as a spreadsheet shows it (header row = 1), ``column`` the
    header name (in a text format such as GIFT: the 1-based character position). Where there is no file (a form, an option), use ``LmsError``'s ``field``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        column: str | int | None = None,
        value: Any = None,
        hint: Hint | None = None,
    ) -> None:
        super().__init__(message, value=value, hint=hint)
        self.file = file
        self.line = line
        self.column = column

    def as_dict(self) -> dict[str, Any]:
        return self._with_hint(
            {
                "file": self.file,
                "line": self.line,
                "column": self.column,
                "value": self.value,
                "message": self.message,
            }
        )

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class FileRefused(ErrorList):
    """A whole file refused: every problem found in it, not only the first."""

    def __init__(self, errors: list[FileProblem]) -> None:
        super().__init__(list(errors))


class ProblemCollector:
    """Every problem of one refusal counted, the first :data:`MAX_PROBLEMS` kept.

    The one cap for imports and question banks alike: ``count`` says how many there were,
    ``items`` holds the ones a report shows.
    """

    def __init__(self) -> None:
        self.items: list[FileProblem] = []
        self.count = 0

    def count_one(self) -> bool:
        """Count one more problem; True when it is to be kept (build it only then: cheap)."""
        self.count += 1
        return len(self.items) < MAX_PROBLEMS

    def append(self, problem: FileProblem) -> None:
        if self.count_one():
            self.items.append(problem)

    def extend(self, problems: Iterable[FileProblem]) -> None:
        for problem in problems:
            self.append(problem)

    def messages(self, limit: int = 5) -> str:
        """The first ``limit`` problems in one line, and how many more there are."""
        text = "; ".join(str(p) for p in self.items[:limit])
        if self.count > limit:
            text += f"; and {self.count - limit} more"
        return text

    def __bool__(self) -> bool:
        return self.count > 0
