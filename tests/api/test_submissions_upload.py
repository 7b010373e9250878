"""Handing in an assignment through the API: multipart with text and files, the same size and
type checks as the CLI, only one's own, never a 500 on a hostile upload."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from lms_core.assignments import assignments
from lms_core.assignments.fields import AssignmentCreate
from lms_core.models import StoredFile, Submission, utcnow
from tests.api.conftest import API, assert_problem, bearer, login
from tests.helpers import as_
from tests.web.conftest import log_in

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@pytest.fixture
def homework(session: Session, make: Any, teacher: Any) -> Any:
    course = make.course(instructor=teacher, lessons=1, published=True)
    make.lesson(course, slug="essay", lesson_type="assignment")
    assignments.create_assignment(
        session,
        actor=as_(teacher),
        course_slug=course.slug,
        lesson_slug="essay",
        data=AssignmentCreate(title="Essay", max_points=10, due_date=utcnow() + timedelta(days=3)),
    )
    return course


@pytest.fixture
def own_files(app: Flask, settings: Any, tmp_path: Any) -> Any:
    """The app's settings with a files folder of this test's own (uploads are written)."""
    from admin_ui.app import EXTENSION

    state = app.extensions[EXTENSION]
    state.settings = settings.model_copy(update={"files_dir": tmp_path / "files"})
    return state.settings


def _post(app: Flask, user: Any, course: Any, data: dict[str, Any]) -> Any:
    client = app.test_client()
    token = login(client, user).get_json()["access_token"]
    return client.post(
        f"{API}/courses/{course.slug}/lessons/essay/submission",
        data=data,
        content_type="multipart/form-data",
        headers=bearer(token),
    )


def test_hand_in_text_and_a_file_then_replace(
    app: Flask, own_files: Any, homework: Any, make: Any, session: Session
) -> None:
    learner = make.user("student")
    make.enroll(learner, homework)
    first = _post(
        app, learner, homework, {"text": "my essay", "file": (io.BytesIO(PDF), "essay.pdf")}
    )
    assert first.status_code == 201, first.get_data(as_text=True)
    body = first.get_json()
    assert body["email"] == learner.email and [f["name"] for f in body["files"]] == ["essay.pdf"]
    again = _post(app, learner, homework, {"text": "better essay"})
    assert again.status_code == 200 and again.get_json()["files"] == []


def test_a_disguised_file_is_refused_and_nothing_is_stored(
    app: Flask, own_files: Any, homework: Any, make: Any, session: Session
) -> None:
    learner = make.user("student")
    make.enroll(learner, homework)
    exe = b"MZ\x90\x00" + b"\x00" * 60
    refused = _post(
        app,
        learner,
        homework,
        {"file": [(io.BytesIO(PDF), "good.pdf"), (io.BytesIO(exe), "bad.pdf")]},
    )
    body = assert_problem(refused, 422)
    assert body["errors"][0]["field"] == "file"
    assert session.query(Submission).count() == 0 and session.query(StoredFile).count() == 0


def test_a_file_over_the_limit_is_refused(
    app: Flask, own_files: Any, homework: Any, make: Any
) -> None:
    learner = make.user("student")
    make.enroll(learner, homework)
    big = PDF + b"\n%" + b"x" * (own_files.max_upload_mb * 1024 * 1024 + 10)
    refused = _post(app, learner, homework, {"file": (io.BytesIO(big), "big.pdf")})
    assert_problem(refused, 422)


def test_not_enrolled_json_body_and_empty_work_are_refused(
    app: Flask, own_files: Any, homework: Any, make: Any
) -> None:
    stranger = make.user("student")
    response = _post(app, stranger, homework, {"text": "not mine"})
    assert 400 <= response.status_code < 500
    assert_problem(response, response.status_code)
    learner = make.user("student")
    make.enroll(learner, homework)
    assert_problem(_post(app, learner, homework, {}), 422)
    client = app.test_client()
    token = login(client, learner).get_json()["access_token"]
    as_json = client.post(
        f"{API}/courses/{homework.slug}/lessons/essay/submission",
        json={"text": "x"},
        headers=bearer(token),
    )
    assert_problem(as_json, 422)
    assert_problem(
        client.post(
            f"{API}/courses/{homework.slug}/lessons/essay/submission",
            data={"text": "x"},
            content_type="multipart/form-data",
        ),
        401,
    )


class _Counted(io.BytesIO):
    """A request body that counts what the server read of it."""

    taken = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.taken += len(data)
        return data

    def read1(self, size: int | None = -1) -> bytes:
        data = super().read1(size)
        self.taken += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n = super().readinto(buffer)
        self.taken += n
        return n


def _multipart(parts: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for name, data in parts:
        out += (
            b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="'
            + name.encode()
            + b'"\r\nContent-Type: application/pdf\r\n\r\n'
            + data
            + b"\r\n"
        )
    return out + b"--BOUNDARY--\r\n"


def _send(app: Flask, user: Any, course: Any, body: bytes) -> tuple[Any, _Counted]:
    client = app.test_client()
    token = login(client, user).get_json()["access_token"]
    stream = _Counted(body)
    response = client.post(
        f"{API}/courses/{course.slug}/lessons/essay/submission",
        input_stream=stream,
        content_length=len(body),
        content_type="multipart/form-data; boundary=BOUNDARY",
        headers=bearer(token),
    )
    return response, stream


def test_an_oversize_file_is_refused_as_it_streams_in(
    app: Flask, own_files: Any, homework: Any, make: Any, session: Session
) -> None:
    app.extensions["lms"].settings = own_files.model_copy(update={"max_upload_mb": 1})
    learner = make.user("student")
    make.enroll(learner, homework)
    mb = 1024 * 1024
    body = _multipart([("big.pdf", PDF + b"x" * (3 * mb)), ("next.pdf", PDF + b"y" * (3 * mb))])
    refused, stream = _send(app, learner, homework, body)
    problem = assert_problem(refused, 422)
    assert problem["errors"][0]["field"] == "file" and "big.pdf" in problem["detail"]
    assert stream.taken < 2 * mb  # the rest was never read
    assert session.query(StoredFile).count() == 0


def test_too_many_file_parts_are_refused_as_they_arrive(
    app: Flask, own_files: Any, homework: Any, make: Any
) -> None:
    learner = make.user("student")
    make.enroll(learner, homework)
    body = _multipart([(f"f{n}.pdf", PDF) for n in range(21)])
    refused, _ = _send(app, learner, homework, body)
    assert "at most 20 files" in assert_problem(refused, 422)["detail"]


def test_an_anonymous_upload_is_refused_before_its_body_is_read(
    app: Flask, own_files: Any, homework: Any
) -> None:
    body = _multipart([("big.pdf", PDF + b"x" * (2 * 1024 * 1024))])
    stream = _Counted(body)
    refused = app.test_client().post(
        f"{API}/courses/{homework.slug}/lessons/essay/submission",
        input_stream=stream,
        content_length=len(body),
        content_type="multipart/form-data; boundary=BOUNDARY",
    )
    assert_problem(refused, 401)
    assert stream.taken == 0


def test_a_cookie_upload_takes_its_csrf_token_from_the_header_only(
    app: Flask, own_files: Any, homework: Any, make: Any, admin_user: Any
) -> None:
    make.enroll(admin_user, homework)  # a back-office user: learners have no cookie login
    browser = app.test_client()
    assert log_in(browser, admin_user).status_code == 302
    token = browser.get(f"{API}/auth/csrf").get_json()["csrf_token"]
    path = f"{API}/courses/{homework.slug}/lessons/essay/submission"
    in_the_form = browser.post(
        path, data={"text": "mine", "csrf_token": token}, content_type="multipart/form-data"
    )
    assert_problem(in_the_form, 400)  # the body is not parsed to find it
    done = browser.post(
        path,
        data={"text": "mine", "file": (io.BytesIO(PDF), "essay.pdf")},
        content_type="multipart/form-data",
        headers={"X-CSRFToken": token},
    )
    assert done.status_code == 201, done.get_data(as_text=True)
