"""Back office: quizzes and questions (list, settings, publish, bank upload, remove a question)
by role, each write the CLI's service and audit entry, a refused write changing nothing."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.models import Question, Quiz
from tests.cli.helpers import audit_count
from tests.quizzes.quizkit import QuizSetup, add_quiz, make_quiz
from tests.web.assess_kit import field_errors, follow, learner_client, state, statements, text
from tests.web.conftest import csrf_token, post_form

GOOD_GIFT = b"::Sky:: The sky is blue. {T}\n\n::Sum:: 2 + 2 = ? {=4 ~3 ~5}\n"
BAD_GIFT = b"::Sky:: The sky is blue. {T}\n\n::Sum:: 2 + 2 = ? {=4 ~3 ~5\n"


@pytest.fixture
def setup(session: Session, make: Any, operator: Any) -> QuizSetup:
    return make_quiz(session, make, operator, publish=False)


def _count(session: Session, quiz_id: int) -> int:
    return session.scalar(select(func.count()).where(Question.quiz_id == quiz_id)) or 0


def test_who_sees_the_quiz(
    logged_in: Any, make: Any, session: Session, admin_user: Any, setup: QuizSetup
) -> None:
    quiz = setup.quiz
    for user in (admin_user, setup.teacher):
        body = text(logged_in(user).get("/admin/quiz/"))
        assert setup.course.slug in body and f"/admin/quiz/details/?id={quiz.id}" in body
        page = logged_in(user).get(f"/admin/quiz/details/?id={quiz.id}")
        assert page.status_code == 200 and "Why test?" in text(page)
    other = logged_in(make.user("instructor"))
    assert setup.course.slug not in text(other.get("/admin/quiz/"))
    assert "does not exist" in follow(other, other.get(f"/admin/quiz/details/?id={quiz.id}"))
    assert "does not exist" in follow(other, other.get(f"/admin/quiz/edit/?id={quiz.id}"))
    assert other.get(f"/admin/quiz/bank/?id={quiz.id}").status_code == 404
    learner = learner_client(logged_in, make, session)
    assert learner.get("/admin/quiz/").status_code == 403
    assert learner.get(f"/admin/quiz/bank/?id={quiz.id}").status_code == 403
    assert learner.get("/admin/question/").status_code == 403


def test_publish_is_the_service_with_its_audit_entry(
    logged_in: Any, session: Session, setup: QuizSetup
) -> None:
    client = logged_in(setup.teacher)
    before = audit_count(session, "quiz.publish")
    response = post_form(
        client,
        "/admin/quiz/action/",
        {"action": "publish", "rowid": str(setup.quiz.id), "url": "/admin/quiz/"},
        form_page="/admin/quiz/",
    )
    assert f"Published quiz {setup.quiz.id}" in follow(client, response)
    session.expire_all()
    assert session.get(Quiz, setup.quiz.id).is_published is True  # type: ignore[union-attr]
    assert audit_count(session, "quiz.publish") == before + 1


def test_another_instructor_cannot_publish_by_id(
    logged_in: Any, make: Any, session: Session, setup: QuizSetup
) -> None:
    client = logged_in(make.user("instructor"))
    before = state(session)
    token = csrf_token(client, "/admin/quiz/")
    response = client.post(
        "/admin/quiz/action/",
        data={"action": "publish", "rowid": str(setup.quiz.id), "csrf_token": token},
    )
    assert "No quiz selected" in follow(client, response)
    assert state(session) == before


def _settings(quiz: Quiz, **changes: Any) -> dict[str, Any]:
    data = {
        "title": quiz.title,
        "description": "",
        "quiz_type": quiz.quiz_type,
        "passing_score": "70",
        "time_limit_minutes": "",
        "max_attempts": "",
        "show_correct_answers": "y",
        "grading_method": quiz.grading_method,
    }
    return {**data, **changes}


def test_settings_are_saved_by_update_quiz(
    logged_in: Any, session: Session, setup: QuizSetup
) -> None:
    client = logged_in(setup.teacher)
    edit = f"/admin/quiz/edit/?id={setup.quiz.id}"
    response = post_form(
        client, edit, _settings(setup.quiz, passing_score="55", max_attempts="3"), form_page=edit
    )
    assert response.status_code == 302
    session.expire_all()
    quiz = session.get(Quiz, setup.quiz.id)
    assert quiz is not None and float(quiz.passing_score) == 55 and quiz.max_attempts == 3
    assert audit_count(session, "quiz.update") == 1


def test_a_refused_setting_changes_nothing(
    logged_in: Any, session: Session, setup: QuizSetup
) -> None:
    client = logged_in(setup.teacher)
    edit = f"/admin/quiz/edit/?id={setup.quiz.id}"
    before = state(session)
    response = post_form(client, edit, _settings(setup.quiz, passing_score="250"), form_page=edit)
    body = text(response) if response.status_code == 200 else follow(client, response)
    assert "passing_score" in body
    assert state(session) == before


def _upload(client: Any, quiz_id: int, data: bytes, name: str, **extra: str) -> Any:
    path = f"/admin/quiz/bank/?id={quiz_id}"
    form = {
        "csrf_token": csrf_token(client, path),
        "step": "preview",
        "file": (io.BytesIO(data), name),
        **extra,
    }
    return client.post(path, data=form, content_type="multipart/form-data")


def _apply_fields(page: str) -> dict[str, str]:
    """The hidden fields of the preview's "Import" form, as the browser would send them."""
    start = page.index('name="step" value="apply"')
    form = page[page.rindex("<form", 0, start) : page.index("</form>", start)]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))


def test_bank_upload_previews_then_imports(
    logged_in: Any, session: Session, setup: QuizSetup
) -> None:
    client = logged_in(setup.teacher)
    quiz_id = setup.quiz.id
    n = _count(session, quiz_id)
    before = state(session)
    preview = text(_upload(client, quiz_id, GOOD_GIFT, "bank.gift"))
    assert "Would import 2 question(s)" in preview and "The sky is blue." in preview
    assert state(session) == before  # the dry run wrote nothing
    fields = _apply_fields(preview)
    assert fields["step"] == "apply"
    response = client.post(f"/admin/quiz/bank/?id={quiz_id}", data=fields)
    assert "Imported 2 question(s) from bank.gift" in text(response)
    assert _count(session, quiz_id) == n + 2
    assert audit_count(session, "quiz.import_questions") == 2  # make_quiz's, then ours


def test_a_stale_plan_is_refused(logged_in: Any, session: Session, setup: QuizSetup) -> None:
    client = logged_in(setup.teacher)
    preview = text(_upload(client, setup.quiz.id, GOOD_GIFT, "bank.gift"))
    fields = _apply_fields(preview)
    fields["replace"] = "y"  # not the plan that was shown
    before = state(session)
    body = text(client.post(f"/admin/quiz/bank/?id={setup.quiz.id}", data=fields))
    assert "the quiz changed since the preview" in body
    assert state(session) == before


def test_a_malformed_bank_is_refused_with_the_clis_lines(
    logged_in: Any, cli: Any, tmp_path: Any, session: Session, setup: QuizSetup
) -> None:
    bank = tmp_path / "bank.gift"
    bank.write_bytes(BAD_GIFT)
    result = cli("quizzes", "import", setup.ref, str(bank))
    assert result.exit_code == 1
    cli_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert cli_lines and "line" in cli_lines[0]
    client = logged_in(setup.teacher)
    before = state(session)
    body = text(_upload(client, setup.quiz.id, BAD_GIFT, str(bank)))
    for line in cli_lines:
        assert line in body
    assert "nothing was imported" in body
    assert state(session) == before


def test_remove_question_is_the_service(logged_in: Any, session: Session, setup: QuizSetup) -> None:
    client = logged_in(setup.teacher)
    first = session.scalars(
        select(Question).where(Question.quiz_id == setup.quiz.id, Question.order_index == 1)
    ).one()
    n = _count(session, setup.quiz.id)
    details = f"/admin/quiz/details/?id={setup.quiz.id}"
    response = post_form(
        client, "/admin/question/delete/", {"id": str(first.id), "url": details}, form_page=details
    )
    assert f"Removed question 1 of quiz {setup.quiz.id}" in follow(client, response)
    assert _count(session, setup.quiz.id) == n - 1
    assert audit_count(session, "quiz.remove_question") == 1


def test_another_instructor_cannot_remove_a_question(
    logged_in: Any, make: Any, session: Session, setup: QuizSetup
) -> None:
    client = logged_in(make.user("instructor"))
    qid = session.scalars(select(Question.id).where(Question.quiz_id == setup.quiz.id)).first()
    before = state(session)
    response = post_form(
        client, "/admin/question/delete/", {"id": str(qid)}, form_page="/admin/question/"
    )
    assert "does not exist" in follow(client, response)
    assert state(session) == before


def test_list_statements_do_not_grow_with_the_rows(
    logged_in: Any, connection: Any, session: Session, make: Any, setup: QuizSetup
) -> None:
    client = logged_in(setup.teacher)
    client.get("/admin/quiz/")
    with statements(connection) as few:
        assert client.get("/admin/quiz/").status_code == 200
    for i in range(8):
        add_quiz(session, make, setup.course, f"extra-{i}")
    with statements(connection) as many:
        body = text(client.get("/admin/quiz/"))
    assert "extra-7" in body
    assert len(many) == len(few), many
    with statements(connection) as questions_few:
        client.get("/admin/question/")
    with statements(connection) as questions_many:
        client.get("/admin/question/?page_size=100")
    assert len(questions_many) == len(questions_few)


def _new_quiz(client: Any, **fields: str) -> Any:
    data = {
        "lesson": "",
        "title": "Unit test",
        "quiz_type": "graded",
        "passing_score": "70",
        "time_limit_minutes": "",
        "max_attempts": "",
        "grading_method": "highest",
        "shuffle_options": "y",
        **fields,
    }
    return post_form(client, "/admin/quiz/new/", data, form_page="/admin/quiz/new/")


def test_an_instructor_creates_a_quiz_on_a_quiz_lesson_of_their_own_course(
    logged_in: Any, make: Any, session: Session, setup: QuizSetup
) -> None:
    make.lesson(setup.course, slug="final", lesson_type="quiz")
    other_course = make.course(instructor=make.user("instructor"))
    make.lesson(other_course, slug="theirs", lesson_type="quiz")
    client = logged_in(setup.teacher)
    form = text(client.get("/admin/quiz/new/"))
    assert f'value="{setup.course.slug}/final"' in form
    assert f"{setup.course.slug}/quiz" not in form  # has a quiz already
    assert other_course.slug not in form  # not theirs

    before = state(session)
    refused = _new_quiz(client, lesson=f"{setup.course.slug}/final", passing_score="170")
    assert refused.status_code == 200
    page = text(refused)
    # The service's message, under its field, and flashed with the field's label.
    assert field_errors(page, "passing_score") == ["must be a number from 0 to 100"]
    assert "Passing score (%): must be a number from 0 to 100" in page
    assert state(session) == before

    forged = _new_quiz(client, lesson=f"{other_course.slug}/theirs")
    assert forged.status_code == 200 and "Not a valid choice" in text(forged)
    assert state(session) == before

    created = _new_quiz(client, lesson=f"{setup.course.slug}/final")
    assert created.status_code == 302
    assert "Created quiz" in follow(client, created)
    session.expire_all()
    quiz = session.scalars(select(Quiz).where(Quiz.title == "Unit test")).one()
    assert (quiz.lesson.slug, quiz.is_published, float(quiz.passing_score)) == ("final", False, 70)
    assert audit_count(session, "quiz.create") == 2  # make_quiz's, then this one
