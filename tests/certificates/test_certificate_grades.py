"""Certificate eligibility in a course with graded work: the course grade must reach the minimum."""

from __future__ import annotations

from typing import Any

import pytest

from lms_core.assignments import assignments, submissions
from lms_core.assignments.fields import AssignmentCreate, SubmissionCreate, SubmissionGrade
from lms_core.catalog import courses, enrollments
from lms_core.catalog.fields import CourseUpdate
from lms_core.certificates import registry
from tests.helpers import as_
from tests.quizzes.quizkit import add_attempt, add_quiz


@pytest.fixture
def graded_course(session: Any, settings: Any, make: Any, teacher: Any) -> dict[str, Any]:
    course = make.course(instructor=teacher, lessons=1, published=True)
    quiz = add_quiz(session, make, course, "final-quiz")
    a = assignments.create_assignment(
        session,
        actor=as_(teacher),
        course_slug=course.slug,
        data=AssignmentCreate(title="Report", max_points=10),
    )
    courses.update_course(
        session, actor=as_(teacher), slug=course.slug, data=CourseUpdate(certificate_min_grade=70)
    )
    learners = {}
    for name, quiz_score, points in (
        ("good", "90", 8),
        ("weak", "40", 5),
        ("ungraded", "95", None),
    ):
        user = make.user(name=name)
        enrollment = make.enroll(user, course)
        add_attempt(session, quiz, enrollment, 1, quiz_score)
        submissions.submit(
            session,
            actor=as_(user),
            settings=settings,
            assignment=str(a.id),
            email=user.email,
            data=SubmissionCreate(text="report"),
        )
        if points is not None:
            submissions.grade(
                session,
                actor=as_(teacher),
                assignment=str(a.id),
                email=user.email,
                data=SubmissionGrade(points=points),
            )
        for lesson in ("lesson-1", "final-quiz"):  # the quiz lesson as a passed attempt would
            enrollments.complete_earned_lesson(
                session,
                actor=as_(teacher),
                email=user.email,
                course_slug=course.slug,
                lesson_slug=lesson,
            )
        learners[name] = user
    return {"course": course, **learners}


def test_min_grade_decides_among_learners_with_every_lesson_done(
    session: Any, graded_course: dict[str, Any], operator: Any
) -> None:
    rows = {
        r.enrollment.student.full_name: r
        for r in registry.eligibility(
            session, actor=operator, course_slug=graded_course["course"].slug
        )
    }
    assert rows["good"].eligible  # (90 + 80) / 2 = 85
    assert rows["good"].reason.endswith("course grade 85.00 (needs 70.00)")
    assert not rows["weak"].eligible  # (40 + 50) / 2 = 45
    assert rows["weak"].reason.endswith("course grade 45.00 below the 70.00 needed")
    # The report is not graded yet: it counts 0 until it is, (95 + 0) / 2 = 47.5.
    assert not rows["ungraded"].eligible
    assert "47.50 below" in rows["ungraded"].reason


def test_lessons_still_required_with_a_good_grade(
    session: Any, make: Any, teacher: Any, operator: Any
) -> None:
    course = make.course(instructor=teacher, lessons=2, published=True)
    quiz = add_quiz(session, make, course, "quiz")
    user = make.user()
    add_attempt(session, quiz, make.enroll(user, course), 1, "100")
    [row] = registry.eligibility(session, actor=operator, course_slug=course.slug)
    assert not row.eligible
    assert row.reason.startswith("0 of 3 required lessons complete")


def test_courses_without_graded_work_keep_the_lesson_rule(
    session: Any, make: Any, teacher: Any, operator: Any
) -> None:
    course = make.course(instructor=teacher, lessons=1, published=True, certificate_min_grade=90)
    add_quiz(session, make, course, "practice", quiz_type="practice")
    user = make.user()
    make.enroll(user, course)
    for lesson in ("lesson-1", "practice"):  # the quiz lesson as a handed-in attempt would
        enrollments.complete_earned_lesson(
            session, actor=operator, email=user.email, course_slug=course.slug, lesson_slug=lesson
        )
    [row] = registry.eligibility(session, actor=operator, course_slug=course.slug)
    assert row.eligible and row.reason == "all 2 required lessons complete"
