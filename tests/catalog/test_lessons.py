"""Lessons: order 1..n without gaps, slugs unique per course, reorder, progress follows changes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from lms_core.accounts import audit
from lms_core.catalog import lessons
from lms_core.catalog.fields import LESSON, LessonCreate, LessonUpdate
from lms_core.errors import Conflict, ErrorList, NotFound, PermissionDenied, ValidationError
from tests.helpers import as_, audit_log, complete_lessons, fields_of


def order(session, operator, course):
    return [
        (lesson.slug, lesson.order_index)
        for lesson in lessons.list_lessons(session, actor=operator, course_slug=course.slug)
    ]


def add(session, operator, course, slug, **kwargs):
    kwargs.setdefault("title", slug.title())
    return lessons.add_lesson(
        session, actor=operator, course_slug=course.slug, data=LessonCreate(slug=slug, **kwargs)
    )


def test_add_appends_lessons_numbered_from_one(session, operator, make):
    course = make.course(slug="c1")
    for slug in ("a", "b", "c"):
        add(session, operator, course, slug)
    assert order(session, operator, course) == [("a", 1), ("b", 2), ("c", 3)]


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (1, ["new", "lesson-1", "lesson-2", "lesson-3"]),
        (2, ["lesson-1", "new", "lesson-2", "lesson-3"]),
        (4, ["lesson-1", "lesson-2", "lesson-3", "new"]),
    ],
)
def test_add_at_a_position_shifts_the_ones_after_it(session, operator, make, position, expected):
    course = make.course(lessons=3)
    lesson = add(session, operator, course, "new", position=position)
    assert lesson.order_index == position
    assert order(session, operator, course) == [(s, i) for i, s in enumerate(expected, start=1)]


@pytest.mark.parametrize("position", [0, 5, -1])
def test_add_at_a_position_outside_the_course_is_refused(session, operator, make, position):
    course = make.course(lessons=3)
    with pytest.raises(ValidationError, match="between 1 and 4") as err:
        add(session, operator, course, "new", position=position)
    assert err.value.field == "position"


def test_add_stores_every_field(session, operator, make):
    course = make.course()
    lesson = add(
        session,
        operator,
        course,
        "intro",
        title=" Intro ",
        lesson_type="Video",
        duration_minutes=12,
        video_url="https://video.example.org/1",
        content=" Hello ",
        is_preview=True,
        is_required=False,
    )
    assert (lesson.title, lesson.lesson_type, lesson.duration_minutes) == ("Intro", "video", 12)
    assert (lesson.video_url, lesson.content) == ("https://video.example.org/1", "Hello")
    assert (lesson.is_preview, lesson.is_required) == (True, False)


def test_add_defaults_to_a_required_text_lesson(session, operator, make):
    lesson = add(session, operator, make.course(), "intro")
    assert (lesson.lesson_type, lesson.is_required, lesson.is_preview) == ("text", True, False)


def test_add_reports_every_bad_field(session, operator, make):
    with pytest.raises(ErrorList) as err:
        add(
            session,
            operator,
            make.course(),
            "Bad Slug",
            title="",
            lesson_type="podcast",
            duration_minutes=-1,
            video_url="javascript:alert(1)",
        )
    assert fields_of(err.value) == {"slug", "title", "lesson_type", "duration_minutes", "video_url"}


def test_add_without_a_title_is_refused(session, operator, make):
    with pytest.raises(ValidationError, match="is required") as err:
        lessons.add_lesson(
            session,
            actor=operator,
            course_slug=make.course().slug,
            data=LessonCreate(slug="a", title=None),
        )
    assert err.value.field == "title"


def test_duplicate_slug_in_the_same_course_is_refused(session, operator, make):
    course = make.course(lessons=1)
    with pytest.raises(Conflict, match="already has a lesson lesson-1") as err:
        add(session, operator, course, "lesson-1")
    assert err.value.field == "slug"
    assert order(session, operator, course) == [("lesson-1", 1)]


def test_the_same_slug_is_allowed_in_another_course(session, operator, make):
    make.course(lessons=1)
    other = make.course()
    assert add(session, operator, other, "lesson-1").order_index == 1


def test_add_is_for_the_course_manager(session, make, teacher):
    mine = make.course(instructor=teacher)
    theirs = make.course()
    assert add(session, as_(teacher), mine, "ok").slug == "ok"
    with pytest.raises(PermissionDenied, match="add lessons"):
        add(session, as_(teacher), theirs, "nope")


def test_add_to_an_unknown_course_is_not_found(session, operator):
    with pytest.raises(NotFound):
        lessons.add_lesson(
            session, actor=operator, course_slug="ghost", data=LessonCreate(slug="a", title="A")
        )


def test_add_is_audited(session, make, teacher):
    course = make.course(instructor=teacher)
    lesson = add(session, as_(teacher), course, "intro")
    [entry] = audit_log(session, "lesson.add")
    assert (entry.actor_label, entry.entity_type, entry.entity_id) == (
        teacher.email,
        "lessons",
        lesson.id,
    )
    assert entry.after["slug"] == "intro"
    assert entry.after["order_index"] == 1


# --- update -----------------------------------------------------------------------------------


def test_update_changes_fields_and_audits(session, operator, make):
    course = make.course(lessons=1)
    lesson = lessons.update_lesson(
        session,
        actor=operator,
        course_slug=course.slug,
        slug="lesson-1",
        data=LessonUpdate(title="Welcome", duration_minutes=5, slug="welcome"),
    )
    assert (lesson.slug, lesson.title, lesson.duration_minutes) == ("welcome", "Welcome", 5)
    [entry] = audit_log(session, "lesson.update")
    assert entry.after == {"slug": "welcome", "title": "Welcome", "duration_minutes": 5}
    assert entry.before["slug"] == "lesson-1"


def test_update_to_a_taken_slug_is_refused(session, operator, make):
    course = make.course(lessons=2)
    with pytest.raises(Conflict, match="already has a lesson lesson-2"):
        lessons.update_lesson(
            session,
            actor=operator,
            course_slug=course.slug,
            slug="lesson-1",
            data=LessonUpdate(slug="lesson-2"),
        )


def test_update_with_nothing_is_refused(session, operator, make):
    course = make.course(lessons=1)
    with pytest.raises(ValidationError, match="nothing to change"):
        lessons.update_lesson(
            session, actor=operator, course_slug=course.slug, slug="lesson-1", data=LessonUpdate()
        )


def test_update_of_an_unknown_lesson_is_not_found(session, operator, make):
    course = make.course(lessons=1)
    with pytest.raises(NotFound, match="has no lesson nope") as err:
        lessons.update_lesson(
            session,
            actor=operator,
            course_slug=course.slug,
            slug="nope",
            data=LessonUpdate(title="X"),
        )
    assert err.value.field == "lesson_slug"


def test_update_by_another_instructor_is_refused(session, make, teacher):
    course = make.course(lessons=1)
    with pytest.raises(PermissionDenied):
        lessons.update_lesson(
            session,
            actor=as_(teacher),
            course_slug=course.slug,
            slug="lesson-1",
            data=LessonUpdate(title="Mine"),
        )


def test_making_the_last_open_lesson_optional_completes_active_enrollments(session, operator, make):
    course = make.course(lessons=2, published=True)
    student = make.user()
    enrollment = make.enroll(student, course)
    complete_lessons(session, operator, student, course, "lesson-1")
    assert enrollment.progress_percentage == Decimal("50.00")
    lessons.update_lesson(
        session,
        actor=operator,
        course_slug=course.slug,
        slug="lesson-2",
        data=LessonUpdate(is_required=False),
    )
    assert enrollment.progress_percentage == Decimal("100.00")
    assert enrollment.status == "completed"
    assert enrollment.completed_at is not None


def test_making_a_lesson_required_again_lowers_progress(session, operator, make):
    course = make.course(lessons=3, published=True)
    student = make.user()
    enrollment = make.enroll(student, course)
    lessons.update_lesson(
        session,
        actor=operator,
        course_slug=course.slug,
        slug="lesson-3",
        data=LessonUpdate(is_required=False),
    )
    complete_lessons(session, operator, student, course, "lesson-1")
    assert enrollment.progress_percentage == Decimal("50.00")
    lessons.update_lesson(
        session,
        actor=operator,
        course_slug=course.slug,
        slug="lesson-3",
        data=LessonUpdate(is_required=True),
    )
    assert enrollment.progress_percentage == Decimal("33.33")
    assert enrollment.status == "active"


# --- delete -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gone", "left"),
    [
        ("lesson-1", ["lesson-2", "lesson-3", "lesson-4"]),
        ("lesson-2", ["lesson-1", "lesson-3", "lesson-4"]),
        ("lesson-4", ["lesson-1", "lesson-2", "lesson-3"]),
    ],
)
def test_delete_renumbers_without_gaps(session, operator, make, gone, left):
    course = make.course(lessons=4)
    lessons.delete_lesson(session, actor=operator, course_slug=course.slug, slug=gone)
    assert order(session, operator, course) == [(s, i) for i, s in enumerate(left, start=1)]
    [entry] = audit_log(session, "lesson.delete")
    assert entry.before["slug"] == gone


def test_delete_recomputes_progress(session, operator, make):
    course = make.course(lessons=2, published=True)
    student = make.user()
    enrollment = make.enroll(student, course)
    complete_lessons(session, operator, student, course, "lesson-1")
    lessons.delete_lesson(session, actor=operator, course_slug=course.slug, slug="lesson-2")
    assert enrollment.progress_percentage == Decimal("100.00")
    assert enrollment.status == "completed"


def test_delete_by_another_instructor_is_refused(session, make, teacher):
    course = make.course(lessons=1)
    with pytest.raises(PermissionDenied):
        lessons.delete_lesson(session, actor=as_(teacher), course_slug=course.slug, slug="lesson-1")


def test_adding_a_lesson_lowers_progress_of_active_enrollments(session, operator, make):
    course = make.course(lessons=2, published=True)
    student = make.user()
    enrollment = make.enroll(student, course)
    complete_lessons(session, operator, student, course, "lesson-1")
    add(session, operator, course, "lesson-3")
    assert enrollment.progress_percentage == Decimal("33.33")


# --- reorder ----------------------------------------------------------------------------------


def test_reorder_puts_lessons_in_the_given_order(session, operator, make):
    course = make.course(lessons=3)
    result = lessons.reorder_lessons(
        session,
        actor=operator,
        course_slug=course.slug,
        slugs=["lesson-3", " lesson-1 ", "lesson-2"],
    )
    assert [lesson.slug for lesson in result] == ["lesson-3", "lesson-1", "lesson-2"]
    assert order(session, operator, course) == [("lesson-3", 1), ("lesson-1", 2), ("lesson-2", 3)]
    [entry] = audit_log(session, "course.reorder_lessons")
    assert entry.before == {"order": ["lesson-1", "lesson-2", "lesson-3"]}
    assert entry.after == {"order": ["lesson-3", "lesson-1", "lesson-2"]}
    assert (entry.entity_type, entry.entity_id) == ("courses", course.id)


@pytest.mark.parametrize(
    ("slugs", "message"),
    [
        (["lesson-1", "lesson-2", "lesson-3", "extra"], "unknown: extra"),
        (["lesson-1", "lesson-3"], "missing: lesson-2"),
        (["lesson-1", "lesson-2", "lesson-3", "lesson-1"], "named twice: lesson-1"),
        (
            ["lesson-1", "lesson-1", "nope"],
            "unknown: nope; missing: lesson-2, lesson-3; named twice: lesson-1",
        ),
        ([], "missing: lesson-1, lesson-2, lesson-3"),
    ],
)
def test_reorder_must_name_each_lesson_once(session, operator, make, slugs, message):
    course = make.course(lessons=3)
    with pytest.raises(ValidationError) as err:
        lessons.reorder_lessons(session, actor=operator, course_slug=course.slug, slugs=slugs)
    assert err.value.field == "slugs"
    assert "must name every lesson of the course once" in err.value.message
    assert f"({message})" in err.value.message
    assert order(session, operator, course) == [("lesson-1", 1), ("lesson-2", 2), ("lesson-3", 3)]


def test_reorder_by_another_instructor_is_refused(session, make, teacher):
    course = make.course(lessons=2)
    with pytest.raises(PermissionDenied):
        lessons.reorder_lessons(
            session, actor=as_(teacher), course_slug=course.slug, slugs=["lesson-2", "lesson-1"]
        )


# --- list -------------------------------------------------------------------------------------


def test_unpublished_lessons_are_for_the_course_managers_only(session, make, teacher, learner):
    course = make.course(instructor=teacher, lessons=2)
    assert len(lessons.list_lessons(session, actor=as_(teacher), course_slug=course.slug)) == 2
    with pytest.raises(PermissionDenied, match="unpublished course"):
        lessons.list_lessons(session, actor=as_(learner), course_slug=course.slug)


def test_published_lessons_are_listed_for_anyone(session, make, learner):
    course = make.course(lessons=2, published=True)
    assert [
        lesson.slug
        for lesson in lessons.list_lessons(session, actor=as_(learner), course_slug=course.slug)
    ] == ["lesson-1", "lesson-2"]


def test_lesson_row(session, make):
    course = make.course(lessons=1)
    row = lessons.lesson_row(course.lessons[0])
    assert list(row) == list(LESSON.listing())
    assert (row["course_slug"], row["slug"], row["order_index"]) == (course.slug, "lesson-1", 1)


def test_lesson_row_json_is_the_snapshot_it_replaced(session, make):
    """The typed row prints the same JSON as the generic snapshot did (scripts parse it)."""
    lesson = make.course(lessons=1).lessons[0]
    lesson.content, lesson.video_url, lesson.duration_minutes = 'Read\n"this"', None, 12
    session.flush()
    before = {
        **audit.snapshot(lesson, LESSON.listing()[:1] + LESSON.listing()[2:]),
        "course_slug": lesson.course.slug,
    }
    expected = {f: before[f] for f in LESSON.listing()}
    assert json.dumps(lessons.lesson_row(lesson)) == json.dumps(expected)
