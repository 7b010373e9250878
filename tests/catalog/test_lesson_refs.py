"""One reading of a lesson reference: COURSE/LESSON, or the two slugs apart."""

from __future__ import annotations

import pytest

from lms_core.catalog.lessons import LessonRef, find_lesson, lesson_name, lesson_ref
from lms_core.errors import NotFound, ValidationError


@pytest.mark.parametrize(
    "given",
    [("py/loops",), ("py", "loops"), (" py / loops ",), ("py ", " loops")],
)
def test_both_forms_name_the_same_lesson(given):
    ref = lesson_ref(*given)
    assert ref == LessonRef("py", "loops") and str(ref) == "py/loops"


@pytest.mark.parametrize(
    ("given", "contains"),
    [
        (("py",), "COURSE/LESSON"),
        (("py/a/b",), "COURSE/LESSON"),
        (("/loops",), "both slugs"),
        (("py", " "), "both slugs"),
        (("py/loops", "loops"), "not both"),
    ],
)
def test_anything_else_is_refused_naming_the_field(given, contains):
    with pytest.raises(ValidationError, match=contains) as err:
        lesson_ref(*given, field="quiz")
    assert err.value.field == "quiz"


def test_find_lesson_and_its_name(make, session):
    course = make.course(slug="py", lessons=1)
    lesson = find_lesson(session, lesson_ref("py/lesson-1"))
    assert lesson.course_id == course.id and lesson_name(lesson) == "py/lesson-1"
    with pytest.raises(NotFound, match="no lesson py/nope"):
        find_lesson(session, lesson_ref("py", "nope"))
