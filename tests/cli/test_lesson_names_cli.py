"""A lesson is named COURSE/LESSON in every command, and COURSE LESSON (apart) is accepted too;
outputs name lessons COURSE/LESSON."""

from __future__ import annotations

import pytest

from tests.cli.helpers import audit_count, ok, ok_json, refused, refused_json


@pytest.fixture
def course(make):
    teacher = make.user("instructor", email="teacher@test.example")
    course = make.course(slug="py", instructor=teacher, lessons=2, published=True)
    make.lesson(course, slug="check", lesson_type="quiz")
    make.lesson(course, slug="hw", lesson_type="assignment")
    return course


@pytest.mark.parametrize("named", [("py/lesson-1",), ("py", "lesson-1"), (" py / lesson-1 ",)])
def test_lessons_update_takes_either_form(cli, course, named):
    row = ok_json(cli("lessons", "update", *named, "--duration", "7", "--json"))
    assert (row["lesson"], row["duration_minutes"]) == ("py/lesson-1", 7)


def test_add_and_delete_name_the_lesson_course_slash_lesson(cli, course, session):
    added = ok(cli("lessons", "add", "py/loops", "--title", "Loops")).stdout.strip()
    assert added == "added lesson py/loops at position 5"
    listed = ok_json(cli("lessons", "list", "py", "--json"))
    assert [r["lesson"] for r in listed][-1] == "py/loops"
    assert ok(cli("lessons", "delete", "py", "loops")).stdout.strip() == "deleted lesson py/loops"


@pytest.mark.parametrize(
    ("named", "contains"),
    [
        (("py",), "COURSE/LESSON"),
        (("py/a/b",), "COURSE/LESSON"),
        (("py/",), "both slugs"),
        (("py/lesson-1", "lesson-2"), "not both"),
    ],
)
def test_a_lesson_named_neither_way_is_refused_clearly(cli, course, unchanged, named, contains):
    with unchanged():
        refused(cli("lessons", "update", *named, "--duration", "7"), "lesson", contains=contains)
    with unchanged():
        refused_json(
            cli("quizzes", "create", *named, "--title", "Q", "--json"), "lesson", contains=contains
        )


def test_quizzes_and_assignments_are_created_and_shown_by_course_slash_lesson(cli, course):
    quiz = ok_json(cli("quizzes", "create", "py/check", "--title", "Check", "--json"))
    assert (quiz["course"], quiz["lesson"]) == ("py", "py/check")
    assert [q["lesson"] for q in ok_json(cli("quizzes", "list", "--json"))] == ["py/check"]
    assert ok_json(cli("quizzes", "show", "py/check", "--json"))["id"] == quiz["id"]
    assert ok_json(cli("quizzes", "show", " py / check ", "--json"))["id"] == quiz["id"]
    refused(cli("quizzes", "show", "py/check/x"), "quiz", contains="COURSE/LESSON")

    work = ok_json(cli("assignments", "create", "py/hw", "--title", "Homework", "--json"))
    assert (work["ref"], work["course"], work["lesson"]) == ("py/hw", "py", "py/hw")
    apart = ok_json(cli("assignments", "show", "py/hw", "--json"))
    assert apart["id"] == work["id"]
    course_wide = ok_json(cli("assignments", "create", "py", "--title", "Essay", "--json"))
    assert course_wide["lesson"] is None


def test_progress_is_recorded_with_either_form(cli, course, make, session):
    learner = make.user("student", email="learner@test.example")
    make.enroll(learner, course)
    first = ok(cli("enrollments", "complete-lesson", learner.email, "py/lesson-1")).stdout
    assert first.strip() == "learner@test.example: completed py/lesson-1; py at 25%"
    second = ok_json(
        cli("enrollments", "complete-lesson", learner.email, "py", "lesson-2", "--json")
    )
    assert (second["lesson"], second["progress_percentage"]) == ("py/lesson-2", 50)
    assert audit_count(session, "enrollment.complete_lesson") == 2
