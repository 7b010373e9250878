"""Quizzes: create on a quiz lesson, settings and their field spec, publish, list, show."""

from __future__ import annotations

import pytest

from lms_core.catalog import enrollments
from lms_core.errors import (
    Conflict,
    ErrorList,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from lms_core.quizzes import questions as qs
from lms_core.quizzes import quizzes
from lms_core.quizzes.fields import QuizCreate, QuizUpdate
from tests.helpers import as_, audit_log, fields_of
from tests.quizzes.quizkit import all_types, make_quiz


def test_create_needs_an_existing_lesson_of_type_quiz(session, make, operator):
    course = make.course(lessons=1)
    with pytest.raises(NotFound) as missing:
        quizzes.create_quiz(
            session,
            actor=operator,
            course_slug=course.slug,
            lesson_slug="check",
            data=QuizCreate(title="Q"),
        )
    assert "lmsctl" not in missing.value.message and "of type quiz" in missing.value.message
    assert missing.value.as_dict()["hint"] == {
        "code": "add_quiz_lesson",
        "params": {"course": course.slug, "lesson": "check"},
    }
    with pytest.raises(Conflict) as wrong:
        quizzes.create_quiz(
            session,
            actor=operator,
            course_slug=course.slug,
            lesson_slug="lesson-1",
            data=QuizCreate(title="Q"),
        )
    assert wrong.value.field == "lesson_slug"
    make.lesson(course, slug="check", lesson_type="quiz")
    quiz = quizzes.create_quiz(
        session,
        actor=operator,
        course_slug=course.slug,
        lesson_slug="check",
        data=QuizCreate(
            title=" Checkpoint ",
            time_limit_minutes=20,
            max_attempts=3,
            passing_score="62.5",
            grading_method="Average",
            quiz_type="practice",
        ),
    )
    row = quizzes.quiz_row(quiz)
    assert (
        row["title"] == "Checkpoint"
        and row["course"] == course.slug
        and row["lesson"] == f"{course.slug}/check"
    )
    assert row["passing_score"] == 62.5 and row["grading_method"] == "average"
    assert row["published"] is False and row["questions"] == 0
    assert [e.action for e in audit_log(session, "quiz.create")] == ["quiz.create"]
    with pytest.raises(Conflict):
        quizzes.create_quiz(
            session,
            actor=operator,
            course_slug=course.slug,
            lesson_slug="check",
            data=QuizCreate(title="Again"),
        )


def test_settings_are_checked_all_at_once(session, make, operator):
    course = make.course(lessons=1)
    make.lesson(course, slug="q", lesson_type="quiz")
    with pytest.raises(ErrorList) as bad:
        quizzes.create_quiz(
            session,
            actor=operator,
            course_slug=course.slug,
            lesson_slug="q",
            data=QuizCreate(
                title="",
                passing_score=150,
                max_attempts=-1,
                grading_method="best",
                quiz_type="exam",
            ),
        )
    assert fields_of(bad.value) == {
        "title",
        "passing_score",
        "max_attempts",
        "grading_method",
        "quiz_type",
    }


def test_settings_given_as_text_are_read_by_the_field_rules(session, make, operator):
    """A form sends text: "false" is False (``bool("false")`` is True), "12" is 12."""
    course = make.course(lessons=1)
    make.lesson(course, slug="q", lesson_type="quiz")
    quiz = quizzes.create_quiz(
        session,
        actor=operator,
        course_slug=course.slug,
        lesson_slug="q",
        data=QuizCreate(
            title="Q",
            shuffle_questions="yes",  # type: ignore[arg-type]
            show_correct_answers="false",  # type: ignore[arg-type]
            time_limit_minutes="12",  # type: ignore[arg-type]
            max_attempts="0",  # type: ignore[arg-type]
            passing_score="1e1",
        ),
    )
    assert (quiz.shuffle_questions, quiz.show_correct_answers) == (True, False)
    assert (quiz.time_limit_minutes, quiz.max_attempts, quiz.passing_score) == (12, None, 10)
    with pytest.raises(ErrorList) as bad:
        quizzes.update_quiz(
            session,
            actor=operator,
            quiz_ref=quiz.id,
            data=QuizUpdate(
                shuffle_options="maybe",  # type: ignore[arg-type]
                passing_score="1e30",
                time_limit_minutes=366 * 24 * 60 + 1,
            ),
        )
    assert fields_of(bad.value) == {"shuffle_options", "passing_score", "time_limit_minutes"}


def test_only_the_course_instructor_or_an_admin_manages_quizzes(session, make, operator):
    setup = make_quiz(session, make, operator, publish=False)
    other = make.user("instructor")
    with pytest.raises(PermissionDenied):
        quizzes.update_quiz(
            session, actor=as_(other), quiz_ref=setup.ref, data=QuizUpdate(title="Mine")
        )
    with pytest.raises(PermissionDenied):
        qs.list_questions(session, actor=as_(setup.student), quiz_ref=setup.ref)
    quiz = quizzes.update_quiz(
        session, actor=as_(setup.teacher), quiz_ref=setup.ref, data=QuizUpdate(title="Ours")
    )
    assert quiz.title == "Ours"


def test_quiz_references(session, make, operator):
    setup = make_quiz(session, make, operator)
    assert quizzes.get_quiz(session, setup.ref).id == setup.quiz.id
    assert quizzes.get_quiz(session, str(setup.quiz.id)).id == setup.quiz.id
    assert quizzes.get_quiz(session, setup.quiz.id).id == setup.quiz.id
    with pytest.raises(NotFound):
        quizzes.get_quiz(session, f"{setup.course.slug}/nope")
    with pytest.raises(NotFound):
        quizzes.get_quiz(session, "999999")
    with pytest.raises(ValidationError):
        quizzes.get_quiz(session, "no-slash")


def test_publish_refuses_a_quiz_without_questions(session, make, operator):
    course = make.course(lessons=1)
    make.lesson(course, slug="q", lesson_type="quiz")
    quizzes.create_quiz(
        session,
        actor=operator,
        course_slug=course.slug,
        lesson_slug="q",
        data=QuizCreate(title="Q"),
    )
    with pytest.raises(Conflict) as refused:
        quizzes.publish_quiz(session, actor=operator, quiz_ref=f"{course.slug}/q")
    assert "no questions" in refused.value.message
    qs.import_questions(
        session, actor=operator, quiz_ref=f"{course.slug}/q", questions=all_types()[:1]
    )
    quiz = quizzes.publish_quiz(session, actor=operator, quiz_ref=f"{course.slug}/q")
    assert quiz.is_published
    quizzes.publish_quiz(session, actor=operator, quiz_ref=f"{course.slug}/q")  # idempotent
    assert len(audit_log(session, "quiz.publish")) == 1


def test_update_changes_settings_and_zero_clears_a_limit(session, make, operator):
    setup = make_quiz(session, make, operator, time_limit_minutes=10, max_attempts=2)
    quiz = quizzes.update_quiz(
        session,
        actor=operator,
        quiz_ref=setup.ref,
        data=QuizUpdate(time_limit_minutes=0, max_attempts=5),
    )
    assert quiz.time_limit_minutes is None and quiz.max_attempts == 5
    (entry,) = audit_log(session, "quiz.update")
    assert entry.after == {"time_limit_minutes": None, "max_attempts": 5}
    with pytest.raises(ValidationError):
        quizzes.update_quiz(session, actor=operator, quiz_ref=setup.ref, data=QuizUpdate())


def test_list_shows_learners_only_published_quizzes(session, make, operator):
    shown = make_quiz(session, make, operator)
    hidden = make_quiz(session, make, operator, publish=False)
    rows = quizzes.list_quizzes(session, actor=operator)
    assert {r["id"] for r in rows} >= {shown.quiz.id, hidden.quiz.id}
    mine = quizzes.list_quizzes(session, actor=as_(shown.student))
    assert shown.quiz.id in {r["id"] for r in mine} and hidden.quiz.id not in {
        r["id"] for r in mine
    }
    teacher_view = quizzes.list_quizzes(
        session, actor=as_(hidden.teacher), course_slug=hidden.course.slug
    )
    assert [r["id"] for r in teacher_view] == [hidden.quiz.id]
    row = teacher_view[0]
    assert {"id", "title", "course", "lesson", "published", "questions"} <= set(row)
    assert row["course"] == hidden.course.slug and row["questions"] == 7
    assert row["lesson"] == f"{hidden.course.slug}/quiz"
    with pytest.raises(PermissionDenied):
        quizzes.show_quiz(session, actor=as_(shown.student), quiz_ref=hidden.ref)
    assert quizzes.show_quiz(session, actor=as_(shown.student), quiz_ref=shown.ref)["points"] == 10


def test_list_keeps_each_instructor_to_their_own_courses(session, make, operator):
    """An instructor never lists another instructor's quizzes (published or not); a learner
    lists the published quizzes of the courses they are enrolled in, not others', nor after a
    drop; an administrator lists all."""
    ada = make_quiz(session, make, operator)
    bob = make_quiz(session, make, operator)
    draft = make_quiz(session, make, operator, publish=False)

    def ids(actor):
        return {r["id"] for r in quizzes.list_quizzes(session, actor=actor)}

    assert ids(as_(ada.teacher)) == {ada.quiz.id}
    assert ids(as_(bob.teacher)) == {bob.quiz.id}
    assert ids(as_(draft.teacher)) == {draft.quiz.id}
    assert ids(as_(draft.student)) == set()
    assert ids(as_(ada.student)) == {ada.quiz.id}
    assert ids(as_(bob.student)) == {bob.quiz.id}
    assert {ada.quiz.id, bob.quiz.id, draft.quiz.id} <= ids(operator)
    enrollments.drop(session, actor=operator, email=ada.student.email, course_slug=ada.course.slug)
    assert ids(as_(ada.student)) == set()


def test_show_keeps_to_what_list_shows(session, make, operator):
    """``quizzes show`` has the scope of ``quizzes list``: another instructor or a learner not
    enrolled (or dropped) cannot read a published quiz's settings."""
    ada = make_quiz(session, make, operator)
    bob = make_quiz(session, make, operator)

    def show(actor, setup):
        return quizzes.show_quiz(session, actor=actor, quiz_ref=setup.ref)["id"]

    assert show(as_(ada.teacher), ada) == show(as_(ada.student), ada) == ada.quiz.id
    assert show(operator, bob) == bob.quiz.id
    for outsider in (ada.teacher, ada.student):
        with pytest.raises(PermissionDenied, match=f"course {bob.course.slug}"):
            show(as_(outsider), bob)
    enrollments.drop(session, actor=operator, email=ada.student.email, course_slug=ada.course.slug)
    with pytest.raises(PermissionDenied):
        show(as_(ada.student), ada)


def test_the_field_spec_defaults_are_the_models():
    """``fields.DEFAULTS`` documents what a new quiz gets; the model's columns decide it."""
    from lms_core.models import Quiz
    from lms_core.quizzes.fields import DEFAULTS, SETTINGS, QuizSettings

    for name, default in DEFAULTS.items():
        column = Quiz.__table__.c[name]
        assert (column.default.arg if column.default is not None else None) == default, name
    # Every setting is a field of the typed input, and nothing else is.
    assert set(QuizSettings.__dataclass_fields__) == set(SETTINGS)


def test_a_quiz_created_with_no_settings_has_the_defaults(session, make, operator):
    from lms_core.quizzes.fields import DEFAULTS

    course = make.course(lessons=1)
    make.lesson(course, slug="q", lesson_type="quiz")
    quiz = quizzes.create_quiz(
        session,
        actor=operator,
        course_slug=course.slug,
        lesson_slug="q",
        data=QuizCreate(title="Q"),
    )
    assert {name: getattr(quiz, name) for name in DEFAULTS} == dict(DEFAULTS)


def test_rows_keep_their_json_keys_in_order(session, make, operator):
    """The typed rows are the ``--json`` contract: scripts and docs rely on these keys."""
    from lms_core.quizzes import attempts
    from lms_core.quizzes.questions import question_row
    from lms_core.quizzes.review import attempt_row

    setup = make_quiz(session, make, operator)
    assert list(quizzes.quiz_row(setup.quiz)) == [
        "id",
        "title",
        "course",
        "lesson",
        "quiz_type",
        "passing_score",
        "time_limit_minutes",
        "max_attempts",
        "shuffle_questions",
        "shuffle_options",
        "show_correct_answers",
        "grading_method",
        "published",
        "questions",
        "description",
    ]
    shown = quizzes.show_quiz(session, actor=operator, quiz_ref=setup.ref)
    assert list(shown)[-2:] == ["points", "attempts"]
    assert list(question_row(setup.quiz.questions[0])) == [
        "number",
        "id",
        "question_type",
        "title",
        "question_text",
        "text_format",
        "points",
        "options",
        "correct_answer",
        "explanation",
        "category",
    ]
    started = attempts.start_attempt(
        session, actor=operator, quiz_ref=setup.ref, email=setup.student.email
    )
    row = attempt_row(started.attempt, setup.student.email)
    assert list(row) == [
        "id",
        "quiz_id",
        "email",
        "number",
        "status",
        "score",
        "passed",
        "points_earned",
        "points_possible",
        "started_at",
        "deadline_at",
        "submitted_at",
        "graded_at",
    ]
    assert isinstance(row["started_at"], str) and row["score"] is None
