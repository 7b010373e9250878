"""Import templates: the importer's columns, one example row, Excel-proof XLSX formatting."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from lms_core.errors import ValidationError
from lms_core.exports.templates import EXAMPLES, write_template
from lms_core.imports.columns import COLUMNS, IDENTIFIER_COLUMNS

ENTITIES = ["users", "courses", "lessons", "enrollments"]


@pytest.mark.parametrize("entity", ENTITIES)
def test_csv_template_is_the_header_and_one_example_row(entity: str, tmp_path: Path) -> None:
    path = tmp_path / f"{entity}.csv"
    write_template(entity, "csv", path)

    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, so Excel shows accents"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(COLUMNS[entity])
    assert len(rows) == 2
    example = dict(zip(rows[0], rows[1], strict=True))
    for column in IDENTIFIER_COLUMNS & set(example):
        assert example[column].startswith("0"), "the example shows a leading-zero ID"


def test_csv_users_template_values(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    write_template("users", "csv", path)
    header, row = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert dict(zip(header, row, strict=True)) == {
        "external_id": "000123",
        "email": "lucia.fernandez@example.org",
        "full_name": "Lucía Fernández",
        "role": "student",
        "password": "",
        "is_active": "true",
    }


def test_csv_template_to_a_binary_stream_leaves_it_open() -> None:
    out = io.BytesIO()
    write_template("enrollments", "csv", out)
    assert not out.closed
    assert not out.getvalue().startswith(b"\xef\xbb\xbf"), "no BOM on a stream (pipes)"
    assert out.getvalue().decode("utf-8-sig").splitlines()[0] == ",".join(COLUMNS["enrollments"])


@pytest.mark.parametrize("entity", ["users", "lessons", "enrollments"])
def test_xlsx_template_header_bold_frozen_ids_as_text(entity: str, tmp_path: Path) -> None:
    path = tmp_path / f"{entity}.xlsx"
    write_template(entity, "xlsx", path)

    book = load_workbook(path)
    assert book.sheetnames == [entity]
    ws = book[entity]
    assert [c.value for c in ws[1]] == list(COLUMNS[entity])
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.max_row == 2
    for i, column in enumerate(COLUMNS[entity], start=1):
        cell = ws.cell(row=2, column=i)
        letter = cell.column_letter
        assert ws.column_dimensions[letter].width >= len(column)
        if column in IDENTIFIER_COLUMNS:
            assert cell.data_type == "s"
            assert cell.value == EXAMPLES[entity][column]
            assert cell.number_format == "@"
            assert ws.column_dimensions[letter].number_format == "@", "new rows stay text"


def test_xlsx_courses_template_has_courses_and_lessons_sheets(tmp_path: Path) -> None:
    path = tmp_path / "courses.xlsx"
    write_template("courses", "xlsx", path)

    book = load_workbook(path)
    assert book.sheetnames == ["courses", "lessons"]
    courses = list(book["courses"].iter_rows(values_only=True))
    lessons = list(book["lessons"].iter_rows(values_only=True))
    assert courses[0] == COLUMNS["courses"]
    assert lessons[0] == COLUMNS["lessons"]
    course = dict(zip(courses[0], courses[1], strict=True))
    lesson = dict(zip(lessons[0], lessons[1], strict=True))
    assert course["external_id"] == "0042"
    assert course["is_published"] is False
    assert course["estimated_duration_minutes"] == 90
    assert lesson["course_slug"] == course["slug"]
    assert lesson["order_index"] == 1


def test_xlsx_template_offers_the_allowed_roles(tmp_path: Path) -> None:
    path = tmp_path / "users.xlsx"
    write_template("users", "xlsx", path)
    ws = load_workbook(path)["users"]
    (validation,) = ws.data_validations.dataValidation
    assert validation.formula1 == '"admin,instructor,student"'
    assert str(validation.sqref).startswith("D2:")


def test_examples_refer_to_each_other() -> None:
    assert EXAMPLES["enrollments"]["user_email"] == EXAMPLES["users"]["email"]
    assert EXAMPLES["enrollments"]["user_external_id"] == EXAMPLES["users"]["external_id"]
    assert EXAMPLES["enrollments"]["course_slug"] == EXAMPLES["courses"]["slug"]
    assert EXAMPLES["enrollments"]["course_external_id"] == EXAMPLES["courses"]["external_id"]
    assert EXAMPLES["lessons"]["course_slug"] == EXAMPLES["courses"]["slug"]
    for entity, example in EXAMPLES.items():
        assert tuple(example) == COLUMNS[entity]


@pytest.mark.parametrize(
    ("entity", "fmt", "field"),
    [("grades", "csv", "entity"), ("users", "ods", "format")],
)
def test_unknown_entity_or_format_is_refused(
    entity: str, fmt: str, field: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError) as err:
        write_template(entity, fmt, tmp_path / "x")
    assert err.value.field == field
    assert not list(tmp_path.iterdir())
