"""What rows an actor may see, as SQL: the one rule the back office (and the CLI) filter by.

Each function returns a WHERE clause over its entity for ``actor``, or None when the actor
sees every row (administrators). Instructors see their own courses and what is in them: the
lessons, enrollments, learners, quizzes, attempts, assignments, submissions, certificates
and files of courses they teach (docs/cli.md, "Who may see what"). Learners see their own
rows only; the back office refuses them anyway, the API will use the same clauses.

Clauses are ``IN (subquery)`` on the entity's own columns, so they compose with any query
(Flask-Admin's, a listing's) without adding joins that would repeat rows.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, ScalarSelect, false, select

from lms_core.actor import Actor
from lms_core.models import (
    Assignment,
    Attempt,
    AuditEntry,
    Certificate,
    Course,
    Enrollment,
    Lesson,
    Question,
    Quiz,
    Role,
    StoredFile,
    Submission,
    User,
)

Clause = ColumnElement[bool] | None


def _taught(actor: Actor) -> ColumnElement[bool]:
    """Course ids the actor teaches (an instructor's own courses)."""
    return Course.instructor_id == actor.user_id


def _taught_course_ids(actor: Actor) -> ScalarSelect[int]:
    return select(Course.id).where(_taught(actor)).scalar_subquery()


def _staff(actor: Actor) -> bool:
    return actor.role is Role.instructor and actor.user_id is not None


def courses(actor: Actor) -> Clause:
    """Administrators: all; instructors: the courses they teach; learners: none here."""
    if actor.is_admin:
        return None
    return _taught(actor) if _staff(actor) else false()


def lessons(actor: Actor) -> Clause:
    if actor.is_admin:
        return None
    return Lesson.course_id.in_(_taught_course_ids(actor)) if _staff(actor) else false()


def enrollments(actor: Actor) -> Clause:
    """Instructors: their courses' enrollments, and their own as a learner elsewhere."""
    if actor.is_admin:
        return None
    if _staff(actor):
        return Enrollment.course_id.in_(_taught_course_ids(actor)) | (
            Enrollment.student_id == actor.user_id
        )
    return Enrollment.student_id == actor.user_id


def users(actor: Actor) -> Clause:
    """Instructors see the learners enrolled in their courses (and themselves)."""
    if actor.is_admin:
        return None
    if _staff(actor):
        learners = select(Enrollment.student_id).where(
            Enrollment.course_id.in_(_taught_course_ids(actor))
        )
        return User.id.in_(learners) | (User.id == actor.user_id)
    return User.id == actor.user_id


def _quiz_ids(actor: Actor) -> ScalarSelect[int]:
    return (
        select(Quiz.id)
        .join(Lesson, Lesson.id == Quiz.lesson_id)
        .where(Lesson.course_id.in_(_taught_course_ids(actor)))
        .scalar_subquery()
    )


def quizzes(actor: Actor) -> Clause:
    if actor.is_admin:
        return None
    return Quiz.id.in_(_quiz_ids(actor)) if _staff(actor) else false()


def questions(actor: Actor) -> Clause:
    if actor.is_admin:
        return None
    return Question.quiz_id.in_(_quiz_ids(actor)) if _staff(actor) else false()


def attempts(actor: Actor) -> Clause:
    if actor.is_admin:
        return None
    if _staff(actor):
        return Attempt.quiz_id.in_(_quiz_ids(actor))
    mine = select(Enrollment.id).where(Enrollment.student_id == actor.user_id)
    return Attempt.enrollment_id.in_(mine)


def assignments(actor: Actor) -> Clause:
    if actor.is_admin:
        return None
    return Assignment.course_id.in_(_taught_course_ids(actor)) if _staff(actor) else false()


def submissions(actor: Actor) -> Clause:
    if actor.is_admin:
        return None
    if _staff(actor):
        taught = select(Assignment.id).where(Assignment.course_id.in_(_taught_course_ids(actor)))
        return Submission.assignment_id.in_(taught)
    return Submission.student_id == actor.user_id


def certificates(actor: Actor) -> Clause:
    if actor.is_admin:
        return None
    if _staff(actor):
        return Certificate.enrollment_id.in_(
            select(Enrollment.id).where(Enrollment.course_id.in_(_taught_course_ids(actor)))
        )
    mine = select(Enrollment.id).where(Enrollment.student_id == actor.user_id)
    return Certificate.enrollment_id.in_(mine)


def files(actor: Actor) -> Clause:
    if actor.is_admin:
        return None
    if _staff(actor):
        return StoredFile.course_id.in_(_taught_course_ids(actor)) | (
            StoredFile.uploaded_by_id == actor.user_id
        )
    return StoredFile.uploaded_by_id == actor.user_id


def import_runs(actor: Actor) -> Clause:
    """Imports are administrators' work (``lmsctl import`` is admin-only)."""
    return None if actor.is_admin else false()


def audit_entries(actor: Actor) -> Clause:
    """Administrators: the whole log; instructors: the entries they made themselves."""
    if actor.is_admin:
        return None
    return AuditEntry.actor_id == actor.user_id if actor.user_id is not None else false()
