"""lmsctl export: CSV to standard output or a file, XLSX to a file, a summary with --json."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert

from lms_core.models import User
from tests.cli.helpers import ok, ok_json, refused, refused_json, usage_error
from tests.integration.conftest import lmsctl_env


@pytest.fixture
def school(make):
    teacher = make.user("instructor", email="grace@example.org", name="Grace Hopper")
    course = make.course(slug="intro", instructor=teacher, lessons=2, published=True)
    make.enroll(
        make.user(email="ada@example.org", name="Ada Lovelace", external_id="000123"), course
    )
    make.user(email="evil@example.org", name='=HYPERLINK("http://x")')
    return course


def test_users_csv_to_standard_output(cli, school):
    result = ok(cli("export", "users"))
    assert not result.stdout.startswith("\ufeff"), "no BOM for pipes"
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows == [
        ["external_id", "email", "full_name", "role", "is_active"],
        ["000123", "ada@example.org", "Ada Lovelace", "student", "true"],
        ["", "evil@example.org", '\'=HYPERLINK("http://x")', "student", "true"],
        ["", "grace@example.org", "Grace Hopper", "instructor", "true"],
    ]
    assert result.stderr == ""


def test_users_xlsx_from_the_suffix_with_a_json_summary(cli, school, tmp_path):
    out = tmp_path / "users.xlsx"
    data = ok_json(cli("export", "users", "-o", str(out), "--role", "student", "--json"))
    assert data == {
        "entity": "users",
        "format": "xlsx",
        "file": str(out),
        "files": [str(out)],
        "rows": 2,
        "sheets": {"users": 2},
    }
    ws = load_workbook(out)["users"]
    assert [c.value for c in ws[1]] == ["external_id", "email", "full_name", "role", "is_active"]
    assert ws["A2"].value == "000123"
    assert (ws["C3"].value, ws["C3"].data_type) == ('\'=HYPERLINK("http://x")', "s")


def test_courses_csv_with_lessons_out(cli, school, tmp_path):
    out, lessons = tmp_path / "courses.csv", tmp_path / "lessons.csv"
    result = ok(cli("export", "courses", "-o", str(out), "--lessons-out", str(lessons)))
    assert result.stdout.strip() == f"wrote 1 courses, 2 lessons to {out}, {lessons}"
    assert out.read_text(encoding="utf-8-sig").splitlines()[1].split(",")[1] == "intro"
    assert len(lessons.read_text(encoding="utf-8-sig").splitlines()) == 3


def test_enrollments_of_one_course(cli, school, tmp_path):
    out = tmp_path / "e.csv"
    ok(cli("export", "enrollments", "--course", "intro", "--format", "csv", "-o", str(out)))
    assert out.read_text(encoding="utf-8-sig").splitlines() == [
        "user_email,user_external_id,course_slug,course_external_id,status",
        "ada@example.org,000123,intro,,active",
    ]


def test_xlsx_needs_a_file_and_json_needs_one_too(cli):
    usage_error(cli("export", "users", "--format", "xlsx"), "XLSX needs a file")
    result = cli("export", "users", "--json")  # the error is JSON, on standard output
    assert result.exit_code == 2 and "--json needs -o FILE" in result.stdout
    usage_error(cli("export", "users", "--format", "ods", "-o", "x.ods"), "must be csv or xlsx")


def test_only_admins_export_users(cli, school, tmp_path):
    out = tmp_path / "users.csv"
    refused(
        cli("export", "users", "-o", str(out), as_="grace@example.org"),
        "as",
        contains="only an administrator may export users",
    )
    assert not out.exists()


def test_bad_filters_are_refused(cli, school, tmp_path):
    refused_json(
        cli("export", "users", "--role", "teacher", "-o", str(tmp_path / "u.csv"), "--json"),
        "role",
    )
    refused(cli("export", "enrollments", "--course", "nope"), "course_slug", contains="no course")
    refused(
        cli(
            "export",
            "courses",
            "--lessons-out",
            str(tmp_path / "l.csv"),
            "-o",
            str(tmp_path / "c.xlsx"),
        ),
        "lessons_out",
    )
    assert not list(tmp_path.iterdir())


@pytest.mark.scratch
def test_an_export_imports_again_with_no_change(scratch, tmp_path):
    """The promise of the export: edit it, import it, and an unedited file changes nothing."""
    ok(scratch("db", "upgrade"))
    ok(
        scratch(
            "users", "create", "grace@example.org", "--name", "Grace Hopper", "--role", "instructor"
        )
    )
    ok(
        scratch(
            "users",
            "create",
            "ada@example.org",
            "--name",
            "Ada Lovelace",
            "--external-id",
            "000123",
        )
    )
    ok(scratch("users", "create", "jose@example.org", "--name", "José Núñez"))
    for fmt in ("csv", "xlsx"):
        out = tmp_path / f"users.{fmt}"
        ok(scratch("export", "users", "-o", str(out)))
        data = ok_json(scratch("import", "users", str(out), "--json"))
        assert data["counts"]["create"] == data["counts"]["update"] == 0, data
        assert data["counts"]["unchanged"] == 3, data

    # An edited export changes exactly the edited row.
    out = tmp_path / "edited.csv"
    ok(scratch("export", "users", "-o", str(out)))
    text = out.read_text(encoding="utf-8-sig").replace("Ada Lovelace", "Ada King")
    out.write_text(text, encoding="utf-8")
    data = ok_json(scratch("import", "users", str(out), "--json"))
    assert data["counts"]["update"] == 1, json.dumps(data)
    assert (
        scratch.scalar("SELECT full_name FROM users WHERE email = 'ada@example.org'") == "Ada King"
    )


@pytest.mark.scratch
def test_a_formula_safe_cell_imports_as_the_original_text(scratch, tmp_path):
    """safe_cell writes '=HYPERLINK(...) with an apostrophe; importing it must drop that again."""
    ok(scratch("db", "upgrade"))
    name = '=HYPERLINK("http://x")'
    ok(scratch("users", "create", "evil@example.org", "--name", name))
    out = tmp_path / "users.csv"
    ok(scratch("export", "users", "-o", str(out)))
    assert f"'{name}" in out.read_text(encoding="utf-8-sig").replace('""', '"')
    data = ok_json(scratch("import", "users", str(out), "--json"))
    assert data["counts"]["update"] == 0, data
    assert scratch.scalar("SELECT full_name FROM users") == name


@pytest.mark.scratch
def test_a_reader_that_stops_early_is_no_error(scratch, tmp_path):
    """``lmsctl export users | head``: exit 0, no traceback, no "Broken pipe" message."""
    ok(scratch("db", "upgrade"))
    with scratch.engine() as engine, engine.begin() as conn:
        conn.execute(
            insert(User),
            [{"email": f"u{i:05d}@example.org", "full_name": f"User {i}"} for i in range(5000)],
        )
    lmsctl = Path(sys.executable).parent / "lmsctl"
    done = subprocess.run(
        ["bash", "-c", f"'{lmsctl}' export users | head -2; exit ${{PIPESTATUS[0]}}"],
        env=lmsctl_env(scratch.url, tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[1] == ",u00000@example.org,User 0,student,true"


def _changes(counts: dict) -> list:
    """Non-zero counts other than ``unchanged``, nested ones (a courses run's lessons) too."""
    found = []
    for key, value in counts.items():
        if isinstance(value, dict):
            found += _changes(value)
        elif key != "unchanged" and value:
            found.append((key, value))
    return found


@pytest.mark.scratch
def test_courses_and_enrollments_exports_import_again_with_no_change(scratch, tmp_path):
    ok(scratch("db", "upgrade"))
    ok(scratch("users", "create", "grace@example.org", "--name", "Grace", "--role", "instructor"))
    ok(scratch("users", "create", "ada@example.org", "--name", "Ada", "--external-id", "0007"))
    ok(
        scratch(
            "courses", "create", "intro", "--title", "Intro", "--instructor", "grace@example.org"
        )
    )
    ok(scratch("lessons", "add", "intro", "setup", "--title", "Setup", "--type", "video"))
    ok(scratch("lessons", "add", "intro", "loops", "--title", "- Loops: for, while"))
    ok(scratch("courses", "publish", "intro"))
    ok(scratch("enrollments", "enroll", "ada@example.org", "intro"))

    ok(scratch("export", "courses", "-o", str(tmp_path / "courses.xlsx")))
    data = ok_json(scratch("import", "courses", str(tmp_path / "courses.xlsx"), "--json"))
    assert not _changes(data["counts"]), data["counts"]

    courses, lessons = tmp_path / "courses.csv", tmp_path / "lessons.csv"
    ok(scratch("export", "courses", "-o", str(courses), "--lessons-out", str(lessons)))
    data = ok_json(scratch("import", "courses", str(courses), "--lessons", str(lessons), "--json"))
    assert not _changes(data["counts"]), data["counts"]

    for fmt in ("csv", "xlsx"):
        out = tmp_path / f"enrollments.{fmt}"
        ok(scratch("export", "enrollments", "-o", str(out)))
        data = ok_json(scratch("import", "enrollments", str(out), "--json"))
        assert not _changes(data["counts"]), data["counts"]
        assert data["counts"]["unchanged"] == 1
