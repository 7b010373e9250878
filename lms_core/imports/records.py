"""Validate import rows: every problem of every row, by file, line and the user's column name.

Checks are plain functions, not pydantic models: at a million rows a model instance per row
cost several times the whole planning stage (measured), and a validated row lives only as long
as its chunk anyway. Each checker returns the row's values in our column names (empty cells
left out: an empty cell never clears a value) or ``None`` when the row has problems, which
it adds to :class:`Problems`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from lms_core.accounts.fields import USER
from lms_core.catalog.fields import COURSE, ENROLLMENT, LESSON
from lms_core.errors import FileProblem, Hint, ProblemCollector
from lms_core.fields import KIND_CHECKS, TRUE, EntitySpec, FieldSpec, Invalid
from lms_core.formats import damage


class Row(Protocol):
    file: str
    line: int
    values: dict[str, str]
    numeric: frozenset[str]


class Problems(ProblemCollector):
    """Every problem found (the first :data:`lms_core.errors.MAX_PROBLEMS` kept), and their lines."""

    def __init__(self, source_columns: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.lines: set[tuple[str, int]] = set()
        self.source_columns: dict[str, str] = dict(source_columns or {})

    def add(
        self,
        file: str,
        line: int | None,
        column: str | None,
        value: Any,
        message: str,
        hint: Hint | None = None,
    ) -> None:
        if line is not None:
            self.lines.add((file, line))
        if self.count_one():
            shown = self.source_columns.get(column, column) if column else column
            self.items.append(
                FileProblem(message, file=file, line=line, column=shown, value=value, hint=hint)
            )


#: One column to check: its name, its spec, its kind's check, whether a file must fill it,
#: and which spreadsheet damage to look for first (see ``_DAMAGE``).
Column = tuple[str, FieldSpec, Callable[[FieldSpec, Any], Any], bool, int]
#: Spreadsheet damage by field kind: 1 garbled text, 2 e-mail spacing, 3 Excel-mangled IDs.
_DAMAGE = {"text": 1, "email": 2, "identifier": 3}


def columns_of(spec: EntitySpec, *, without: tuple[str, ...] = ()) -> tuple[Column, ...]:
    """The import columns of ``spec`` to check, in file order."""
    return tuple(
        (f.name, f, KIND_CHECKS[f.kind], f.required or f.column_required, _DAMAGE.get(f.kind, 0))
        for f in spec.imported()
        if f.name not in without
    )


class Checker:
    """Cell checks for one row; each failed check adds a problem and leaves the cell out."""

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

    def check(self, columns: tuple[Column, ...]) -> None:
        """Each cell: empty (required?), then spreadsheet damage, then the field's own check.

        The field check is ``FieldSpec.check`` (called through its kind's function directly:
        this loop runs for every cell of files with millions of rows).
        """
        values = self.row.values
        out = self.out
        for column, spec, check, required, look_for in columns:
            value = values.get(column)
            stripped = value.strip() if value else ""
            if not stripped:
                if required:
                    self.fail(column, value or "", "is required")
                continue
            if look_for:
                if look_for == 1:
                    harm = damage.text(stripped)
                elif look_for == 2:
                    harm = damage.email_spacing(value)  # type: ignore[arg-type]
                else:
                    harm = damage.identifier(stripped, numeric=column in self.row.numeric)
                if harm:
                    self.fail(column, value, harm)
                    continue
            result = check(spec, stripped)
            if result.__class__ is Invalid:
                self.fail(column, value, result.message)
            else:
                out[column] = result


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


def _row_checker(
    problems: Problems, columns: tuple[Column, ...], then: Callable[[Checker], None]
) -> RowCheck:
    """Check a row's cells, then ``then`` its row rules (keys seen twice, pairs)."""

    def check(row: Row) -> dict[str, Any] | None:
        c = Checker(row, problems)
        c.check(columns)
        then(c)
        return c.out if c.ok else None

    return check


def _keyed(what: str, key: str) -> Callable[[Checker], None]:
    """Users and courses: one row per ``external_id`` and one per natural key."""
    by_ext = Duplicates("external_id", "external_id")
    by_key = Duplicates(what, key)

    def rule(c: Checker) -> None:
        by_ext.check(c, c.out.get("external_id"), c.out.get("external_id"))
        by_key.check(c, c.out.get(key), c.out.get(key))

    return rule


def user_checker(
    problems: Problems, check_password: Callable[[str, str], str | None] | None
) -> RowCheck:
    """Validate a users row: ``external_id, email, full_name, role`` (+ ``password``, ``is_active``)."""
    once = _keyed("e-mail", "email")

    def rules(c: Checker) -> None:
        password = c.raw("password")
        if password and check_password is not None:
            message = check_password(password, c.out.get("email", ""))
            if message:
                c.fail("password", "(hidden)", message)
            else:
                c.out["password"] = password
        once(c)

    return _row_checker(problems, columns_of(USER, without=("password",)), rules)


def course_checker(problems: Problems) -> RowCheck:
    return _row_checker(problems, columns_of(COURSE), _keyed("slug", "slug"))


def lesson_checker(problems: Problems) -> RowCheck:
    by_key = Duplicates("course_slug and slug", "slug")

    def rules(c: Checker) -> None:
        if "course_slug" in c.out and "slug" in c.out:
            key = (c.out["course_slug"], c.out["slug"])
            by_key.check(c, key, f"{key[0]}/{key[1]}")

    return _row_checker(problems, columns_of(LESSON), rules)


def enrollment_checker(problems: Problems) -> RowCheck:
    """One learner and one course per row: by e-mail or external_id, by slug or external_id."""
    by_key = Duplicates("learner and course", "course_slug")

    def rules(c: Checker) -> None:
        if c.ok and not ("user_email" in c.out or "user_external_id" in c.out):
            c.fail("user_email", "", "is required (or user_external_id)")
        if c.ok and not ("course_slug" in c.out or "course_external_id" in c.out):
            c.fail("course_slug", "", "is required (or course_external_id)")
        if c.ok:
            user = c.out.get("user_external_id") or c.out.get("user_email")
            course = c.out.get("course_external_id") or c.out.get("course_slug")
            by_key.check(c, (user, course), f"{user} in {course}")

    return _row_checker(problems, columns_of(ENROLLMENT), rules)


#: How a trusted row's cells are normalised, by field kind (the results the checks give).
_TRUSTED = {
    "text": "text",
    "identifier": "text",
    "slug": "text",
    "url": "text",
    "email": "lower",
    "choice": "lower",
    "bool": "bool",
    "int": "int",
}
_SPECS = {spec.name: spec for spec in (USER, COURSE, LESSON, ENROLLMENT)}


def trusted_checker(entity_type: str) -> RowCheck:
    """Normalise the cells of a file already validated and applied (same SHA-256).

    The cell checks depend only on the file's bytes, so a re-run of the same file skips
    them (the database checks, in planning, still run). Not for files with passwords.
    """
    kinds = [(f.name, _TRUSTED[f.kind]) for f in _SPECS[entity_type].imported() if f.exported]

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
