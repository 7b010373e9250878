"""What an import says: every problem with its value, by line, a repeated one once; unknown
columns warned about; a file without rows refused; no plan table above a refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy.orm import Session

from lms_core.formats.table import NO_ROWS
from tests.cli.helpers import db_state, no_traceback, ok, ok_json


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _refused_json(result: Any) -> dict[str, Any]:
    assert result.exit_code == 1, (result.exit_code, result.output)
    no_traceback(result)
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["errors"], data
    return data


def _unchanged_but_the_ledger(before: dict[str, Any], session: Session) -> None:
    after = db_state(session)
    after.pop("import_runs"), before.pop("import_runs")
    assert after == before


# --- a file without rows ---------------------------------------------------------------------

HEADERS = {
    "users": "external_id,email,full_name,role\n",
    "courses": "slug,title,instructor_email\n",
    "enrollments": "user_email,course_slug\n",
}


def _xlsx(path: Path, *rows: list[Any]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize("entity", list(HEADERS))
@pytest.mark.parametrize("content", ["empty", "blank-lines", "header-only", "xlsx-header-only"])
def test_an_empty_and_a_header_only_file_are_both_refused_with_no_rows(
    cli: Any, session: Session, tmp_path: Path, entity: str, content: str
) -> None:
    if content == "xlsx-header-only":
        path = _xlsx(tmp_path / f"{entity}.xlsx", HEADERS[entity].strip().split(","))
    else:
        text = {"empty": "", "blank-lines": "\n\n", "header-only": HEADERS[entity]}[content]
        path = _file(tmp_path, f"{entity}.csv", text)
    before = db_state(session)
    data = _refused_json(cli("import", entity, str(path), "--json"))
    assert data["errors"] == [
        {"file": path.name, "line": None, "column": None, "value": None, "message": NO_ROWS}
    ]
    assert data["changes"] == [] and data["run_id"] is None
    _unchanged_but_the_ledger(before, session)

    text = cli("import", entity, str(path))
    assert text.exit_code == 1
    assert f"error: {path.name}: {NO_ROWS}" in text.stderr
    assert "no rows" in NO_ROWS


def test_an_empty_xlsx_sheet_says_no_rows_too(cli: Any, tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "users.xlsx")
    data = _refused_json(cli("import", "users", str(path), "--json"))
    assert [e["message"] for e in data["errors"]] == [NO_ROWS]


def test_a_courses_file_without_rows_and_lessons_with_rows_is_no_empty_import(
    cli: Any, make: Any, tmp_path: Path
) -> None:
    """Rows in any file of the run count: lessons for courses already in the database."""
    teacher = make.user("instructor", email="t@x.org")
    make.course(slug="known", instructor=teacher, lessons=1)
    courses = _file(tmp_path, "courses.csv", HEADERS["courses"])
    lessons = _file(tmp_path, "lessons.csv", "course_slug,slug,title\nknown,extra,Extra\n")
    data = ok_json(cli("import", "courses", str(courses), "--lessons", str(lessons), "--json"))
    assert data["counts"]["lessons"]["create"] == 1


# --- unknown columns -------------------------------------------------------------------------


def test_unknown_columns_warn_with_the_nearest_known_column(
    cli: Any, session: Session, tmp_path: Path
) -> None:
    path = _file(
        tmp_path,
        "staff.csv",
        "external_id,email,fullname,role,start_date\nS-1,ann@x.org,Ann,student,2024-09-01\n",
    )
    result = cli("import", "users", str(path), "--dry-run")
    # ``fullname`` is not full_name: the required column is missing, which refuses the file,
    # saying which column was meant.
    assert result.exit_code == 1
    assert result.stderr.endswith(
        'the required column "full_name" is missing from the header row (nor another name '
        'for it: name); if "fullname" is it, name that column "full_name"\n'
    )
    path = _file(tmp_path, "staff.csv", "email,full_name,rol\nann@x.org,Ann,student\n")
    result = cli("import", "users", str(path), "--dry-run")
    assert 'if "rol" is it, name that column "role"' in result.stderr
    path = _file(tmp_path, "staff.csv", "email,full_name,role,fullname\nann@x.org,A,student,A\n")
    result = cli("import", "users", str(path), "--dry-run")
    assert result.exit_code == 0
    assert (
        "warning: staff.csv, line 1, column fullname: is not a column of a users file, so it is "
        "ignored (its columns are external_id, email, full_name, role, password, is_active)"
    ) in result.stderr


def test_unknown_columns_warn_but_do_not_refuse(cli: Any, session: Session, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "staff.csv",
        "external_id,email,full_name,role,start_date,is_activ\n"
        "S-1,ann@x.org,Ann,student,2024-09-01,yes\n",
    )
    data = ok_json(cli("import", "users", str(path), "--json"))
    assert data["counts"]["create"] == 1 and data["errors"] == []
    assert [(w["file"], w["line"], w["column"], w["value"]) for w in data["warnings"]] == [
        ("staff.csv", 1, "start_date", "start_date"),
        ("staff.csv", 1, "is_activ", "is_activ"),
    ]
    for warning in data["warnings"]:
        assert set(warning) == {"file", "line", "column", "value", "message"}
    assert "is ignored (its columns are external_id, email," in data["warnings"][0]["message"]
    assert data["warnings"][1]["message"].endswith('did you mean "is_active"?')

    again = path.read_text().replace("S-1,ann@", "S-2,bob@")
    text = ok(cli("import", "users", str(_file(tmp_path, "b.csv", again))))
    assert "warning: b.csv, line 1, column start_date: is not a column" in text.stderr
    assert "applied as import run" in text.stdout


def test_an_errors_file_imports_without_a_warning_for_its_error_column(
    cli: Any, tmp_path: Path
) -> None:
    path = _file(tmp_path, "e.csv", "email,full_name,role,error\nann@x.org,Ann,student,\n")
    data = ok_json(cli("import", "users", str(path), "--json"))
    assert data["warnings"] == []


def test_warnings_of_a_lessons_file_and_a_header_below_blank_rows(cli: Any, tmp_path: Path) -> None:
    courses = _xlsx(
        tmp_path / "courses.xlsx",
        [],
        [],
        ["slug", "title", "instructor_email", "difficulty"],
        ["c-1", "C", "t@x.org", "easy"],
    )
    data = _refused_json(cli("import", "courses", str(courses), "--json", "--dry-run"))
    assert [(w["line"], w["column"]) for w in data["warnings"]] == [(3, "difficulty")]
    assert data["warnings"][0]["message"].endswith('did you mean "difficulty_level"?')


# --- errors: the value, by line, repeats grouped ---------------------------------------------


def test_refused_text_shows_values_sorted_by_line_and_groups_repeats(
    cli: Any, session: Session, make: Any, tmp_path: Path
) -> None:
    rows = ["user_email,course_slug,status"]
    for line in range(2, 30):
        make.user("student", email=f"u{line}@x.org")
        # Even lines: no such course (found when planning, after the cells of the chunk);
        # odd lines: a bad cell (found first).
        status = "active" if line % 2 == 0 else "paused"
        rows.append(f"u{line}@x.org,data-structures,{status}")
    path = _file(tmp_path, "term.csv", "\n".join(rows) + "\n")
    before = db_state(session)
    result = cli("import", "enrollments", str(path))
    assert result.exit_code == 1
    no_traceback(result)
    _unchanged_but_the_ledger(before, session)
    assert result.stdout.strip() == "refused: 28 problem(s); nothing was written"
    lines = result.stderr.strip().splitlines()
    assert lines == [
        'error: term.csv, column course_slug: "data-structures": no course with this value in '
        "the file or the database, lines 2, 4, 6, 8, 10, ... (14)",
        'error: term.csv, column status: "paused": must be one of active, completed, dropped, '
        "lines 3, 5, 7, 9, 11, ... (14)",
    ]

    # --json: one object per problem, sorted by line (cells and references interleaved).
    data = _refused_json(cli("import", "enrollments", str(path), "--json"))
    assert [e["line"] for e in data["errors"]] == list(range(2, 30))
    assert [e["value"] for e in data["errors"][:2]] == ["data-structures", "paused"]


def test_a_single_problem_shows_its_value_and_line(cli: Any, tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "u.csv",
        "email,full_name,role\nann@x.org,Ann,student\nbo@x.org,Bo,teacher\nbad,,student\n",
    )
    result = cli("import", "users", str(path))
    assert result.stderr.strip().splitlines() == [
        'error: u.csv, line 3, column role: "teacher": must be one of admin, instructor, student',
        'error: u.csv, line 4, column email: "bad": is not a valid e-mail address (An email '
        "address must have an @-sign.)",
        "error: u.csv, line 4, column full_name: is required",
    ]


def test_a_refused_import_prints_no_plan_table(cli: Any, tmp_path: Path) -> None:
    path = _file(tmp_path, "u.csv", "email,full_name,role\nann@x.org,Ann,teacher\n")
    for args in ([], ["--dry-run"]):
        result = cli("import", "users", str(path), *args)
        assert result.exit_code == 1
        assert result.stdout == "refused: 1 problem(s); nothing was written\n", result.stdout
        for word in ("import plan", "create", "records", "unchanged"):
            assert word not in result.stdout
