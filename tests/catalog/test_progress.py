"""Progress %: share of required lessons (all lessons when none required), rounding, completion."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lms_core.catalog import enrollments, lessons, progress
from lms_core.catalog.fields import LessonUpdate
from tests.helpers import complete_lessons


def optional(session, operator, course, *slugs):
    for slug in slugs:
        lessons.update_lesson(
            session,
            actor=operator,
            course_slug=course.slug,
            slug=slug,
            data=LessonUpdate(is_required=False),
        )


@pytest.mark.parametrize(
    ("n_lessons", "n_done", "expected"),
    [
        (3, 1, "33.33"),
        (3, 2, "66.67"),
        (6, 1, "16.67"),
        (8, 1, "12.50"),
        (7, 3, "42.86"),
        (4, 0, "0.00"),
        (4, 4, "100.00"),
    ],
)
def test_progress_is_the_share_of_lessons_done_with_two_decimals(
    session, operator, make, n_lessons, n_done, expected
):
    course = make.course(lessons=n_lessons, published=True)
    enrollment = make.enroll(course=course)
    complete_lessons(
        session,
        operator,
        enrollment.student,
        enrollment.course,
        *[f"lesson-{i}" for i in range(1, n_done + 1)],
    )
    assert enrollment.progress_percentage == Decimal(expected)
    assert progress.recompute(session, enrollment) == Decimal(expected)
    session.expire_all()
    assert enrollments.find_enrollment(
        session, enrollment.student_id, course.id
    ).progress_percentage == Decimal(expected)


def test_only_required_lessons_count(session, operator, make):
    course = make.course(lessons=4, published=True)
    optional(session, operator, course, "lesson-3", "lesson-4")
    enrollment = make.enroll(course=course)
    complete_lessons(
        session, operator, enrollment.student, enrollment.course, "lesson-3", "lesson-4"
    )
    assert enrollment.progress_percentage == Decimal("0.00")
    complete_lessons(session, operator, enrollment.student, enrollment.course, "lesson-1")
    assert enrollment.progress_percentage == Decimal("50.00")
    complete_lessons(session, operator, enrollment.student, enrollment.course, "lesson-2")
    assert enrollment.status == "completed"


def test_all_lessons_count_when_none_is_required(session, operator, make):
    course = make.course(lessons=2, published=True)
    optional(session, operator, course, "lesson-1", "lesson-2")
    enrollment = make.enroll(course=course)
    complete_lessons(session, operator, enrollment.student, enrollment.course, "lesson-1")
    assert enrollment.progress_percentage == Decimal("50.00")
    assert enrollment.status == "active"
    complete_lessons(session, operator, enrollment.student, enrollment.course, "lesson-2")
    assert enrollment.progress_percentage == Decimal("100.00")
    assert enrollment.status == "completed"


def test_a_course_without_lessons_has_zero_progress_and_never_completes(session, operator, make):
    course = make.course()
    student = make.user()
    enrollment = enrollments.enroll(
        session, actor=operator, email=student.email, course_slug=course.slug
    ).enrollment
    assert progress.recompute(session, enrollment) == Decimal("0")
    assert enrollment.status == "active"
    assert enrollment.completed_at is None


def test_recompute_completes_an_active_enrollment_with_every_lesson_done(session, operator, make):
    course = make.course(lessons=2, published=True)
    enrollment = make.enroll(course=course)
    complete_lessons(session, operator, enrollment.student, enrollment.course, "lesson-1")
    lessons.delete_lesson(session, actor=operator, course_slug=course.slug, slug="lesson-2")
    assert enrollment.status == "completed"
    assert enrollment.completed_at is not None


def test_recompute_does_not_complete_a_dropped_enrollment(session, operator, make):
    course = make.course(lessons=2, published=True)
    enrollment = make.enroll(course=course)
    complete_lessons(session, operator, enrollment.student, enrollment.course, "lesson-1")
    enrollments.drop(
        session, actor=operator, email=enrollment.student.email, course_slug=course.slug
    )
    lessons.delete_lesson(session, actor=operator, course_slug=course.slug, slug="lesson-2")
    assert progress.recompute(session, enrollment) == Decimal("100.00")
    assert enrollment.status == "dropped"
    assert enrollment.completed_at is None


def test_recompute_course_touches_active_enrollments_only(session, operator, make):
    course = make.course(lessons=2, published=True)
    active = make.enroll(course=course)
    dropped = make.enroll(course=course)
    finished = make.enroll(course=course)
    for e in (active, dropped, finished):
        complete_lessons(session, operator, e.student, e.course, "lesson-1")
    complete_lessons(session, operator, finished.student, finished.course, "lesson-2")
    enrollments.drop(session, actor=operator, email=dropped.student.email, course_slug=course.slug)
    make.lesson(course, slug="lesson-3")  # add_lesson recomputes the course
    assert active.progress_percentage == Decimal("33.33")
    assert dropped.progress_percentage == Decimal("50.00")
    assert (finished.progress_percentage, finished.status) == (Decimal("100.00"), "completed")
    assert progress.recompute_course(session, course) == 1


def test_completed_count_counts_lesson_progress_rows(session, operator, make):
    course = make.course(lessons=3, published=True)
    enrollment = make.enroll(course=course)
    assert progress.completed_count(session, enrollment.id) == 0
    complete_lessons(
        session, operator, enrollment.student, enrollment.course, "lesson-1", "lesson-3", "lesson-3"
    )
    assert progress.completed_count(session, enrollment.id) == 2
