"""Validate import rows: every problem of every row, by file, line and the user's column name.

Checks are plain functions, not pydantic models: at a million rows a model instance per row
cost several times the whole planning stage (measured), and a validated row lives only as long
as its chunk anyway. Each checker returns the row's values in our column names (empty cells
left out: an empty cell never clears a value) or ``None`` when the row has problems, which
it adds to :class:`Problems`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from lms_core.errors import FileProblem, LmsError
from lms_core.imports import checks
from lms_core.models.courses import DifficultyLevel, LessonType
from lms_core.models.enrollments import EnrollmentStatus
from lms_core.models.users import Role
from lms_core.validation import check_slug, check_url, normalize_email

#: Problems kept for the report; beyond that they are only counted (a wrong file can have 1M).
MAX_PROBLEMS = 1000

TRUE = frozenset({"true", "yes", "1", "y"})
FALSE = frozenset({"false", "no", "0", "n"})
_INT = re.compile(r"^\d+(?:\.0+)?$")
#: The plain addresses nearly every file holds; anything else goes through email-validator
#: (40 µs a call: 40 s at a million rows, so the common case takes this shortcut).
_SIMPLE_EMAIL = re.compile(
    r"^[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}$"
)


class Row(Protocol):
    file: str
    line: int
    values: dict[str, str]
    numeric: frozenset[str]


class Problems:
    """Every problem found, the first :data:`MAX_PROBLEMS` kept, with the lines they are on."""

    def __init__(self, source_columns: Mapping[str, str] | None = None) -> None:
        self.items: list[FileProblem] = []
        self.count = 0
        self.lines: set[tuple[str, int]] = set()
        self.source_columns: dict[str, str] = dict(source_columns or {})

    def add(
        self, file: str, line: int | None, column: str | None, value: Any, message: str
    ) -> None:
        self.count += 1
        if line is not None:
            self.lines.add((file, line))
        if len(self.items) < MAX_PROBLEMS:
            shown = self.source_columns.get(column, column) if column else column
            self.items.append(FileProblem(message, file=file, line=line, column=shown, value=value))

    def __bool__(self) -> bool:
        return self.count > 0

    def messages(self, limit: int = 5) -> str:
        text = "; ".join(str(p) for p in self.items[:limit])
        if self.count > limit:
            text += f"; and {self.count - limit} more"
        return text


class Checker:
    """Cell checks for one row; each failed check adds a problem and returns ``None``."""

    def __init__(self, row: Row, problems: Problems) -> None:
        self.row = row
        self.problems = problems
        self.ok = True
        self.out: dict[str, Any] = {}

    def fail(self, column: str, value: Any, message: str) -> None:
        self.ok = False
        self.problems.add(self.row.file, self.row.line, column, value, message)

    def raw(self, column: str) -> str:
        return self.row.values.get(column) or ""

    def text(self, column: str, *, max_length: int, required: bool = False) -> None:
        value = self.raw(column)
        stripped = value.strip()
        if not stripped:
            if required:
                self.fail(column, value, "is required")
            return
        message = checks.text(stripped)
        if message:
            self.fail(column, value, message)
        elif len(stripped) > max_length:
            self.fail(column, value, f"is longer than {max_length} characters")
        else:
            self.out[column] = stripped

    def identifier(self, column: str, *, required: bool = False) -> None:
        value = self.raw(column)
        stripped = value.strip()
        if not stripped:
            if required:
                self.fail(column, value, "is required")
            return
        message = checks.identifier(stripped, numeric=column in self.row.numeric)
        if message:
            self.fail(column, value, message)
        elif len(stripped) > 255:
            self.fail(column, value, "is longer than 255 characters")
        else:
            self.out[column] = stripped

    def email(self, column: str, *, required: bool = False) -> None:
        value = self.raw(column)
        if not value.strip():
            if required:
                self.fail(column, value, "is required")
            return
        message = checks.email_spacing(value)
        if message:
            self.fail(column, value, message)
            return
        lowered = value.strip().lower()
        if _SIMPLE_EMAIL.match(lowered) and len(lowered) <= 254:
            self.out[column] = lowered
            return
        try:
            self.out[column] = normalize_email(value, field=column)
        except LmsError as exc:
            self.fail(column, value, exc.message)

    def choice(self, column: str, choices: Iterable[str], *, required: bool = False) -> None:
        value = self.raw(column)
        lowered = value.strip().lower()
        if not lowered:
            if required:
                self.fail(column, value, "is required")
            return
        allowed = tuple(choices)
        if lowered in allowed:
            self.out[column] = lowered
        else:
            self.fail(column, value, f"must be one of {', '.join(allowed)}")

    def boolean(self, column: str) -> None:
        value = self.raw(column)
        lowered = value.strip().lower()
        if not lowered:
            return
        if lowered in TRUE:
            self.out[column] = True
        elif lowered in FALSE:
            self.out[column] = False
        else:
            self.fail(column, value, "must be true or false (also yes/no, 1/0)")

    def integer(self, column: str, *, minimum: int = 0) -> None:
        value = self.raw(column)
        stripped = value.strip()
        if not stripped:
            return
        if not _INT.match(stripped):
            self.fail(column, value, f"must be a whole number, {minimum} or more")
            return
        number = int(stripped.split(".")[0])
        if number < minimum:
            self.fail(column, value, f"must be {minimum} or more")
        elif number > 2_000_000_000:
            self.fail(column, value, "is too large")
        else:
            self.out[column] = number

    def slug(self, column: str, *, required: bool = False) -> None:
        value = self.raw(column)
        if not value.strip():
            if required:
                self.fail(column, value, "is required")
            return
        try:
            self.out[column] = check_slug(value, field=column)
        except LmsError as exc:
            self.fail(column, value, exc.message)

    def url(self, column: str) -> None:
        value = self.raw(column)
        if not value.strip():
            return
        try:
            self.out[column] = check_url(value, field=column)
        except LmsError as exc:
            self.fail(column, value, exc.message)


class Duplicates:
    """Keys seen in the file and the line each was first on, to name both lines.

    Keys are stored as their 64-bit hash (a million e-mails as strings would cost ~100 MB);
    a false alarm needs a hash collision, about one chance in 10^7 at a million rows.
    """

    def __init__(self, what: str, column: str) -> None:
        self.what = what
        self.column = column
        self._seen: dict[int, int] = {}

    def check(self, checker: Checker, key: Any, shown: Any) -> None:
        if key is None:
            return
        h = hash(key)
        first = self._seen.setdefault(h, checker.row.line)
        if first != checker.row.line:
            checker.fail(
                self.column,
                shown,
                f"the same {self.what} as line {first}: each record may appear once "
                f"(lines {first} and {checker.row.line})",
            )


RowCheck = Callable[[Row], "dict[str, Any] | None"]


def user_checker(
    problems: Problems, check_password: Callable[[str, str], str | None] | None
) -> RowCheck:
    """Validate a users row: ``external_id, email, full_name, role`` (+ ``password``, ``is_active``)."""
    by_ext = Duplicates("external_id", "external_id")
    by_email = Duplicates("e-mail", "email")
    roles = tuple(r.value for r in Role)

    def check(row: Row) -> dict[str, Any] | None:
        c = Checker(row, problems)
        c.identifier("external_id")
        c.email("email", required=True)
        c.text("full_name", max_length=200, required=True)
        c.choice("role", roles, required=True)
        c.boolean("is_active")
        password = c.raw("password")
        if password and check_password is not None:
            message = check_password(password, c.out.get("email", ""))
            if message:
                c.fail("password", "(hidden)", message)
            else:
                c.out["password"] = password
        by_ext.check(c, c.out.get("external_id"), c.out.get("external_id"))
        by_email.check(c, c.out.get("email"), c.out.get("email"))
        return c.out if c.ok else None

    return check


def course_checker(problems: Problems) -> RowCheck:
    by_ext = Duplicates("external_id", "external_id")
    by_slug = Duplicates("slug", "slug")
    levels = tuple(d.value for d in DifficultyLevel)

    def check(row: Row) -> dict[str, Any] | None:
        c = Checker(row, problems)
        c.identifier("external_id")
        c.slug("slug", required=True)
        c.text("title", max_length=200, required=True)
        c.text("description", max_length=20000)
        c.email("instructor_email", required=True)
        c.text("category", max_length=100)
        c.choice("difficulty_level", levels)
        c.boolean("is_published")
        c.url("thumbnail_url")
        c.integer("estimated_duration_minutes")
        by_ext.check(c, c.out.get("external_id"), c.out.get("external_id"))
        by_slug.check(c, c.out.get("slug"), c.out.get("slug"))
        return c.out if c.ok else None

    return check


def lesson_checker(problems: Problems) -> RowCheck:
    by_key = Duplicates("course_slug and slug", "slug")
    types = tuple(t.value for t in LessonType)

    def check(row: Row) -> dict[str, Any] | None:
        c = Checker(row, problems)
        c.slug("course_slug", required=True)
        c.slug("slug", required=True)
        c.text("title", max_length=200, required=True)
        c.choice("lesson_type", types)
        c.integer("order_index", minimum=1)
        c.text("content", max_length=1_000_000)
        c.integer("duration_minutes")
        c.url("video_url")
        c.boolean("is_preview")
        c.boolean("is_required")
        if "course_slug" in c.out and "slug" in c.out:
            key = (c.out["course_slug"], c.out["slug"])
            by_key.check(c, key, f"{key[0]}/{key[1]}")
        return c.out if c.ok else None

    return check


def enrollment_checker(problems: Problems) -> RowCheck:
    by_key = Duplicates("learner and course", "course_slug")
    statuses = tuple(s.value for s in EnrollmentStatus)

    def check(row: Row) -> dict[str, Any] | None:
        c = Checker(row, problems)
        c.email("user_email")
        c.identifier("user_external_id")
        c.slug("course_slug")
        c.identifier("course_external_id")
        c.choice("status", statuses)
        if c.ok and not ("user_email" in c.out or "user_external_id" in c.out):
            c.fail("user_email", "", "is required (or user_external_id)")
        if c.ok and not ("course_slug" in c.out or "course_external_id" in c.out):
            c.fail("course_slug", "", "is required (or course_external_id)")
        if c.ok:
            user = c.out.get("user_external_id") or c.out.get("user_email")
            course = c.out.get("course_external_id") or c.out.get("course_slug")
            by_key.check(c, (user, course), f"{user} in {course}")
        return c.out if c.ok else None

    return check


#: How a trusted row's cells are normalised (the same results as the checks above).
_KINDS: dict[str, dict[str, str]] = {
    "user": {
        "external_id": "text",
        "email": "lower",
        "full_name": "text",
        "role": "lower",
        "is_active": "bool",
    },
    "course": {
        "external_id": "text",
        "slug": "text",
        "title": "text",
        "description": "text",
        "instructor_email": "lower",
        "category": "text",
        "difficulty_level": "lower",
        "is_published": "bool",
        "thumbnail_url": "text",
        "estimated_duration_minutes": "int",
    },
    "lesson": {
        "course_slug": "text",
        "slug": "text",
        "title": "text",
        "lesson_type": "lower",
        "order_index": "int",
        "content": "text",
        "duration_minutes": "int",
        "video_url": "text",
        "is_preview": "bool",
        "is_required": "bool",
    },
    "enrollment": {
        "user_email": "lower",
        "user_external_id": "text",
        "course_slug": "text",
        "course_external_id": "text",
        "status": "lower",
    },
}


def trusted_checker(entity_type: str) -> RowCheck:
    """Normalise the cells of a file already validated and applied (same SHA-256).

    The cell checks depend only on the file's bytes, so a re-run of the same file skips
    them (the database checks, in planning, still run). Not for files with passwords.
    """
    kinds = list(_KINDS[entity_type].items())

    def check(row: Row) -> dict[str, Any] | None:
        values = row.values
        out: dict[str, Any] = {}
        for column, kind in kinds:
            value = values.get(column)
            if not value:
                continue
            stripped = value.strip()
            if not stripped:
                continue
            if kind == "text":
                out[column] = stripped
            elif kind == "lower":
                out[column] = stripped.lower()
            elif kind == "bool":
                out[column] = stripped.lower() in TRUE
            else:
                out[column] = int(stripped.split(".")[0])
        return out

    return check
