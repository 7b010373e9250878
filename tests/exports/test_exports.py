"""Exports: the import columns, no secrets, the actor's scope, formula-safe, atomic files."""

from __future__ import annotations

import csv
import gc
import io
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from lms_core.accounts import users
from lms_core.actor import Actor
from lms_core.catalog import enrollments
from lms_core.errors import NotFound, PermissionDenied, ValidationError
from lms_core.exports import entities
from lms_core.exports.entities import EXPORT_USER_COLUMNS, export
from lms_core.formats.sources import open_table
from lms_core.formats.table import XLSX_CELL_LIMIT
from lms_core.formats.tabular import Sheet, write_csv, write_xlsx
from lms_core.imports.columns import (
    COURSE_COLUMNS,
    ENROLLMENT_COLUMNS,
    LESSON_COLUMNS,
    LONG_CELLS,
    SPECS,
)
from tests.helpers import as_

#: Names a spreadsheet would run as formulas (users' names are stripped, so no tab or CR here).
INJECTIONS = ['=HYPERLINK("http://x")', "@SUM(A1)", "+1 555", "-2"]


def csv_export(session: Session, actor: Actor, entity: str, **kw: Any) -> list[list[str]]:
    out = io.StringIO(newline="")
    export(session, actor=actor, entity=entity, fmt="csv", out=out, **kw)
    return list(csv.reader(io.StringIO(out.getvalue(), newline="")))


def sheet_rows(path: Path, name: str) -> list[tuple[Any, ...]]:
    return list(load_workbook(path)[name].iter_rows(values_only=True))


# --- users --------------------------------------------------------------------------------------


def test_users_csv_has_the_import_columns_and_never_a_password(session, make, operator):
    make.user("instructor", email="grace@example.org", name="Grace Hopper", external_id="007")
    make.user(email="ada@example.org", name="Ada Lovelace")

    rows = csv_export(session, operator, "users")

    assert (
        rows[0]
        == list(EXPORT_USER_COLUMNS)
        == ["external_id", "email", "full_name", "role", "is_active"]
    )
    assert rows[1:] == [
        ["", "ada@example.org", "Ada Lovelace", "student", "true"],
        ["007", "grace@example.org", "Grace Hopper", "instructor", "true"],
    ]
    assert "argon2" not in str(rows)


def test_users_filters_role_and_inactive_and_leaves_deleted_out(session, make, operator):
    make.user(email="a@example.org")
    make.user(email="b@example.org")
    make.user(email="c@example.org")
    make.user("instructor", email="t@example.org")
    users.deactivate_user(session, actor=operator, email="b@example.org")
    users.delete_user(session, actor=operator, email="c@example.org")

    emails = lambda rows: [r[1] for r in rows[1:]]  # noqa: E731
    assert emails(csv_export(session, operator, "users")) == ["a@example.org", "t@example.org"]
    every = csv_export(session, operator, "users", include_inactive=True)
    assert emails(every) == ["a@example.org", "b@example.org", "t@example.org"]
    assert every[2][4] == "false"
    assert emails(csv_export(session, operator, "users", role="Instructor")) == ["t@example.org"]


def test_unknown_role_is_refused(session, operator):
    with pytest.raises(ValidationError) as err:
        csv_export(session, operator, "users", role="teacher")
    assert err.value.field == "role"


def test_only_admins_export_users(session, make, tmp_path):
    teacher = make.user("instructor")
    out = tmp_path / "users.csv"
    for who in (teacher, make.user("student")):
        with pytest.raises(PermissionDenied, match="only an administrator may export users"):
            export(session, actor=as_(who), entity="users", fmt="csv", out=out)
    assert not list(tmp_path.iterdir()), "no file, not even an empty one"
    admin = make.user("admin")
    export(session, actor=as_(admin), entity="users", fmt="csv", out=out)
    assert out.exists()


# --- formula injection ---------------------------------------------------------------------------


def test_csv_cells_that_would_be_formulas_are_neutralised(session, make, operator):
    for i, name in enumerate(INJECTIONS):
        make.user(email=f"u{i}@example.org", name=name)
    names = [r[2] for r in csv_export(session, operator, "users")[1:]]
    assert names == ["'" + n for n in INJECTIONS]


def test_xlsx_cells_that_would_be_formulas_are_text(session, make, operator, tmp_path):
    for i, name in enumerate(INJECTIONS):
        make.user(email=f"u{i}@example.org", name=name)
    path = tmp_path / "users.xlsx"
    export(session, actor=operator, entity="users", fmt="xlsx", out=path)

    ws = load_workbook(path)["users"]
    cells = [ws.cell(row=r, column=3) for r in range(2, ws.max_row + 1)]
    assert [c.value for c in cells] == ["'" + n for n in INJECTIONS]
    assert {c.data_type for c in cells} == {"s"}, "no formula cells"


def test_tab_and_carriage_return_are_neutralised_too(tmp_path):
    sheet = Sheet("x", ("a", "b"), [("\tcmd", "\r=1+1")])
    out = io.StringIO(newline="")
    write_csv(out, sheet)
    assert list(csv.reader(io.StringIO(out.getvalue(), newline="")))[1] == ["'\tcmd", "'\r=1+1"]
    path = tmp_path / "x.xlsx"
    write_xlsx(path, [Sheet("x", ("a", "b"), [("\tcmd", "=1+1")])])
    row = next(load_workbook(path)["x"].iter_rows(min_row=2))
    assert [(c.value, c.data_type) for c in row] == [("'\tcmd", "s"), ("'=1+1", "s")]


# --- XLSX formatting ------------------------------------------------------------------------------


def test_xlsx_keeps_leading_zeros_as_text(session, make, operator, tmp_path):
    make.user(email="z@example.org", external_id="000123")
    make.user(email="y@example.org")
    path = tmp_path / "users.xlsx"
    result = export(session, actor=operator, entity="users", fmt="xlsx", out=path)

    assert result.as_dict() == {
        "entity": "users",
        "format": "xlsx",
        "file": str(path),
        "files": [str(path)],
        "rows": 2,
        "sheets": {"users": 2},
    }
    ws = load_workbook(path)["users"]
    assert ws.freeze_panes == "A2"
    assert ws["A1"].font.bold
    assert ws.column_dimensions["A"].number_format == "@"
    assert ws["A2"].value is None  # y@ has no external_id: an empty cell, not "None"
    assert (ws["A3"].value, ws["A3"].data_type, ws["A3"].number_format) == ("000123", "s", "@")
    assert ws["E3"].value is True


# --- courses, lessons ---------------------------------------------------------------------------


def test_courses_xlsx_has_a_lessons_sheet_in_order(session, make, operator, tmp_path):
    teacher = make.user("instructor", email="grace@example.org")
    make.course(slug="b-course", instructor=teacher, lessons=3, external_id="0042")
    make.course(slug="a-course", instructor=teacher, lessons=1, published=True)
    path = tmp_path / "courses.xlsx"

    result = export(session, actor=operator, entity="courses", fmt="xlsx", out=path)

    assert result.rows == {"courses": 2, "lessons": 4}
    courses = sheet_rows(path, "courses")
    assert courses[0] == COURSE_COLUMNS
    first = dict(zip(COURSE_COLUMNS, courses[1], strict=True))
    assert (first["slug"], first["instructor_email"], first["is_published"]) == (
        "a-course",
        "grace@example.org",
        True,
    )
    assert courses[2][0] == "0042"
    lessons = sheet_rows(path, "lessons")
    assert lessons[0] == LESSON_COLUMNS
    assert [(r[0], r[1], r[4]) for r in lessons[1:]] == [
        ("a-course", "lesson-1", 1),
        ("b-course", "lesson-1", 1),
        ("b-course", "lesson-2", 2),
        ("b-course", "lesson-3", 3),
    ]


def test_courses_csv_writes_lessons_to_their_own_file(session, make, operator, tmp_path):
    make.course(slug="intro", lessons=2)
    out, lessons_out = tmp_path / "courses.csv", tmp_path / "lessons.csv"
    result = export(
        session, actor=operator, entity="courses", fmt="csv", out=out, lessons_out=lessons_out
    )
    assert result.rows == {"courses": 1, "lessons": 2}
    assert result.files == [str(out), str(lessons_out)]
    lessons = list(csv.reader(lessons_out.read_text(encoding="utf-8-sig").splitlines()))
    assert lessons[0] == list(LESSON_COLUMNS)
    assert [r[:2] for r in lessons[1:]] == [["intro", "lesson-1"], ["intro", "lesson-2"]]
    assert lessons[1][8:] == ["false", "true"]  # is_preview, is_required


def test_a_content_longer_than_an_xlsx_cell_is_refused_in_xlsx_and_whole_in_csv(
    session, make, operator, tmp_path
):
    """openpyxl would cut it at 32,767 characters, and the cut text would come back on import."""
    longer = [
        (spec.name, f.name)
        for spec in SPECS.values()
        for f in spec.imported()
        if f.exported and (f.max_length or 0) > XLSX_CELL_LIMIT
    ]
    assert longer == [("lesson", "content")]  # the one the XLSX export checks
    course = make.course(slug="long", lessons=2)
    content = "x" * 200_000  # over the CSV reader's 128 KB cell cap as well
    course.lessons[1].content = content
    session.flush()
    path = tmp_path / "courses.xlsx"
    with pytest.raises(ValidationError) as err:
        export(session, actor=operator, entity="courses", fmt="xlsx", out=path)
    assert err.value.field == "format"
    assert "lesson lesson-2 of course long: its content is 200,000 characters" in str(
        err.value.message
    )
    assert not path.exists()
    make.course(slug="short", lessons=1)
    export(session, actor=operator, entity="courses", fmt="xlsx", out=path, course_slug="short")
    assert path.exists()

    out, lessons_out = tmp_path / "courses.csv", tmp_path / "lessons.csv"
    export(session, actor=operator, entity="courses", fmt="csv", out=out, lessons_out=lessons_out)
    with open_table(lessons_out, known=LESSON_COLUMNS, long_cells=LONG_CELLS) as table:
        assert [row.values["content"] for row in table.rows][1] == content


def test_lessons_out_only_with_a_courses_csv(session, operator, tmp_path):
    with pytest.raises(ValidationError) as err:
        export(
            session,
            actor=operator,
            entity="users",
            fmt="csv",
            out=tmp_path / "u.csv",
            lessons_out=tmp_path / "l.csv",
        )
    assert err.value.field == "lessons_out"


def test_instructors_export_their_own_courses_students_none(session, make, tmp_path):
    mine, theirs = make.user("instructor"), make.user("instructor")
    make.course(slug="mine", instructor=mine)
    make.course(slug="theirs", instructor=theirs, published=True, lessons=1)

    rows = csv_export(session, as_(mine), "courses")
    assert [r[1] for r in rows[1:]] == ["mine"]
    with pytest.raises(PermissionDenied):
        csv_export(session, as_(mine), "courses", course_slug="theirs")
    with pytest.raises(PermissionDenied):
        csv_export(session, as_(make.user("student")), "courses")
    with pytest.raises(NotFound):
        csv_export(session, as_(mine), "courses", course_slug="nope")


# --- enrollments --------------------------------------------------------------------------------


def test_enrollments_by_email_and_external_id_dropped_on_request(session, make, operator):
    course = make.course(slug="intro", published=True, lessons=1, external_id="0042")
    other = make.course(slug="other", published=True, lessons=1)
    ada = make.user(email="ada@example.org", external_id="000123")
    bo = make.user(email="bo@example.org")
    make.enroll(ada, course)
    make.enroll(bo, course)
    make.enroll(ada, other)
    enrollments.drop(session, actor=operator, email="bo@example.org", course_slug="intro")

    rows = csv_export(session, operator, "enrollments")
    assert rows == [
        list(ENROLLMENT_COLUMNS),
        ["ada@example.org", "000123", "intro", "0042", "active"],
        ["ada@example.org", "000123", "other", "", "active"],
    ]
    every = csv_export(session, operator, "enrollments", include_inactive=True, course_slug="intro")
    assert [r[0] + " " + r[4] for r in every[1:]] == [
        "ada@example.org active",
        "bo@example.org dropped",
    ]


def test_enrollments_of_an_instructor_are_their_courses(session, make):
    teacher = make.user("instructor")
    mine = make.course(slug="mine", instructor=teacher, published=True, lessons=1)
    make.enroll(course=mine)
    make.enroll()  # another instructor's course
    rows = csv_export(session, as_(teacher), "enrollments")
    assert [r[2] for r in rows[1:]] == ["mine"]


# --- files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_failed_export_leaves_the_previous_file(
    session, make, operator, tmp_path, monkeypatch, fmt
):
    """A real export whose rows stop coming half-way (the database went away): the file it was
    replacing is untouched and no temporary file is left in the folder. For XLSX also none of
    openpyxl's own sheet files, and nothing raised later when the sheets are collected."""
    from openpyxl.worksheet import _writer as openpyxl_writer

    late_errors: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", late_errors.append)
    sheet_files_before = set(openpyxl_writer.ALL_TEMP_FILES)
    for i in range(5):
        make.user(email=f"user{i}@example.org")
    path = tmp_path / f"users.{fmt}"
    path.write_bytes(b"previous\n")
    real_stream = entities._stream
    served = []

    def failing_stream(session, stmt):
        for row in real_stream(session, stmt):
            if len(served) == 3:
                raise RuntimeError("database went away")
            served.append(row)
            yield row

    monkeypatch.setattr(entities, "_stream", failing_stream)
    with pytest.raises(RuntimeError, match="database went away"):
        export(session, actor=operator, entity="users", fmt=fmt, out=path)
    assert len(served) == 3  # the writer had rows in hand when it failed
    assert path.read_bytes() == b"previous\n"
    assert [p.name for p in tmp_path.iterdir()] == [f"users.{fmt}"]
    assert not list(tmp_path.glob(".*.tmp"))
    gc.collect()
    assert late_errors == []
    new_sheet_files = set(openpyxl_writer.ALL_TEMP_FILES) - sheet_files_before
    assert not [f for f in new_sheet_files if os.path.exists(f)]
