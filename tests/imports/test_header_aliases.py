"""Other names of a column (``FieldSpec.aliases``): a file headed ``E-mail``/``Name`` imports as
one headed ``email``/``full_name`` would, and problems name the header as the file wrote it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts.fields import USER
from lms_core.fields import EntitySpec, FieldSpec
from lms_core.imports.columns import ALIASES, SPECS
from lms_core.models import User
from tests.imports.importing import Importer, problems

ROWS = [
    ("S-001", "ann@x.org", "Ann Able", "student"),
    ("T-001", "tess@x.org", "Tess Teach", "instructor"),
]


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


def _csv(header: str, rows: list[tuple[str, ...]]) -> str:
    return header + "\n" + "".join(",".join(r) + "\n" for r in rows)


def _users(session: Session) -> list[tuple[Any, ...]]:
    session.expire_all()
    stmt = select(User.external_id, User.email, User.full_name, User.role).order_by(User.email)
    return [tuple(r) for r in session.execute(stmt) if r.email.endswith("@x.org")]


@pytest.mark.parametrize(
    "header",
    [
        "external_id,E-mail,Name,role",
        "external_id,Email Address,name,role",
        "SIS id,mail,Name,role",
    ],
)
def test_a_file_with_other_names_imports_as_the_template_would(
    session: Session, imp: Importer, header: str
) -> None:
    report = imp("users", imp.file("users.csv", _csv(header, ROWS)))
    assert not report.refused, [str(e) for e in report.errors]
    assert report.counts["create"] == 2
    ids = not header.startswith("SIS id")  # an unknown header is still an ignored column
    assert _users(session) == sorted((r[0] if ids else None, *r[1:]) for r in ROWS)
    # The template's own headers, same values: nothing to change.
    again = imp("users", imp.file("again.csv", _csv("email,full_name,role", [r[1:] for r in ROWS])))
    assert again.counts["unchanged"] == 2 and again.counts["create"] == 0


def test_an_xlsx_with_other_names_imports_too(session: Session, imp: Importer) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["E-Mail", "Name", "Role"])
    for row in ROWS:
        sheet.append(list(row[1:]))
    path = imp.tmp / "users.xlsx"
    book.save(path)
    report = imp("users", path)
    assert not report.refused, [str(e) for e in report.errors]
    assert _users(session) == sorted((None, *r[1:]) for r in ROWS)


def test_problems_name_the_header_as_the_file_wrote_it(imp: Importer) -> None:
    path = imp.file("users.csv", "e-mail,Name,role\nnot-an-email,Ann,student\n")
    report = imp("users", path, dry_run=True)
    assert problems(report) == [("users.csv", 2, "e-mail", "not-an-email")]


def test_the_aliases_are_the_specs_and_never_shared_by_two_columns() -> None:
    declared = [(a, f.name) for s in SPECS.values() for f in s.imported() for a in f.aliases]
    assert sorted(ALIASES.items()) == sorted(declared)  # no alias names two columns
    assert ALIASES == {
        "e-mail": "email",
        "mail": "email",
        "email address": "email",
        "e-mail address": "email",
        "name": "full_name",
    }
    assert USER["email"].required and USER["full_name"].required


def test_only_a_required_column_has_aliases() -> None:
    """So a file accepted without aliases is read as before: an alias only rescues a refusal."""
    with pytest.raises(ValueError, match="not a required column"):
        EntitySpec(
            "x",
            (FieldSpec("a", "text", in_file=True), FieldSpec("b", "text", aliases=("bee",))),
            columns=("a",),
        )
