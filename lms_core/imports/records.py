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
from lms_core.fields import KIND_CHECKS, EntitySpec, FieldSpec, Invalid
from lms_core.formats import cells, damage


class Row(Protocol):
    file: str
    line: int
    values: dict[str, str]
    numeric: frozenset[str]
    dates: frozenset[str]


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
#: Spreadsheet damage by field kind: 1 garbled text, 3 Excel-mangled IDs. Spaces around an
#: e-mail address are the field spec's to remove (as for a service), invisible ones inside
#: its to refuse: one rule for both paths.
_DAMAGE = {"text": 1, "identifier": 3}


def columns_of(spec: EntitySpec, *, without: tuple[str, ...] = ()) -> tuple[Column, ...]:
    """The import columns of ``spec`` to check, in file order."""
    return tuple(
        (f.name, f, KIND_CHECKS[f.kind], f.required or f.column_required, _DAMAGE.get(f.kind, 0))
        for f in spec.imported()
        if f.name not in without
    )


class Checker:
    """Cell checks for one row; each failed check adds a problem and leaves the cell out."""

    __slots__ = ("ok", "out", "problems", "row")

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
        dated = self.row.dates  # XLSX cells stored as dates: no import column holds one
        for column, spec, check, required, look_for in columns:
            value = values.get(column)
            if not value or not (stripped := value.strip()):
                if required:
                    self.fail(column, value or "", "is required")
                continue
            if dated and column in dated:
                self.fail(column, value, cells.check_date_cell(stripped))
                continue
            if look_for:
                if look_for == 1:
                    # damage.text, its ASCII answer inlined (the common cell).
                    harm = None if stripped.isascii() else damage.text(stripped)
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
    seen_ext, seen_key = by_ext._seen, by_key._seen

    def rule(c: Checker) -> None:
        # Duplicates.check, its common case (a key not seen before) inlined.
        out, line = c.out, c.row.line
        ext, natural = out.get("external_id"), out.get(key)
        if ext is not None and seen_ext.setdefault(hash(ext), line) != line:
            by_ext.check(c, ext, ext)
        if natural is not None and seen_key.setdefault(hash(natural), line) != line:
            by_key.check(c, natural, natural)

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
    seen = by_key._seen

    def rules(c: Checker) -> None:
        out = c.out
        if c.ok and not ("user_email" in out or "user_external_id" in out):
            c.fail("user_email", "", "is required (or user_external_id)")
        if c.ok and not ("course_slug" in out or "course_external_id" in out):
            c.fail("course_slug", "", "is required (or course_external_id)")
        if c.ok:
            user = out.get("user_external_id") or out.get("user_email")
            course = out.get("course_external_id") or out.get("course_slug")
            key = (user, course)
            # Duplicates.check, its common case (a pair not seen before) inlined.
            if seen.setdefault(hash(key), c.row.line) != c.row.line:
                by_key.check(c, key, f"{user} in {course}")

    return _row_checker(problems, columns_of(ENROLLMENT), rules)
