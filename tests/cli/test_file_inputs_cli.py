"""Every command that reads a file answers a folder, a missing file and a broken workbook alike.

A folder or a missing file where a file is expected is a usage error (exit 2, as click says
for every ``exists=True`` argument), in every command; a file that is there but cannot be
read is a refusal (exit 1) with one clear message per problem, never the name of a library's
exception class.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import no_traceback

#: Each command that reads an input file, with ``{}`` where the file goes.
READERS = {
    "import users": ("import", "users", "{}"),
    "import courses": ("import", "courses", "{}"),
    "import courses --lessons": ("import", "courses", "{ok}", "--lessons", "{}"),
    "import enrollments": ("import", "enrollments", "{}"),
    "import apply": ("import", "apply", "{}"),
    "quizzes import": ("quizzes", "import", "some-course/quiz", "{}"),
    "grading import": ("grading", "import", "{}"),
}
#: Library exception classes that leaked into messages before (and their kin).
CLASS_NAME = re.compile(
    r"\b(\w+(Error|Exception)|KeyError|BadZipFile|InvalidFileException|StopIteration)\b"
)


def _args(template: tuple[str, ...], path: Path, ok: Path) -> list[str]:
    return [a.replace("{}", str(path)).replace("{ok}", str(ok)) for a in template]


@pytest.fixture
def courses_ok(tmp_path: Path) -> Path:
    path = tmp_path / "courses.csv"
    path.write_text("slug,title,instructor_email\nc-1,C,t@x.org\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("command", list(READERS))
def test_a_folder_is_a_usage_error_everywhere(
    cli: Any, tmp_path: Path, courses_ok: Path, command: str
) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    result = cli(*_args(READERS[command], folder, courses_ok))
    assert result.exit_code == 2, (command, result.exit_code, result.output)
    no_traceback(result)
    assert "a-folder" in result.stderr and "directory" in result.stderr


@pytest.mark.parametrize("command", list(READERS))
def test_a_missing_file_is_a_usage_error_everywhere(
    cli: Any, tmp_path: Path, courses_ok: Path, command: str
) -> None:
    result = cli(*_args(READERS[command], tmp_path / "nowhere.xlsx", courses_ok))
    assert result.exit_code == 2, (command, result.exit_code, result.output)
    no_traceback(result)
    assert "nowhere.xlsx" in result.stderr


def _random_bytes(path: Path) -> Path:
    path.write_bytes(os.urandom(2048).replace(b"PK", b"pk"))
    return path


def _zip_without_workbook(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a workbook")
    return path


def _truncated_workbook(path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["email", "full_name", "role"])  # type: ignore[union-attr]
    book.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


BROKEN = {
    "random-bytes": _random_bytes,
    "zip-without-workbook": _zip_without_workbook,
    "truncated": _truncated_workbook,
}


@pytest.mark.parametrize("broken", list(BROKEN))
@pytest.mark.parametrize("command", [c for c in READERS if c != "import apply"])
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_broken_workbook_is_refused_with_one_clear_message(
    cli: Any,
    tmp_path: Path,
    courses_ok: Path,
    command: str,
    broken: str,
    as_json: bool,
) -> None:
    path = BROKEN[broken](tmp_path / "bank.xlsx")
    args = _args(READERS[command], path, courses_ok) + (["--json"] if as_json else [])
    result = cli(*args)
    assert result.exit_code == 1, (command, result.exit_code, result.output)
    no_traceback(result)
    text = result.stdout + result.stderr
    assert "bank.xlsx" in text, text
    assert not CLASS_NAME.search(text), text
    assert "not a readable .xlsx workbook" in text, text
    errors = json.loads(result.stdout)["errors"] if as_json else result.stderr.splitlines()
    assert len(errors) == 1, errors  # one problem, one message


def test_a_csv_named_xlsx_is_still_read_by_its_content(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "users.xlsx"
    path.write_text("email,full_name,role\nann@x.org,Ann,student\n", encoding="utf-8")
    result = cli("import", "users", str(path), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["create"] == 1


def test_a_broken_oneroster_zip_is_refused_without_class_names(cli: Any, tmp_path: Path) -> None:
    for make in BROKEN.values():
        path = make(tmp_path / "bundle.zip")
        result = cli("import", "oneroster", str(path))
        assert result.exit_code == 1, result.output
        no_traceback(result)
        assert not CLASS_NAME.search(result.stdout + result.stderr), result.output


def test_a_broken_plan_file_is_refused_without_class_names(cli: Any, tmp_path: Path) -> None:
    for make in BROKEN.values():
        path = make(tmp_path / "plan.json")
        result = cli("import", "apply", str(path))
        assert result.exit_code == 1, result.output
        no_traceback(result)
        assert not CLASS_NAME.search(result.stdout + result.stderr), result.output
