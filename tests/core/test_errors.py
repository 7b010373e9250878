"""Domain errors: their JSON shape, and hints that say what to do next as data."""

from __future__ import annotations

from lms_core.errors import (
    Conflict,
    FileProblem,
    Hint,
    HintCode,
    PermissionDenied,
    hint,
)


def test_as_dict_has_no_hint_key_unless_one_is_set() -> None:
    assert Conflict("taken", field="email", value="a@x.org").as_dict() == {
        "field": "email",
        "value": "a@x.org",
        "message": "taken",
    }
    assert set(FileProblem("bad", file="f.csv", line=2).as_dict()) == {
        "file",
        "line",
        "column",
        "value",
        "message",
    }


def test_a_hint_is_a_code_with_named_parameters() -> None:
    error = Conflict(
        "ann@x.org exists as a student, not an admin: give them the admin role",
        field="admin_email",
        hint=hint(HintCode.promote_user, email="ann@x.org"),
    )
    assert error.hint == Hint(HintCode.promote_user, {"email": "ann@x.org"})
    assert error.as_dict()["hint"] == {"code": "promote_user", "params": {"email": "ann@x.org"}}
    assert (
        str(error)
        == "admin_email: ann@x.org exists as a student, not an admin: give them the admin role"
    )


def test_file_problems_and_permission_errors_carry_hints_too() -> None:
    problem = FileProblem("stale", file="w.xlsx", hint=Hint(HintCode.export_worksheet))
    assert problem.as_dict()["hint"] == {"code": "export_worksheet", "params": {}}
    denied = PermissionDenied("no", hint=Hint(HintCode.promote_user, {"email": "a@x.org"}))
    assert denied.field == "as" and denied.hint is not None
