"""The same bad value gets the same verdict and the same message from a service and an import.

Both paths read one field spec (``lms_core.accounts.fields``, ``lms_core.catalog.fields``):
each row of the table below goes once through the service (typed command) and once through
a real CSV file imported with ``dry_run`` by ``lms_core.imports.runs.import_file``. A rule
that drifts on one side fails here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lms_core.accounts import users
from lms_core.accounts.fields import USER, UserCreate, UserUpdate
from lms_core.catalog import courses, enrollments, lessons
from lms_core.catalog.fields import (
    COURSE,
    ENROLLMENT,
    LESSON,
    CourseCreate,
    CourseUpdate,
    LessonCreate,
    LessonUpdate,
)
from lms_core.errors import ErrorList, LmsError
from lms_core.fields import EntitySpec
from lms_core.formats.table import CELL_LIMIT, XLSX_CELL_LIMIT
from tests.imports.importing import Importer

#: (field, bad value as a service gets it, the same value as a CSV cell).
USER_BAD = [
    ("email", "not-an-email", "not-an-email"),
    ("email", "ann@@x.org", "ann@@x.org"),
    ("email", "ann@x..org", "ann@x..org"),
    ("full_name", "x" * 201, "x" * 201),
    ("role", "boss", "boss"),
    ("role", "Teacher", "Teacher"),
    ("external_id", "9" * 256, "9" * 256),
    ("is_active", "maybe", "maybe"),
    # Invisible or blank characters inside an address: refused, named, on both paths.
    ("email", "new\u00a0@x.org", "new\u00a0@x.org"),
    ("email", "new\u200b@x.org", "new\u200b@x.org"),
    ("email", "new @x.org", "new @x.org"),
    # Bidirectional controls (Trojan Source) and homographs (issue 11): none in an e-mail or
    # an ID; in a name only balanced ones; no label mixing Latin with Cyrillic or Greek.
    ("email", "new\u202e@x.org", "new\u202e@x.org"),
    ("email", "new@x.org\u2066", "new@x.org\u2066"),
    ("email", "new@ex\u0430mple.org", "new@ex\u0430mple.org"),
    ("email", "new@xn--exmple-4nf.org", "new@xn--exmple-4nf.org"),
    ("email", "new@\u03bfrg.example.org", "new@\u03bfrg.example.org"),
    ("full_name", "Ann \u202eeviL", "Ann \u202eeviL"),
    ("full_name", "\u2067Ann", "\u2067Ann"),
    ("full_name", "Ann\u202c", "Ann\u202c"),
    ("external_id", "S-\u202e1", "S-\u202e1"),
    ("external_id", "S-\u200f1", "S-\u200f1"),
]
COURSE_BAD = [
    ("slug", "Bad Slug", "Bad Slug"),
    ("slug", "intro_python", "intro_python"),
    ("slug", "x" * 101, "x" * 101),
    ("title", "t" * 201, "t" * 201),
    ("description", "d" * 20001, "d" * 20001),
    ("instructor_email", "nobody-at-x.org", "nobody-at-x.org"),
    ("category", "c" * 101, "c" * 101),
    ("difficulty_level", "expert", "expert"),
    ("thumbnail_url", "ftp://x.org/a.png", "ftp://x.org/a.png"),
    ("thumbnail_url", "not a url", "not a url"),
    ("estimated_duration_minutes", -5, "-5"),
    ("estimated_duration_minutes", "ninety", "ninety"),
    ("estimated_duration_minutes", 3_000_000_000, "3000000000"),
    ("external_id", "e" * 256, "e" * 256),
    ("title", "Intro \u202enohtyP", "Intro \u202enohtyP"),
    ("instructor_email", "teacher\u202e@x.org", "teacher\u202e@x.org"),
]
LESSON_BAD = [
    ("course_slug", "Bad Course", "Bad Course"),
    ("slug", "Bad Slug", "Bad Slug"),
    ("slug", "-leading-dash", "-leading-dash"),
    ("title", "t" * 201, "t" * 201),
    ("lesson_type", "podcast", "podcast"),
    ("duration_minutes", -1, "-1"),
    ("duration_minutes", "ten", "ten"),
    ("video_url", "youtube.com/watch", "youtube.com/watch"),
    ("is_preview", "sometimes", "sometimes"),
    ("is_required", "perhaps", "perhaps"),
    # Over the CSV reader's 128 KB cell cap too: the reader lets this column's cells run to
    # twice the field's limit (``imports.columns.LONG_CELLS``), so the field check answers.
    ("content", "c" * 1_000_001, "c" * 1_000_001),
]
ENROLLMENT_BAD = [
    ("user_email", "not-an-email", "not-an-email"),
    ("user_email", "ann@@x.org", "ann@@x.org"),
    ("course_slug", "Bad Course", "Bad Course"),
    ("course_slug", "intro_python", "intro_python"),
    ("status", "paused", "paused"),
    ("user_email", "learner@x.\u043erg", "learner@x.\u043erg"),
]

#: Imported columns that no service takes as a field value, and why (so the table above
#: covers every other imported column of every importable entity).
NOT_A_SERVICE_FIELD = {
    "users": {"password": "checked by the password policy, the same function on both paths"},
    "courses": {"is_published": "publish_course/unpublish_course (needs lessons), not a field"},
    "lessons": {"order_index": "the service places a lesson by position, 1..n without gaps"},
    "enrollments": {
        "user_external_id": "a file's reference; a service names the learner by e-mail",
        "course_external_id": "a file's reference; a service names the course by slug",
    },
}
TABLES: dict[str, tuple[EntitySpec, list[tuple[str, Any, str]]]] = {
    "users": (USER, USER_BAD),
    "courses": (COURSE, COURSE_BAD),
    "lessons": (LESSON, LESSON_BAD),
    "enrollments": (ENROLLMENT, ENROLLMENT_BAD),
}


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


@pytest.fixture
def school(make: Any) -> dict[str, Any]:
    """An instructor, a learner and a course with a lesson, valid for every row but the bad cell."""
    teacher = make.user("instructor", email="teacher@x.org")
    learner = make.user("student", email="learner@x.org")
    course = make.course(slug="known-course", instructor=teacher, lessons=1, published=True)
    return {"teacher": teacher, "learner": learner, "course": course}


def _service_message(call: Callable[[], Any], field: str) -> str | None:
    try:
        call()
    except ErrorList as exc:
        found = [e.message for e in exc.errors if e.field == field]
        assert found, f"no error for {field}: {exc}"
        return found[0]
    except LmsError as exc:
        assert exc.field == field, f"error for {exc.field}, not {field}: {exc}"
        return exc.message
    return None


def _import_message(
    imp: Importer, entity: str, row: dict[str, str], field: str, *, mode: str = "add"
) -> str | None:
    """Import one row (``entity``: users, courses, lessons or enrollments) with ``dry_run``."""

    def csv(name: str, values: dict[str, str]) -> Path:
        def cell(value: str) -> str:
            return '"' + value.replace('"', '""') + '"'

        body = ",".join(values) + "\n" + ",".join(cell(v) for v in values.values()) + "\n"
        return imp.file(name, body)

    if entity == "lessons":
        courses_file = csv(
            "courses.csv",
            {"slug": "known-course", "title": "Course", "instructor_email": "teacher@x.org"},
        )
        lessons_file = csv("lessons.csv", row)
        report = imp("courses", courses_file, lessons=lessons_file, dry_run=True, mode=mode)
    else:
        report = imp(entity, csv(f"{entity}.csv", row), dry_run=True, mode=mode)
    found = [e.message for e in report.errors if e.column == field]
    assert found or not report.errors, [str(e) for e in report.errors]
    return found[0] if found else None


def _paths(
    session: Session, operator: Any, school: dict[str, Any], entity: str, field: str, value: Any
) -> tuple[Callable[[], Any], dict[str, str]]:
    """The service call with ``field`` set to ``value``, and the valid file row around it."""
    if entity == "users":
        given = {"email": "new@x.org", "full_name": "New Person", "role": "student", field: value}

        def call() -> Any:
            return users.create_user(session, actor=operator, data=UserCreate(**given))

        return call, {"email": "new@x.org", "full_name": "New Person", "role": "student"}
    if entity == "courses":
        base = {"slug": "new-course", "title": "New", "instructor_email": "teacher@x.org"}

        def call() -> Any:
            data = CourseCreate(**{**base, field: value})
            return courses.create_course(session, actor=operator, data=data)

        return call, base
    if entity == "lessons":
        base = {"course_slug": "known-course", "slug": "new-lesson", "title": "New"}

        def call() -> Any:
            given = {**base, field: value}
            course_slug = given.pop("course_slug")
            data = LessonCreate(**given)
            return lessons.add_lesson(session, actor=operator, course_slug=course_slug, data=data)

        return call, base
    base = {"user_email": "learner@x.org", "course_slug": "known-course", "status": "active"}

    def call() -> Any:
        given = {**base, field: value}
        if field == "status":
            return enrollments.list_enrollments(session, actor=operator, status=given["status"])
        return enrollments.enroll(
            session, actor=operator, email=given["user_email"], course_slug=given["course_slug"]
        )

    return call, base


CASES = [
    pytest.param(entity, field, value, cell, id=f"{entity}-{field}-{str(cell)[:20]}")
    for entity, (_, table) in TABLES.items()
    for field, value, cell in table
]


@pytest.mark.parametrize(("entity", "field", "value", "cell"), CASES)
def test_same_verdict_and_message_on_both_paths(
    session: Session,
    imp: Importer,
    operator: Any,
    school: dict[str, Any],
    entity: str,
    field: str,
    value: Any,
    cell: str,
) -> None:
    call, row = _paths(session, operator, school, entity, field, value)
    by_service = _service_message(call, field)
    by_import = _import_message(imp, entity, {**row, field: cell}, field)
    assert by_service is not None, f"the service accepted {field}={value!r}"
    assert by_service == by_import


@pytest.mark.parametrize("entity", list(TABLES))
def test_the_table_covers_every_imported_column(entity: str) -> None:
    spec, table = TABLES[entity]
    tested = {field for field, _, _ in table}
    covered = tested | set(NOT_A_SERVICE_FIELD.get(entity, {}))
    assert set(spec.columns) <= covered, set(spec.columns) - covered


CONTENT_MAX = LESSON["content"].max_length or 0


@pytest.mark.parametrize(
    "length",
    [CELL_LIMIT + 1, CONTENT_MAX, CONTENT_MAX + 1],
    ids=["over-the-csv-cell-cap", "the-longest-allowed", "one-too-long"],
)
def test_a_long_lesson_content_gets_one_verdict_from_a_service_and_a_csv(
    session: Session, imp: Importer, operator: Any, school: dict[str, Any], length: int
) -> None:
    """A CSV cell over the reader's 128 KB cap is read when its field allows it."""
    content = "c" * length
    call, row = _paths(session, operator, school, "lessons", "content", content)
    by_service = _service_message(call, "content")
    assert (by_service is None) is (length <= CONTENT_MAX)
    assert _import_message(imp, "lessons", {**row, "content": content}, "content") == by_service


def test_the_longest_xlsx_cell_imports_as_a_lesson_content(
    session: Session, imp: Importer, school: dict[str, Any]
) -> None:
    """An XLSX cell holds at most 32,767 characters (Excel's limit, which openpyxl enforces by
    cutting): far below the field's limit, so an XLSX import never refuses what a service
    takes. Longer content goes by CSV (an XLSX export refuses it rather than cut it)."""
    from openpyxl import Workbook

    content = "c" * XLSX_CELL_LIMIT
    book = Workbook()
    courses_sheet = book.active
    assert courses_sheet is not None
    courses_sheet.title = "courses"
    courses_sheet.append(["slug", "title", "instructor_email"])
    courses_sheet.append(["known-course", "Course", "teacher@x.org"])
    lessons_sheet = book.create_sheet("lessons")
    lessons_sheet.append(["course_slug", "slug", "title", "content"])
    lessons_sheet.append(["known-course", "long", "Long", content])
    path = imp.tmp / "courses.xlsx"
    book.save(path)
    report = imp("courses", path)
    assert not report.errors, [str(e) for e in report.errors]
    session.expire_all()
    lesson = next(x for x in school["course"].lessons if x.slug == "long")
    assert lesson.content == content


#: A field of each entity's valid row, to run that row unchanged through both paths.
CONTROL = {"users": "email", "courses": "slug", "lessons": "slug", "enrollments": "user_email"}


@pytest.mark.parametrize("entity", list(TABLES))
def test_the_rows_around_the_bad_cells_pass_both_paths(
    session: Session, imp: Importer, operator: Any, school: dict[str, Any], entity: str
) -> None:
    """The control: without a bad cell, both paths accept the row."""
    field = CONTROL[entity]
    _, row = _paths(session, operator, school, entity, field, None)
    call, _ = _paths(session, operator, school, entity, field, row[field])
    assert _service_message(call, field) is None
    assert _import_message(imp, entity, row, field) is None


@pytest.mark.parametrize(
    ("command", "spec", "own"),
    [
        (UserCreate, USER, set()),
        (UserUpdate, USER, set()),
        (CourseCreate, COURSE, set()),
        (CourseUpdate, COURSE, set()),
        (LessonCreate, LESSON, {"position"}),
        (LessonUpdate, LESSON, set()),
    ],
)
def test_commands_are_made_of_spec_fields(command: type, spec: EntitySpec, own: set[str]) -> None:
    """A typed command carries only spec fields (checked by the spec) and the service's own."""
    names = {f.name for f in dataclasses.fields(command)}
    assert names - own <= set(spec.by_name), names - own - set(spec.by_name)


#: Table rows not run through an update, and why. Keys: an import in mode="update" finds the
#: record by them, so a bad key names another (missing) record, not a bad new value; an update
#: service takes the key apart (``email=``, ``slug=``, ``course_slug=``) and its own ``email``/
#: ``slug`` field renames, which an import row cannot say. ``role`` is updated through
#: ``users.set_role`` below (not a ``UserUpdate`` field). Enrollments have no update service
#: taking field values (drop, re-enroll and complete are actions).
NOT_UPDATED = {
    "users": {
        "email": "the record's key",
        "is_active": "no value-taking service: deactivate_user/reactivate_user",
    },
    "courses": {"slug": "the record's key"},
    "lessons": {"course_slug": "the record's key", "slug": "the record's key"},
}

UPDATE_CASES = [
    pytest.param(entity, field, value, cell, id=f"{entity}-{field}-{str(cell)[:20]}")
    for entity, (_, table) in TABLES.items()
    if entity in NOT_UPDATED
    for field, value, cell in table
    if field not in NOT_UPDATED[entity]
]


def _update_paths(
    session: Session, operator: Any, entity: str, field: str, value: Any
) -> tuple[Callable[[], Any], dict[str, str]]:
    """The update service call changing ``field`` of an existing record to ``value``, and the
    file row naming the same record (by its key) with the same change."""
    if entity == "users":

        def call() -> Any:
            if field == "role":
                return users.set_role(session, actor=operator, email="learner@x.org", role=value)
            data = UserUpdate(**{field: value})
            return users.update_user(session, actor=operator, email="learner@x.org", data=data)

        return call, {"email": "learner@x.org", "full_name": "Learner", "role": "student"}
    if entity == "courses":

        def call() -> Any:
            data = CourseUpdate(**{field: value})
            return courses.update_course(session, actor=operator, slug="known-course", data=data)

        return call, {"slug": "known-course", "title": "Known", "instructor_email": "teacher@x.org"}
    assert entity == "lessons"

    def call() -> Any:
        data = LessonUpdate(**{field: value})
        return lessons.update_lesson(
            session, actor=operator, course_slug="known-course", slug=LESSON_SLUG, data=data
        )

    return call, {"course_slug": "known-course", "slug": LESSON_SLUG, "title": "Known lesson"}


LESSON_SLUG = "lesson-1"  # the school course's one lesson (``make.course(lessons=1)``)


@pytest.mark.parametrize(("entity", "field", "value", "cell"), UPDATE_CASES)
def test_same_verdict_and_message_when_updating_an_existing_record(
    session: Session,
    imp: Importer,
    operator: Any,
    school: dict[str, Any],
    entity: str,
    field: str,
    value: Any,
    cell: str,
) -> None:
    call, row = _update_paths(session, operator, entity, field, value)
    by_service = _service_message(call, field)
    by_import = _import_message(imp, entity, {**row, field: cell}, field, mode="update")
    assert by_service is not None, f"the update service accepted {field}={value!r}"
    assert by_service == by_import


#: (entity, field, a value with spaces around it, what both paths store). The field spec
#: trims; an import used to refuse what ``users create`` took (``"ann@x.org "``).
WHITESPACE = [
    ("users", "email", " new@x.org", "new@x.org"),
    ("users", "email", "new@x.org ", "new@x.org"),
    ("users", "email", "\tNew@X.org  ", "new@x.org"),
    ("users", "email", "\u00a0new@x.org", "new@x.org"),
    ("users", "email", "new@x.org\u00a0", "new@x.org"),
    ("users", "email", "\u200bnew@x.org\ufeff", "new@x.org"),
    ("users", "email", " zoë@exämple.org ", "zoë@exämple.org"),
    ("users", "full_name", "  New Person  ", "New Person"),
    ("users", "full_name", "\u00a0New Person", "New Person"),
    ("users", "external_id", " S-9 ", "S-9"),
    # Balanced bidirectional controls and one-script IDNs are legitimate (issue 11).
    ("users", "full_name", *["\u2067\u05e9\u05dc\u05d5\u05dd\u2069 Ann"] * 2),
    ("users", "full_name", *["\u202bAnn\u202c \u200fLee"] * 2),
    ("users", "email", *["new@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"] * 2),
    ("courses", "slug", " new-course ", "new-course"),
    ("courses", "title", " New ", "New"),
    ("courses", "instructor_email", " teacher@x.org\u00a0", None),
]


def _import_after(imp: Importer, entity: str, row: dict[str, str]) -> dict[str, Any]:
    """The values a dry-run import of one row would create (its one ``create`` change)."""
    cells = ['"' + v.replace('"', '""') + '"' for v in row.values()]
    path = imp.file(f"{entity}.csv", ",".join(row) + "\n" + ",".join(cells) + "\n")
    report = imp(entity, path, dry_run=True, mode="add")
    assert not report.errors, [str(e) for e in report.errors]
    [change] = [c for c in report.changes_list if c["action"] == "create"]  # type: ignore[attr-defined]
    return dict(change["after"])


@pytest.mark.parametrize(
    ("entity", "field", "given", "stored"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[2]!r}") for case in WHITESPACE],
)
def test_surrounding_whitespace_is_one_rule_on_both_paths(
    session: Session,
    imp: Importer,
    operator: Any,
    school: dict[str, Any],
    entity: str,
    field: str,
    given: str,
    stored: str | None,
) -> None:
    call, row = _paths(session, operator, school, entity, field, given)
    after = _import_after(imp, entity, {**row, field: given})  # a dry run: writes nothing
    created = call()
    record = created[0] if isinstance(created, tuple) else created
    if stored is None:  # a reference: found on both paths
        return
    assert after[field] == stored
    assert getattr(record, field) == stored
