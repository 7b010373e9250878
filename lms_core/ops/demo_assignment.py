"""The demo school's assignment: a homework lesson, its assignment, the student's graded work.

Called by ``demo.seed`` beside :mod:`lms_core.ops.demo_quiz`; idempotent like the rest of the
seed (what exists is kept, what is missing is created). It lives here and not in
:mod:`lms_core.assignments`, which holds the rules every assignment follows, not sample data.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.assignments.assignments import create_assignment
from lms_core.assignments.fields import AssignmentCreate, SubmissionCreate, SubmissionGrade
from lms_core.assignments.submissions import find_submission, grade, submit
from lms_core.catalog.fields import LessonCreate
from lms_core.catalog.lessons import add_lesson
from lms_core.models import Assignment, Course, Lesson, LessonType, User, utcnow
from lms_core.settings import Settings

LESSON = "homework"
#: The student's submission: text only, so the seed stores no file.
TEXT = "def greet(name):\n    return f'Hello, {name}!'\n"


def seed_demo_assignment(
    session: Session,
    *,
    course: Course,
    instructor: User,
    student: User,
    actor: Actor,
    settings: Settings,
) -> Assignment:
    """The demo course's assignment lesson, its assignment and the student's graded work.

    Idempotent: what exists is kept, what is missing is created (the demo seed runs it again).
    """
    lesson = session.scalars(
        select(Lesson).where(Lesson.course_id == course.id, Lesson.slug == LESSON)
    ).first()
    if lesson is None:
        lesson = add_lesson(
            session,
            actor=actor,
            course_slug=course.slug,
            data=LessonCreate(
                slug=LESSON,
                title="Homework: your first function",
                lesson_type=LessonType.assignment.value,
                duration_minutes=30,
                content="Write a function greet(name) that returns a greeting.",
            ),
        )
    assignment = session.scalars(
        select(Assignment).where(Assignment.lesson_id == lesson.id)
    ).first()
    if assignment is None:
        assignment = create_assignment(
            session,
            actor=actor,
            course_slug=course.slug,
            lesson_slug=lesson.slug,
            data=AssignmentCreate(
                title="Your first function",
                description="Write greet(name) returning 'Hello, <name>!'. Submit the code as text.",
                due_date=utcnow() + timedelta(days=14),
                max_points=Decimal("10"),
                late_policy="accept",
                late_penalty_percent=Decimal("10"),
            ),
        )
    ref = f"{course.slug}/{lesson.slug}"
    submission = find_submission(session, assignment.id, student.id)
    if submission is None:
        submission = submit(
            session,
            actor=actor,
            settings=settings,
            assignment=ref,
            email=student.email,
            data=SubmissionCreate(text=TEXT),
        ).submission
    if submission.grade is None:
        grade(
            session,
            actor=Actor.for_user(instructor),
            assignment=ref,
            email=student.email,
            data=SubmissionGrade(points="9", feedback="Works. Add a docstring next time."),
        )
    return assignment
