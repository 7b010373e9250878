"""Quizzes and their questions: create on a quiz lesson, settings, publish, list, import, remove."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lms_core.errors import (
    Conflict,
    ErrorList,
    FileRefused,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from lms_core.models import Question
from lms_core.quizzes import questions as qs
from lms_core.quizzes import quizzes
from lms_core.quizzes.bank.shapes import QuestionData
from tests.helpers import as_, audit_log, fields_of
from tests.quizzes.quizkit import all_types, make_quiz


def test_create_needs_an_existing_lesson_of_type_quiz(session, make, operator):
    course = make.course(lessons=1)
    with pytest.raises(NotFound) as missing:
        quizzes.create_quiz(
            session, actor=operator, course_slug=course.slug, lesson_slug="check", title="Q"
        )
    assert "lmsctl lessons add" in missing.value.message and "--type quiz" in missing.value.message
    with pytest.raises(Conflict) as wrong:
        quizzes.create_quiz(
            session, actor=operator, course_slug=course.slug, lesson_slug="lesson-1", title="Q"
        )
    assert wrong.value.field == "lesson_slug"
    make.lesson(course, slug="check", lesson_type="quiz")
    quiz = quizzes.create_quiz(
        session,
        actor=operator,
        course_slug=course.slug,
        lesson_slug="check",
        title=" Checkpoint ",
        time_limit_minutes=20,
        max_attempts=3,
        passing_score="62.5",
        grading_method="Average",
        quiz_type="practice",
    )
    row = quizzes.quiz_row(quiz)
    assert (
        row["title"] == "Checkpoint" and row["course"] == course.slug and row["lesson"] == "check"
    )
    assert row["passing_score"] == 62.5 and row["grading_method"] == "average"
    assert row["published"] is False and row["questions"] == 0
    assert [e.action for e in audit_log(session, "quiz.create")] == ["quiz.create"]
    with pytest.raises(Conflict):
        quizzes.create_quiz(
            session, actor=operator, course_slug=course.slug, lesson_slug="check", title="Again"
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
            title="",
            passing_score=150,
            max_attempts=-1,
            grading_method="best",
            quiz_type="exam",
        )
    assert fields_of(bad.value) == {
        "title",
        "passing_score",
        "max_attempts",
        "grading_method",
        "quiz_type",
    }


def test_only_the_course_instructor_or_an_admin_manages_quizzes(session, make, operator):
    setup = make_quiz(session, make, operator, publish=False)
    other = make.user("instructor")
    with pytest.raises(PermissionDenied):
        quizzes.update_quiz(session, actor=as_(other), quiz_ref=setup.ref, title="Mine")
    with pytest.raises(PermissionDenied):
        qs.list_questions(session, actor=as_(setup.student), quiz_ref=setup.ref)
    quiz = quizzes.update_quiz(session, actor=as_(setup.teacher), quiz_ref=setup.ref, title="Ours")
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
        session, actor=operator, course_slug=course.slug, lesson_slug="q", title="Q"
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
        session, actor=operator, quiz_ref=setup.ref, time_limit_minutes=0, max_attempts=5
    )
    assert quiz.time_limit_minutes is None and quiz.max_attempts == 5
    (entry,) = audit_log(session, "quiz.update")
    assert entry.after == {"time_limit_minutes": None, "max_attempts": 5}
    with pytest.raises(ValidationError):
        quizzes.update_quiz(session, actor=operator, quiz_ref=setup.ref)


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
    assert row["course"] == hidden.course.slug and row["lesson"] == "quiz" and row["questions"] == 7
    with pytest.raises(PermissionDenied):
        quizzes.show_quiz(session, actor=as_(shown.student), quiz_ref=hidden.ref)
    assert quizzes.show_quiz(session, actor=as_(shown.student), quiz_ref=shown.ref)["points"] == 10


def test_import_appends_and_replace_keeps_ids_position_by_position(session, make, operator):
    setup = make_quiz(session, make, operator)
    before = qs.ordered_questions(session, setup.quiz.id)
    ids = [q.id for q in before]
    result = qs.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=all_types()[:2]
    )
    assert (result.added, result.total) == (2, 9)
    assert [q.order_index for q in qs.ordered_questions(session, setup.quiz.id)] == list(
        range(1, 10)
    )
    fixed = all_types()[:3]
    fixed[0].options = [
        {"text": "3", "weight": 100, "feedback": None},
        {"text": "4", "weight": 0, "feedback": None},
    ]
    result = qs.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=fixed, replace=True
    )
    assert (result.updated, result.removed, result.added, result.total) == (3, 6, 0, 3)
    after = qs.ordered_questions(session, setup.quiz.id)
    assert [q.id for q in after] == ids[:3]
    assert after[0].options[0]["weight"] == 100
    assert [e.after["replace"] for e in audit_log(session, "quiz.import_questions")] == [
        False,
        False,
        True,
    ]


def test_dry_run_import_writes_nothing(session, make, operator):
    setup = make_quiz(session, make, operator)
    result = qs.import_questions(
        session, actor=operator, quiz_ref=setup.ref, questions=all_types(), dry_run=True
    )
    assert result.added == 7 and result.total == 14
    assert len(qs.ordered_questions(session, setup.quiz.id)) == 7


def test_an_invalid_question_refuses_the_whole_import(session, make, operator):
    setup = make_quiz(session, make, operator)
    bad = QuestionData(question_text="", question_type="multiple_choice", options=[], line=4)
    with pytest.raises(FileRefused) as refused:
        qs.import_questions(
            session,
            actor=operator,
            quiz_ref=setup.ref,
            questions=[*all_types(), bad],
            source="x.gift",
        )
    problem = refused.value.errors[0]
    assert problem.as_dict()["file"] == "x.gift" and problem.line == 4
    assert len(qs.ordered_questions(session, setup.quiz.id)) == 7


def test_remove_question_renumbers(session, make, operator):
    setup = make_quiz(session, make, operator)
    gone = qs.remove_question(session, actor=operator, quiz_ref=setup.ref, number=2)
    assert gone.question_type == "multiple_response"
    rows = [qs.question_row(q) for q in qs.ordered_questions(session, setup.quiz.id)]
    assert [r["number"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["question_type"] for r in rows][:2] == ["multiple_choice", "true_false"]
    with pytest.raises(ValidationError):
        qs.remove_question(session, actor=operator, quiz_ref=setup.ref, number=7)
    assert session.get(Question, gone.id) is None
    assert (
        audit_log(session, "quiz.remove_question")[0].before["question_type"] == "multiple_response"
    )


def test_the_last_question_of_a_published_quiz_stays(session, make, operator):
    setup = make_quiz(session, make, operator, questions=all_types()[:1])
    with pytest.raises(Conflict):
        qs.remove_question(session, actor=operator, quiz_ref=setup.ref, number=1)
    assert quizzes.show_quiz(session, actor=operator, quiz_ref=setup.ref)["points"] == float(
        Decimal(1)
    )
