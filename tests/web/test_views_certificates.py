"""Back office: certificates (list and filters, revoke with a reason, reissue, issue for a
course after the eligibility list, verify link, PDF as an attachment) by role; each write the
CLI's service and audit entry, a refused one changing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.catalog import enrollments
from lms_core.certificates import issue
from lms_core.models import Certificate, Enrollment
from tests.cli.helpers import audit_count
from tests.web.assess_kit import follow, learner_client, state, statements, text
from tests.web.conftest import csrf_token, post_form


def _course(session: Session, make: Any, operator: Any, instructor: Any, done: int = 2) -> Any:
    """A published course of two lessons, ``done`` learners who completed both, one who did not."""
    course = make.course(instructor=instructor, lessons=2, published=True)
    for i in range(done + 1):
        learner = make.user(name=f"Learner {course.slug} {i}")
        make.enroll(learner, course)
        for lesson in ("lesson-1", "lesson-2")[: 2 if i < done else 1]:
            enrollments.complete_lesson(
                session,
                actor=operator,
                email=learner.email,
                course_slug=course.slug,
                lesson_slug=lesson,
            )
    return course


def _issue(session_factory: Any, operator: Any, settings: Any, course: Any) -> None:
    """As ``lmsctl certificates issue COURSE`` (a run: it commits its own batches)."""
    issue.issue_certificates(
        session_factory, actor=operator, course_slug=course.slug, settings=settings
    )


def _certs(session: Session, course: Any) -> list[Certificate]:
    session.expire_all()
    stmt = (
        select(Certificate)
        .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
        .where(Enrollment.course_id == course.id)
        .order_by(Certificate.id)
    )
    return list(session.scalars(stmt))


@pytest.fixture
def school(
    session: Session, session_factory: Any, settings: Any, make: Any, operator: Any, teacher: Any
) -> dict[str, Any]:
    mine = _course(session, make, operator, teacher)
    theirs = _course(session, make, operator, make.user("instructor"), done=1)
    for course in (mine, theirs):
        _issue(session_factory, operator, settings, course)
    return {"mine": mine, "theirs": theirs}


def test_who_sees_the_certificates(
    logged_in: Any,
    make: Any,
    session: Session,
    admin_user: Any,
    teacher: Any,
    school: dict[str, Any],
) -> None:
    mine, theirs = _certs(session, school["mine"]), _certs(session, school["theirs"])
    assert len(mine) == 2 and len(theirs) == 1
    admin = text(logged_in(admin_user).get("/admin/certificate/"))
    assert all(c.number in admin for c in mine + theirs)
    client = logged_in(teacher)
    body = text(client.get("/admin/certificate/"))
    assert all(c.number in body for c in mine) and theirs[0].number not in body
    assert f"/verify/{mine[0].number}" in body
    assert "does not exist" in follow(
        client, client.get(f"/admin/certificate/details/?id={theirs[0].id}")
    )
    assert client.get(f"/admin/certificate/pdf/?id={theirs[0].id}").status_code == 404
    learner = learner_client(logged_in, make, session)
    assert learner.get("/admin/certificate/").status_code == 403
    assert learner.get(f"/admin/certificate/pdf/?id={mine[0].id}").status_code == 403


def test_filters_by_status_and_course(
    logged_in: Any, session: Session, admin_user: Any, operator: Any, school: dict[str, Any]
) -> None:
    from lms_core.certificates.registry import revoke

    mine, theirs = _certs(session, school["mine"]), _certs(session, school["theirs"])
    revoke(session, actor=operator, number=mine[0].number, reason="test")
    client = logged_in(admin_user)
    revoked = text(client.get("/admin/certificate/?flt0_0=revoked"))
    assert mine[0].number in revoked and mine[1].number not in revoked
    course = text(client.get(f"/admin/certificate/?flt0_1={school['theirs'].slug}"))
    assert theirs[0].number in course and mine[1].number not in course


def test_revoke_asks_for_a_reason_then_revokes(
    logged_in: Any, session: Session, teacher: Any, school: dict[str, Any]
) -> None:
    cert = _certs(session, school["mine"])[0]
    client = logged_in(teacher)
    response = post_form(
        client,
        "/admin/certificate/action/",
        {"action": "revoke", "rowid": str(cert.id)},
        form_page="/admin/certificate/",
    )
    form_page = response.headers["Location"]
    assert "Reason" in text(client.get(form_page))
    before = state(session)
    refused = post_form(
        client,
        "/admin/certificate/revoke/",
        {"id": str(cert.id), "reason": " "},
        form_page=form_page,
    )
    assert "reason: is required" in text(refused)
    assert state(session) == before
    done = post_form(
        client,
        "/admin/certificate/revoke/",
        {"id": str(cert.id), "reason": "issued in error"},
        form_page=form_page,
    )
    assert f"Revoked 1 certificate(s): {cert.number}" in follow(client, done)
    session.expire_all()
    revoked = session.get(Certificate, cert.id)
    assert revoked is not None and revoked.status == "revoked"
    assert revoked.revoked_reason == "issued in error"
    assert audit_count(session, "certificate.revoke") == 1


def test_another_instructor_cannot_revoke_by_id(
    logged_in: Any, make: Any, session: Session, school: dict[str, Any]
) -> None:
    cert = _certs(session, school["mine"])[0]
    client = logged_in(make.user("instructor"))
    before = state(session)
    response = post_form(
        client,
        "/admin/certificate/revoke/",
        {"id": str(cert.id), "reason": "mine now"},
        form_page="/admin/certificate/",
    )
    assert "No certificate selected" in follow(client, response)
    assert state(session) == before


def test_reissue_supersedes_with_a_new_number(
    logged_in: Any, session: Session, teacher: Any, school: dict[str, Any]
) -> None:
    old = _certs(session, school["mine"])[0]
    client = logged_in(teacher)
    response = post_form(
        client,
        "/admin/certificate/action/",
        {"action": "reissue", "rowid": str(old.id)},
        form_page="/admin/certificate/",
    )
    assert f"Reissued 1 certificate(s): {old.number} as " in follow(client, response)
    after = _certs(session, school["mine"])
    assert len(after) == 3 and session.get(Certificate, old.id).status == "superseded"  # type: ignore[union-attr]
    assert audit_count(session, "certificate.supersede") == 1


def test_issue_shows_who_is_eligible_then_issues(
    logged_in: Any, session: Session, make: Any, operator: Any, teacher: Any
) -> None:
    course = _course(session, make, operator, teacher, done=2)
    client = logged_in(teacher)
    page = f"/admin/certificate/issue/?course={course.slug}"
    before = state(session)
    body = text(client.get(page))
    assert "Issue 2 certificate(s)" in body and "1 of 2 required lessons complete" in body
    assert state(session) == before
    issued_before = audit_count(session, "certificate.issue")
    response = client.post(
        "/admin/certificate/issue/",
        data={"course": course.slug, "csrf_token": csrf_token(client, page)},
    )
    assert f"Issued 2 certificate(s) for {course.slug}" in follow(client, response)
    assert len(_certs(session, course)) == 2
    assert audit_count(session, "certificate.issue") == issued_before + 2
    other = logged_in(make.user("instructor"))
    assert other.get(page).status_code == 404


def test_pdf_downloads_as_an_attachment(
    logged_in: Any, settings: Any, session: Session, teacher: Any, school: dict[str, Any]
) -> None:
    cert = _certs(session, school["mine"])[0]
    response = logged_in(teacher).get(f"/admin/certificate/pdf/?id={cert.id}")
    assert response.status_code == 200
    assert response.data == (settings.files_dir / cert.pdf_path).read_bytes()
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith(
        f'attachment; filename="{cert.number}.pdf"'
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("sandbox")


def test_list_statements_do_not_grow_with_the_rows(
    logged_in: Any,
    connection: Any,
    session: Session,
    session_factory: Any,
    settings: Any,
    make: Any,
    operator: Any,
    teacher: Any,
    school: dict[str, Any],
) -> None:
    client = logged_in(teacher)
    client.get("/admin/certificate/")
    with statements(connection) as few:
        assert client.get("/admin/certificate/").status_code == 200
    _issue(session_factory, operator, settings, _course(session, make, operator, teacher, done=5))
    with statements(connection) as many:
        body = text(client.get("/admin/certificate/"))
    count = session.scalar(select(func.count()).select_from(Certificate))
    assert count and body.count('class="lms-status valid"') == 7
    assert len(many) == len(few), many


def test_an_administrator_reinstates_a_revoked_certificate_instructors_cannot(
    logged_in: Any, session: Session, operator: Any, teacher: Any, admin_user: Any, school: Any
) -> None:
    from lms_core.certificates.registry import revoke

    cert = _certs(session, school["mine"])[0]
    revoke(session, actor=operator, number=cert.number, reason="issued in error")
    session.flush()

    instructor = logged_in(teacher)
    assert "Reinstate" not in text(instructor.get("/admin/certificate/"))
    assert instructor.get(f"/admin/certificate/reinstate/?id={cert.id}").status_code == 403
    before = state(session)
    forged = instructor.post(
        "/admin/certificate/reinstate/",
        data={"id": str(cert.id), "csrf_token": csrf_token(instructor, "/admin/certificate/")},
    )
    assert forged.status_code == 403 and state(session) == before

    client = logged_in(admin_user)
    assert "Reinstate (undo a revocation)" in text(client.get("/admin/certificate/"))
    moved = post_form(
        client,
        "/admin/certificate/action/",
        {"action": "reinstate", "rowid": str(cert.id)},
        form_page="/admin/certificate/",
    )
    form_page = moved.headers["Location"]
    assert "issued in error" in text(client.get(form_page))
    done = post_form(
        client,
        "/admin/certificate/reinstate/",
        {"id": str(cert.id), "reason": "revoked by mistake"},
        form_page=form_page,
    )
    assert f"Reinstated 1 certificate(s): {cert.number}" in follow(client, done)
    session.expire_all()
    again = session.get(Certificate, cert.id)
    assert again is not None and again.status == "valid" and again.revoked_at is None
    assert audit_count(session, "certificate.reinstate") == 1

    before = state(session)
    refused = post_form(
        client, "/admin/certificate/reinstate/", {"id": str(cert.id)}, form_page=form_page
    )
    assert "only a revoked certificate can be reinstated" in text(refused)
    assert state(session) == before


def test_a_course_s_valid_certificates_download_as_a_zip_with_a_manifest(
    logged_in: Any, session: Session, teacher: Any, school: Any
) -> None:
    import csv
    import io
    import zipfile

    client = logged_in(teacher)
    assert "export/?course=" in text(
        client.get(f"/admin/certificate/issue/?course={school['mine'].slug}")
    )
    response = client.get(f"/admin/certificate/export/?course={school['mine'].slug}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    numbers = sorted(c.number for c in _certs(session, school["mine"]))
    pdfs = sorted(n.removesuffix(".pdf") for n in archive.namelist() if n.endswith(".pdf"))
    assert pdfs == numbers
    manifest = [n for n in archive.namelist() if n.endswith(".csv")]
    rows = list(csv.DictReader(io.StringIO(archive.read(manifest[0]).decode("utf-8-sig"))))
    assert sorted(r["number"] for r in rows) == numbers
    theirs = client.get(f"/admin/certificate/export/?course={school['theirs'].slug}")
    assert theirs.status_code == 404


def test_the_zip_of_a_course_with_a_missing_pdf_says_which_to_reissue(
    logged_in: Any, session: Session, settings: Any, teacher: Any, school: Any
) -> None:
    client = logged_in(teacher)
    cert = _certs(session, school["mine"])[0]
    (settings.files_dir / cert.pdf_path).unlink()
    response = client.get(f"/admin/certificate/export/?course={school['mine'].slug}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/issue/?course={school['mine'].slug}")
    assert f"the stored PDF of {cert.number} is missing; reissue it" in follow(client, response)


@pytest.mark.parametrize("slug", ["%00", "a%00b", "%01", "%7F"])
def test_a_zip_of_a_slug_with_control_characters_is_not_found(
    logged_in: Any, teacher: Any, school: Any, slug: str
) -> None:
    """PostgreSQL refuses NUL in a query (a 500 before): no course has such a slug."""
    assert logged_in(teacher).get(f"/admin/certificate/export/?course={slug}").status_code == 404
