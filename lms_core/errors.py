"""Domain errors. Every front door (CLI, web, API, jobs) maps these to its own answer.

Each error names the field (or file/line/column) it is about, so a user sees what to fix.
The CLI exits 1 for all of them; the API maps them to 400/403/404/409/423.
"""

from __future__ import annotations

from typing import Any


class LmsError(Exception):
    """A refusal the user can act on: never a bug, never a traceback."""

    kind = "invalid"

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value

    def as_dict(self) -> dict[str, Any]:
        """The shape of one entry of ``errors: [...]`` in ``--json`` output."""
        return {"field": self.field, "value": self.value, "message": self.message}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ValidationError(LmsError):
    """Input that breaks a rule (bad e-mail, weak password, unknown role)."""


class NotFound(LmsError):
    kind = "not_found"


class Conflict(LmsError):
    """The request clashes with existing state (duplicate e-mail, course with enrollments)."""

    kind = "conflict"


class PermissionDenied(LmsError):
    """The actor may not do this; the field is ``as``, the identity the command acted with."""

    kind = "forbidden"

    def __init__(self, message: str, *, field: str | None = "as", value: Any = None) -> None:
        super().__init__(message, field=field, value=value)


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
    ) -> None:
        super().__init__(message, value=value)
        self.file = file
        self.line = line
        self.column = column

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }

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
