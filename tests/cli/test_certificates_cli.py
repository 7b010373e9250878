"""lmsctl certificates: every command, --json, and the refusals."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

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


def test_reissue_during_an_issue_run_refuses_and_writes_nothing(
    cli, done_course, session_factory, settings, unchanged
):
    from lms_core.certificates.issue import certificates_dir
    from lms_core.locks import run_lock

    number = _issue(cli)[0]["number"]
    folder = certificates_dir(settings, done_course.id)
    pdfs = sorted(folder.iterdir())
    with (
        run_lock(session_factory, f"certificates-{done_course.id}", holder="cli:issue run"),
        unchanged(),
    ):
        error = refused_json(
            cli("certificates", "reissue", number, "--wait", "0", "--json"), "lock"
        )
        assert "an issue run on cert-course is in progress" in error["message"]
        refused(
            cli("certificates", "reissue", number, "--wait", "0.3"), "lock", contains="waited 0.3 s"
        )
    assert sorted(folder.iterdir()) == pdfs


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


def test_a_revoked_certificate_stands_until_an_administrator_reinstates_it(cli, done_course):
    issued = {r["email"]: r["number"] for r in _issue(cli)}
    number = issued["latin@x.org"]
    ok(cli("certificates", "revoke", number, "--reason", "plagiarism"))
    result = ok(cli("certificates", "issue", "cert-course"))
    assert "issued 0, already had one 1, not eligible 0, skipped: revoked 1" in result.stdout
    assert "certificates reinstate" in result.stdout
    data = ok_json(cli("certificates", "issue", "cert-course", "--json"))
    assert (data["issued"], data["revoked"], data["include_revoked"]) == ([], 1, False)
    listed = ok_json(cli("certificates", "eligible", "cert-course", "--json"))
    rows = {r["email"]: r for r in listed}
    assert (rows["latin@x.org"]["status"], rows["latin@x.org"]["certificate"]) == (
        "revoked",
        number,
    )
    assert rows["arabic@x.org"]["status"] == "issued"
    listing = ok(cli("certificates", "eligible", "cert-course"))
    assert re.search(r"latin@x\.org\s+yes\s+revoked\s", listing.stdout), listing.stdout
    assert "2 of 2 eligible, 1 revoked" in listing.stdout + listing.stderr
    # Instructors revoke; only an administrator reinstates.
    teacher = done_course.instructor.email
    refused(cli("certificates", "reinstate", number, as_=teacher), "as", contains="administrator")
    row = ok_json(cli("certificates", "reinstate", number, "--reason", "appeal", "--json"))
    assert (row["number"], row["status"], row["reason"]) == (number, "valid", None)
    assert ok_json(cli("certificates", "verify", number, "--json"))["verified"] is True
    refused(cli("certificates", "reinstate", number), "number", contains="only a revoked")


def test_issue_include_revoked_gives_a_new_number_administrators_only(cli, done_course, session):
    number = {r["email"]: r["number"] for r in _issue(cli)}["latin@x.org"]
    ok(cli("certificates", "revoke", number, "--reason", "name misspelt"))
    teacher = done_course.instructor.email
    refused(
        cli("certificates", "issue", "cert-course", "--include-revoked", as_=teacher),
        "as",
        contains="administrator",
    )
    data = ok_json(cli("certificates", "issue", "cert-course", "--include-revoked", "--json"))
    ((new),) = data["issued"]
    assert new["replaces"] == number and new["number"] != number
    assert (data["revoked"], data["already"]) == (0, 1)
    assert "revoked" in cli("certificates", "verify", number).stdout
    assert ok_json(cli("certificates", "verify", new["number"], "--json"))["verified"] is True
    refused(cli("certificates", "reinstate", number), "number", contains="revoke that one first")
    assert session.scalar(select(func.count()).select_from(Certificate)) == 3


def test_reinstate_help_has_an_example(cli):
    out = ok(cli("certificates", "reinstate", "--help")).stdout
    assert "Example: lmsctl certificates reinstate" in out and "--json" in out
    assert "--include-revoked" in ok(cli("certificates", "issue", "--help")).stdout


BEFORE_CHECK_SYMBOLS = "c5d2e8f1a7b3"  # the revision before the current check symbols


def _legacy_numbers() -> tuple[str, str, str]:
    """An old number ending in *, one with another old check symbol the migration changes,
    and one whose old check symbol happens to be the new one too (kept as it is)."""
    from lms_core.certificates.numbers import check_symbol, legacy_check_symbol

    changed = kept = None
    for n in range(1, 5000):
        body = f"{n:08d}"
        old = legacy_check_symbol(body)
        if old == check_symbol(body) and kept is None:
            kept = f"LMS-{body[:4]}-{body[4:]}-{old}"
        elif old not in "*~$=U" and old != check_symbol(body) and changed is None:
            changed = f"LMS-{body[:4]}-{body[4:]}-{old}"
    assert changed and kept
    return "LMS-P758-DXF0-*", changed, kept


@pytest.mark.scratch
def _old_school(scratch) -> tuple[str, str, str]:
    """A database at the revision before the check symbols, with three certificates under
    legacy numbers (one ending in ``*``) and their PDFs on disk."""
    import hashlib

    star, changed, kept = _legacy_numbers()
    ok(scratch("db", "upgrade", "7615766e684a"))  # no certificates table yet: nothing to rename
    ok(scratch("db", "upgrade", BEFORE_CHECK_SYMBOLS))
    folder = scratch.files_dir / "certificates" / "1"
    folder.mkdir(parents=True)
    with scratch.engine() as engine, engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, role, is_active, failed_login_attempts, full_name) "
                "VALUES (1, 't@x.org', 'instructor', true, 0, 'T'), "
                "(2, 'a@x.org', 'student', true, 0, 'A'), (3, 'b@x.org', 'student', true, 0, 'B'), "
                "(4, 'c@x.org', 'student', true, 0, 'C')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO courses (id, title, slug, instructor_id, difficulty_level, "
                "is_published) VALUES (1, 'Old', 'old-course', 1, 'beginner', true)"
            )
        )
        for student in (2, 3, 4):
            conn.execute(
                text(
                    "INSERT INTO enrollments (id, student_id, course_id, status, enrolled_at, "
                    "progress_percentage) VALUES (:s, :s, 1, 'active', CURRENT_TIMESTAMP, 0)"
                ),
                {"s": student},
            )
        for enrollment, number in zip((2, 3, 4), (star, changed, kept), strict=True):
            pdf = f"%PDF-1.4 old certificate {number}".encode()
            (folder / f"{number}.pdf").write_bytes(pdf)
            conn.execute(
                text(
                    "INSERT INTO certificates (enrollment_id, number, template, issued_at, "
                    "learner_name, course_title, pdf_path, pdf_sha256, version) VALUES "
                    "(:e, :n, 'default', CURRENT_TIMESTAMP, 'L', 'Old', :p, :h, 1)"
                ),
                {
                    "e": enrollment,
                    "n": number,
                    "p": f"certificates/1/{number}.pdf",
                    "h": hashlib.sha256(pdf).hexdigest(),
                },
            )

    return star, changed, kept


def test_db_upgrade_renumbers_old_certificates_renames_their_pdfs_and_old_numbers_verify(
    scratch, tmp_path: Path
):
    star, changed, kept = _old_school(scratch)
    folder = scratch.files_dir / "certificates" / "1"

    result = ok(scratch("db", "upgrade"))
    assert "renamed 2 certificate PDF(s)" in result.stdout
    new_star = star[:-1] + "8"
    with scratch.engine() as engine, engine.connect() as conn:
        rows = {
            legacy or number: (number, path)
            for number, legacy, path in conn.execute(
                text("SELECT number, legacy_number, pdf_path FROM certificates")
            )
        }
    assert rows[star] == (new_star, f"certificates/1/{new_star}.pdf")
    new_changed = rows[changed][0]
    assert new_changed[:-1] == changed[:-1] and new_changed != changed
    assert rows[kept] == (kept, f"certificates/1/{kept}.pdf")
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(f"{n}.pdf" for n in (new_star, new_changed, kept))

    # The old PDF, checked by the number printed on it (its QR code's /verify/<old number>).
    old_pdf = (folder / f"{new_star}.pdf").read_bytes()
    (tmp_path / "old.pdf").write_bytes(old_pdf)
    data = ok_json(
        scratch("certificates", "verify", star, "--file", str(tmp_path / "old.pdf"), "--json")
    )
    assert (data["number"], data["current_number"], data["verified"]) == (star, new_star, True)
    assert f"{star} (now {new_star}): valid" in ok(scratch("certificates", "verify", star)).stdout
    assert ok_json(scratch("certificates", "verify", new_star, "--json"))["verified"] is True
    listed = ok_json(scratch("certificates", "list", "old-course", "--json"))
    assert {r["number"]: r["legacy_number"] for r in listed}[new_star] == star
    with zipfile.ZipFile(_export(scratch, tmp_path)) as archive:
        assert not any("*" in name for name in archive.namelist())
        assert f"{new_star}.pdf" in archive.namelist()
        manifest = archive.read("manifest.csv").decode("utf-8-sig")
    rows_by_number = {r["number"]: r for r in csv.DictReader(io.StringIO(manifest))}
    assert rows_by_number[new_star]["legacy_number"] == star
    assert rows_by_number[kept]["legacy_number"] == ""

    # Again: nothing left to rename. Down: the numbers as issued (files keep their names).
    assert "renamed" not in ok(scratch("db", "upgrade")).stdout
    ok(scratch("db", "downgrade", BEFORE_CHECK_SYMBOLS, "--yes"))
    assert scratch.scalar("SELECT number FROM certificates WHERE enrollment_id = 2") == star
    ok(scratch("db", "upgrade"))
    assert scratch.scalar("SELECT legacy_number FROM certificates WHERE enrollment_id = 2") == star


def _export(scratch, tmp_path: Path) -> Path:
    out = tmp_path / "old.zip"
    ok(scratch("certificates", "export", "old-course", "-o", str(out)))
    return out


def test_init_on_an_old_database_renames_the_pdfs_too(scratch):
    star, _, _ = _old_school(scratch)
    result = ok(scratch("init"))
    assert "renamed 2 certificate PDF(s)" in result.stdout
    new_star = star[:-1] + "8"
    assert (scratch.files_dir / "certificates" / "1" / f"{new_star}.pdf").exists()
    assert not (scratch.files_dir / "certificates" / "1" / f"{star}.pdf").exists()


def test_upgrade_names_the_pdfs_it_could_not_find(scratch):
    star, _, _ = _old_school(scratch)
    (scratch.files_dir / "certificates" / "1" / f"{star}.pdf").unlink()
    result = scratch("db", "upgrade", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["pdfs_missing"] == [star[:-1] + "8"]
    assert "not found in the files directory" in result.stderr


def test_a_legacy_number_not_yet_renumbered_still_verifies(scratch):
    star, _, _ = _old_school(scratch)
    ok(scratch("db", "upgrade"))
    new_star = star[:-1] + "8"
    # As after an offline `alembic upgrade --sql`: the row still carries its old number.
    with scratch.engine() as engine, engine.begin() as conn:
        conn.execute(
            text("UPDATE certificates SET number = :old, legacy_number = NULL WHERE number = :new"),
            {"old": star, "new": new_star},
        )
    result = scratch("certificates", "verify", star)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "valid" in result.stdout
