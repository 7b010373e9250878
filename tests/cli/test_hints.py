"""lmsctl words every hint of lms_core.errors.HintCode as the command that does it."""

from __future__ import annotations

import pytest

from lms_core.errors import Hint, HintCode, hint
from lmsctl.output import error_line, hint_text, with_hint

PARAMS = {"course": "py", "lesson": "check", "quiz": 7, "email": "ann@x.org"}


@pytest.mark.parametrize("code", list(HintCode))
def test_every_hint_code_has_lmsctl_wording(code: HintCode) -> None:
    text = hint_text(Hint(code, PARAMS))
    assert "lmsctl " in text and "{" not in text


def test_parameters_fill_the_command() -> None:
    assert hint_text(hint(HintCode.promote_user, email="ann@x.org")) == (
        "run: lmsctl users set-role ann@x.org admin"
    )
    assert hint_text(None) == "" and hint_text({"code": "unknown", "params": {}}) == ""
    assert hint_text({"code": "promote_user", "params": {}}) == "run: lmsctl users set-role"


def test_an_error_line_ends_with_the_command() -> None:
    assert with_hint("the database is empty", None) == "the database is empty"
    line = error_line(
        {
            "file": "users.csv",
            "line": 3,
            "column": "email",
            "message": "belongs to a deleted user; reactivate it first or remove the row",
            "hint": {"code": "reactivate_user", "params": {"email": "ann@x.org"}},
        }
    )
    assert line == (
        "error: users.csv, line 3, column email: belongs to a deleted user; reactivate it "
        "first or remove the row (run: lmsctl users reactivate ann@x.org)"
    )


def test_an_import_row_problem_shows_its_command(cli, make, tmp_path) -> None:
    make.user("admin", email="boss@x.org")
    make.user("admin", email="boss2@x.org")
    path = tmp_path / "u.csv"
    path.write_text("email,full_name,role\nboss@x.org,Boss,student\n", encoding="utf-8")
    result = cli("import", "users", str(path))
    assert result.exit_code == 1
    assert (
        "not with an import (use: lmsctl users set-role boss@x.org ROLE, or lmsctl users deactivate)"
        in result.stderr
    )
