"""lmsctl certificates: every command, --json, and the refusals."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms_core.catalog import enrollments
from lms_core.models import Certificate
from tests.cli.helpers import ok, ok_json, refused, refused_json


@pytest.fixture
def done_course(make, session, operator):
    """A published course whose two learners completed it (one with an Arabic name)."""
    course = make.course(slug="cert-course", lessons=1, published=True)
    learners = [
        make.user(email="latin@x.org", name="Zoë Ångström"),
        make.user(email="arabic@x.org", name="ليلى بنت أحمد"),
    ]
    for learner in learners:
        make.enroll(learner, course)
        enrollments.complete_lesson(
            session,
            actor=operator,
            email=learner.email,
            course_slug=course.slug,
            lesson_slug="lesson-1",
        )
    return course


def _issue(cli) -> list[dict]:
    return ok_json(cli("certificates", "issue", "cert-course", "--json"))["issued"]


def test_eligible_lists_everyone_with_a_reason(cli, done_course, make):
    make.enroll(make.user(email="late@x.org"), done_course)
    rows = ok_json(cli("certificates", "eligible", "cert-course", "--json"))
    assert {r["email"]: r["eligible"] for r in rows} == {
        "latin@x.org": True,
        "arabic@x.org": True,
        "late@x.org": False,
    }
    assert (
        "0 of 1 required lessons complete"
        in ok(cli("certificates", "eligible", "cert-course")).stdout
    )


def test_issue_then_rerun_issues_nothing(cli, done_course, session):
    assert len(_issue(cli)) == 2
    again = ok_json(cli("certificates", "issue", "cert-course", "--json"))
    assert (again["issued"], again["already"]) == ([], 2)
    assert "issued 0, already had one 2" in ok(cli("certificates", "issue", "cert-course")).stdout
    assert session.scalar(select(func.count()).select_from(Certificate)) == 2


def test_issue_dry_run_writes_nothing(cli, done_course, session):
    plan = ok_json(cli("certificates", "issue", "cert-course", "--dry-run", "--json"))
    assert plan["dry_run"] is True and len(plan["issued"]) == 2
    assert session.scalar(select(func.count()).select_from(Certificate)) == 0


def test_issue_reports_uncoverable_names_and_exits_1(cli, done_course, make, session, operator):
    odd = make.user(email="odd@x.org", name="\U00010000\U00010001\U00010002")
    make.enroll(odd, done_course)
    enrollments.complete_lesson(
        session, actor=operator, email=odd.email, course_slug="cert-course", lesson_slug="lesson-1"
    )
    result = cli("certificates", "issue", "cert-course")
    assert result.exit_code == 1
    assert "odd@x.org" in result.stderr and "3 character(s)" in result.stderr
    assert "issued 2" in result.stdout
    data = json.loads(cli("certificates", "issue", "cert-course", "--json").stdout)
    assert data["uncovered"][0]["email"] == "odd@x.org"
    (error,) = data["errors"]
    assert (error["field"], error["value"]) == ("learner", odd.full_name)


def test_issue_unknown_course_is_refused(cli):
    refused(cli("certificates", "issue", "nope"), "course_slug")


def test_verify_valid_then_revoked_with_json_keys(cli, done_course):
    number = _issue(cli)[0]["number"]
    data = ok_json(cli("certificates", "verify", number.lower(), "--json"))
    assert {
        "number",
        "status",
        "learner",
        "course",
        "issued_at",
        "revoked_at",
        "reason",
        "sha256",
    } <= set(data)
    assert (data["status"], data["verified"]) == ("valid", True)
    ok(cli("certificates", "revoke", number, "--reason", "issued in error"))
    result = cli("certificates", "verify", number)
    assert result.exit_code == 1
    assert "revoked" in result.stdout and "issued in error" in result.stdout
    # The verdict is data: a script need not rebuild the rule from status and file_matches.
    revoked = cli("certificates", "verify", number, "--json")
    assert revoked.exit_code == 1 and json.loads(revoked.stdout)["verified"] is False


def test_verify_unknown_and_mistyped(cli):
    result = cli("certificates", "verify", "LMS-0000-0000-0")
    assert result.exit_code == 1 and "unknown" in result.stdout
    refused(cli("certificates", "verify", "LMS-0000-0000-1"), "number", contains="mistyped")
    refused_json(cli("certificates", "verify", "LMS-0000-0000-1", "--json"), "number")


def test_verify_file(cli, done_course, settings, tmp_path: Path):
    number = _issue(cli)[0]["number"]
    ok(cli("certificates", "export", "cert-course", "-o", str(tmp_path / "c.zip")))
    with zipfile.ZipFile(tmp_path / "c.zip") as archive:
        (tmp_path / "mine.pdf").write_bytes(archive.read(f"{number}.pdf"))
    assert (
        "IS the PDF issued"
        in ok(cli("certificates", "verify", number, "--file", str(tmp_path / "mine.pdf"))).stdout
    )
    (tmp_path / "fake.pdf").write_bytes(b"%PDF-1.4 fake")
    result = cli("certificates", "verify", number, "--file", str(tmp_path / "fake.pdf"), "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["file_matches"] is False
    assert (data["status"], data["verified"]) == ("valid", False)


def test_reissue_supersedes(cli, done_course):
    number = _issue(cli)[0]["number"]
    new = ok_json(cli("certificates", "reissue", number, "--json"))
    assert (new["version"], new["supersedes"]) == (2, number)
    result = cli("certificates", "verify", number)
    assert result.exit_code == 1 and f"superseded by {new['number']}" in result.stdout


def test_list_json_keys(cli, done_course):
    _issue(cli)
    rows = ok_json(cli("certificates", "list", "cert-course", "--json"))
    assert len(rows) == 2
    assert {"number", "learner", "course", "status"} <= set(rows[0])


def test_a_student_cannot_revoke(cli, done_course):
    number = _issue(cli)[0]["number"]
    refused(cli("certificates", "revoke", number, "--reason", "x", as_="latin@x.org"), "as")


def test_revoke_needs_a_reason(cli, done_course):
    number = _issue(cli)[0]["number"]
    refused(cli("certificates", "revoke", number, "--reason", " "), "reason")


def test_preview_writes_a_pdf_for_any_script(cli, tmp_path: Path):
    for name in ("Nguyễn Thị Minh Khai", "Ελένη", "Дмитрий", "דוד לוי", "王小明", "ليلى"):
        out = tmp_path / "p.pdf"
        ok(cli("certificates", "preview", "--name", name, "-o", str(out)))
        assert out.read_bytes().startswith(b"%PDF")


def test_preview_refuses_a_name_the_fonts_cannot_draw(cli, tmp_path: Path):
    refused(
        cli("certificates", "preview", "--name", "\U00010000", "-o", str(tmp_path / "x.pdf")),
        "name",
        contains="cannot draw",
    )
    assert not (tmp_path / "x.pdf").exists()


def test_an_unwritable_output_is_a_clear_error_not_a_traceback(cli, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = cli("certificates", "preview", "--name", "Ann", "-o", str(blocker / "x.pdf"))
    refused(result, "file", contains=str(blocker))
