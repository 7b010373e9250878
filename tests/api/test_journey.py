"""The issue's "done when": a learner goes from the invitation mail to a certificate through
the API alone. The staff's part is the API's too (an administrator invites, the course's
instructor grades and issues); the course itself is set up with the services beforehand.

The invitation is read from the mail the SMTP server received (the outbox's job sends it),
the token taken from its link, as a person would click it.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from admin_ui.app import EXTENSION, create_app
from lms_core.assignments import assignments
from lms_core.assignments.fields import AssignmentCreate
from lms_core.models import utcnow
from tests.api.conftest import API, ApiClient, assert_problem, login
from tests.mail.conftest import pointing_at, smtp_server  # noqa: F401  # a fixture
from tests.mail.smtp_server import Server
from tests.quizzes.quizkit import RIGHT, all_types, make_quiz

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
NAME = "Nora Newcomer"
EMAIL = "nora.newcomer@test.example"


def _course(session: Session, make: Any, operator: Any) -> Any:
    """A published course: a text lesson, a quiz of six questions, an assignment."""
    setup = make_quiz(session, make, operator, questions=all_types()[:6], max_attempts=2)
    make.lesson(setup.course, slug="essay", lesson_type="assignment")
    assignments.create_assignment(
        session,
        actor=operator,
        course_slug=setup.course.slug,
        lesson_slug="essay",
        data=AssignmentCreate(title="Essay", max_points=10, due_date=utcnow() + timedelta(days=3)),
    )
    return setup


def _put(api: ApiClient, path: str, body: Any) -> Any:
    return api.client.put(API + path, json=body, headers={"Authorization": f"Bearer {api.token}"})


def _as(client: FlaskClient, user: Any, password: str | None = None) -> ApiClient:
    answer = login(client, user) if password is None else login(client, user, password)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return ApiClient(client, answer.get_json()["access_token"])


def test_from_invitation_mail_to_certificate_pdf_through_the_api(
    admin_user: Any,
    make: Any,
    operator: Any,
    session: Session,
    session_factory: Any,
    settings: Any,
    smtp_server: Server,  # noqa: F811  # the fixture imported above
    tmp_path: Path,
) -> None:
    from lms_core.jobs.groups import run_due

    setup = _course(session, make, operator)
    slug = setup.course.slug
    mailing = pointing_at(settings, smtp_server.port, tmp_path, files_dir=tmp_path / "files")
    app = create_app(mailing, session_factory=session_factory)
    app.config["TESTING"] = True
    try:
        client = app.test_client()
        # 1. An administrator invites the learner; the worker sends the mail.
        admin = _as(client, admin_user)
        invited = admin.post("/users", json={"email": EMAIL, "full_name": NAME})
        assert invited.status_code == 201, invited.get_data(as_text=True)
        run_due(session_factory, mailing)
        [mail] = [m for m in smtp_server.messages if m["To"] == EMAIL]
        body = mail.get_body(("plain",))
        assert body is not None
        link = re.search(
            r"https://lms\.school\.example/set-password/([A-Za-z0-9_-]+)", body.get_content()
        )
        assert link, body.get_content()
        # 2. The learner chooses a password with the link's token, logs in, browses, enrolls.
        password = "Fresh-Start-Pass-2026!"
        chosen = client.post(
            f"{API}/auth/invitation", json={"token": link.group(1), "password": password}
        )
        assert chosen.status_code == 200, chosen.get_data(as_text=True)
        me = _as(app.test_client(), EMAIL, password)
        assert slug in [c["slug"] for c in me.get("/courses").get_json()["items"]]
        lessons = {
            x["slug"]: x["lesson_type"] for x in me.get(f"/courses/{slug}").get_json()["lessons"]
        }
        assert lessons == {"lesson-1": "text", "quiz": "quiz", "essay": "assignment"}
        assert me.post(f"/courses/{slug}/enrollment").status_code == 201
        # 3. Every lesson: read the text, pass the quiz, hand in the essay (an upload).
        done = me.post(f"/me/enrollments/{slug}/lessons/lesson-1/completion")
        assert done.status_code in (200, 201), done.get_data(as_text=True)
        attempt = me.post(f"/courses/{slug}/lessons/quiz/quiz/attempts").get_json()["attempt"]
        saved = _put(
            me,
            f"/attempts/{attempt['id']}/answers",
            {"answers": {str(n): RIGHT[n] for n in range(1, 7)}},
        )
        assert saved.status_code == 200, saved.get_data(as_text=True)
        result = me.post(f"/attempts/{attempt['id']}/submission").get_json()
        assert result["passed"] is True
        handed = me.client.post(
            f"{API}/courses/{slug}/lessons/essay/submission",
            data={"text": "my essay", "file": (io.BytesIO(PDF), "essay.pdf")},
            content_type="multipart/form-data",
            headers={"Authorization": f"Bearer {me.token}"},
        )
        assert handed.status_code == 201, handed.get_data(as_text=True)
        # Nothing to issue yet: the essay waits for its grade.
        teacher = _as(app.test_client(), setup.teacher)
        early = teacher.post(f"/courses/{slug}/certificates", json={})
        assert early.status_code == 200 and early.get_json()["issued"] == []
        # 4. The instructor grades the essay, then issues the course's certificates.
        graded = _put(
            teacher,
            f"/courses/{slug}/lessons/essay/submissions/{EMAIL}/grade",
            {"grade": "9,5", "feedback": "Clear"},
        )
        assert graded.status_code == 200, graded.get_data(as_text=True)
        assert graded.get_json()["grade"] == 9.5
        mine = me.get("/me/enrollments").get_json()["items"]
        assert [(e["course_slug"], e["status"]) for e in mine] == [(slug, "completed")]
        preview = teacher.post(f"/courses/{slug}/certificates", json={"dry_run": True}).get_json()
        assert [i["email"] for i in preview["issued"]] == [EMAIL] and preview["dry_run"] is True
        issued = teacher.post(f"/courses/{slug}/certificates", json={})
        assert issued.status_code == 200, issued.get_data(as_text=True)
        [cert] = issued.get_json()["issued"]
        assert cert["learner"] == NAME
        again = teacher.post(f"/courses/{slug}/certificates", json={}).get_json()
        assert again["issued"] == [] and again["already"] == 1
        # 5. The learner downloads the PDF: a real PDF with their name.
        [listed] = me.get("/me/certificates").get_json()["items"]
        assert listed["number"] == cert["number"] and listed["status"] == "valid"
        pdf = me.get(f"/me/certificates/{cert['number']}/pdf")
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
        assert NAME in text and cert["number"] in text
        # The instructor (and the administrator) may fetch it too; another learner may not.
        assert teacher.get(f"/certificates/{cert['number']}/pdf").data == pdf.data
        assert admin.get(f"/certificates/{cert['number']}/pdf").data == pdf.data
        other = _as(app.test_client(), setup.student)
        assert_problem(other.get(f"/certificates/{cert['number']}/pdf"), 404)
    finally:
        app.extensions[EXTENSION].dispose()
