"""Every writer keeps ``users.last_activity_at``: after a mixed day of service flows (logins,
lessons completed, attempts started and submitted, the overdue cron, a regrade that passes a
learner, assignment submissions, a grading import's completions), recomputing the column
from the five sources changes no row, and the report's kept-time figure is the event scan's.

A writer that forgot its note would leave its learner's time behind the sources: the
recompute would move it (a changed row), and the kept-time count would miss the learner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts import auth
from lms_core.accounts.activity import recompute_last_activity
from lms_core.assignments import submissions
from lms_core.catalog import enrollments
from lms_core.models import Assignment, Attempt, Lesson, Submission, User, utcnow
from lms_core.quizzes import attempts
from lms_core.quizzes import questions as qs
from lms_core.quizzes.regrade import regrade
from lms_core.quizzes.review import close_overdue
from lms_core.reports.base import Period
from lms_core.reports.prepared import Frame
from lms_core.reports.system import active_learners, active_learners_from_events
from tests.accounts.test_activity import submit, with_assignment
from tests.factories import PASSWORD
from tests.helpers import as_
from tests.quizzes.quizkit import RIGHT, all_types, make_quiz


def overdue_attempt(session: Session, make: Any, operator: Any) -> User:
    """A learner whose timed attempt ran out an hour ago, left for the cron to close."""
    setup = make_quiz(session, make, operator, time_limit_minutes=10)
    attempts.start_attempt(
        session,
        actor=as_(setup.student),
        quiz_ref=setup.ref,
        email=setup.student.email,
        now=utcnow() - timedelta(hours=1),
    )
    return setup.student


def regraded_pass(session: Session, make: Any, operator: Any) -> tuple[User, User]:
    """Two learners handed in a week ago; the key was wrong: the regrade passes the second,
    which completes their quiz lesson (set-based, with the regrade's clock)."""
    setup = make_quiz(session, make, operator, passing_score=55)
    week_ago = utcnow() - timedelta(days=8)
    failing = make.user()
    make.enroll(failing, setup.course)
    for student, first in ((setup.student, 1), (failing, 2)):
        started = attempts.start_attempt(
            session, actor=as_(student), quiz_ref=setup.ref, email=student.email, now=week_ago
        ).attempt
        answers = {**RIGHT, 1: first, 7: ""}
        attempts.save_answers(
            session, actor=as_(student), attempt_id=started.id, answers=answers, now=week_ago
        )
        attempts.submit_attempt(session, actor=as_(student), attempt_id=started.id, now=week_ago)
    fixed = all_types()
    fixed[0].options = [
        {"text": t, "weight": 100 if i == 2 else 0, "feedback": None}
        for i, t in enumerate(["3", "4", "5"])
    ]
    qs.import_questions(session, actor=operator, quiz_ref=setup.ref, questions=fixed, replace=True)
    assert regrade(session, actor=operator, quiz_ref=setup.ref).lessons_completed == 1
    return setup.student, failing


def submitted_and_imported(session: Session, make: Any, settings: Any) -> User:
    """An assignment handed in, then its grade imported: the import completes the lesson."""
    course, student = with_assignment(session, make)
    submit(session, settings, course, student, utcnow() - timedelta(days=12))
    assignment = session.scalars(
        select(Assignment.id).join(Lesson).where(Lesson.course_id == course.id)
    ).one()
    handed = list(session.scalars(select(Submission.id).where(Submission.student_id == student.id)))
    assert submissions.complete_graded_lessons(session, assignment, handed) == 1
    return student


def test_every_flow_keeps_the_column_and_the_figures_agree(
    session: Session, make: Any, operator: Any, hasher: Any, settings: Any
) -> None:
    by_login, idle = make.user(), make.user()
    assert auth.authenticate(
        session,
        email=by_login.email,
        password=PASSWORD,
        hasher=hasher,
        settings=settings,
        now=utcnow() - timedelta(days=10),
    ).ok
    course = make.course(lessons=2, published=True)
    by_lesson = make.user()
    make.enroll(by_lesson, course)
    enrollments.complete_lesson(
        session,
        actor=as_(by_lesson),
        email=by_lesson.email,
        course_slug=course.slug,
        lesson_slug="lesson-1",
    )
    overdue = overdue_attempt(session, make, operator)
    stayed_passed, now_passing = regraded_pass(session, make, operator)
    graded = submitted_and_imported(session, make, settings)
    assert [row["email"] for row in close_overdue(session, actor=operator)] == [overdue.email]
    session.commit()  # the notes are written as the unit of work commits

    assert recompute_last_activity(session) == 0
    session.commit()
    kept = dict(session.execute(select(User.id, User.last_activity_at)).all())
    deadline = session.scalar(select(Attempt.submitted_at).where(Attempt.deadline_at.is_not(None)))
    assert kept[overdue.id] == deadline  # counted at its deadline, not when the cron ran
    assert kept[idle.id] is None
    period = Period.of(None, None)
    fast = [
        tuple(r) for r in session.execute(active_learners(Frame(period.shape)), period.values())
    ]
    scanned = [
        tuple(r)
        for r in session.execute(active_learners_from_events(Frame(period.shape)), period.values())
    ]
    # 7 days: the lesson, the overdue attempt, the regrade's and the import's completions
    # (the submission itself was 12 days ago), and the learner who passed 8 days ago: the
    # passing hand-in completed the quiz lesson at the clock's time. 30 days: also the login
    # (10 days). The instructors and the operator are no learners.
    assert fast == scanned == [(5, 6)]
    assert stayed_passed.id in kept and now_passing.id in kept and graded.id in kept
