"""A user's last activity (``users.last_activity_at``): every service that writes one of the
five sources (login, lesson completed, attempt started, attempt submitted, assignment
submitted) moves it forward, never back; the set-based recompute agrees with the rows; and
the system report's active learners read from it give the figure the event scan gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lms_core.accounts import auth
from lms_core.accounts.activity import note_activity, recompute_last_activity
from lms_core.assignments import assignments, submissions
from lms_core.assignments.fields import AssignmentCreate, SubmissionCreate
from lms_core.catalog import enrollments
from lms_core.catalog.progress import complete_lesson_for_many
from lms_core.models import (
    Assignment,
    Attempt,
    Enrollment,
    Lesson,
    LessonProgress,
    Submission,
    User,
    utcnow,
)
from lms_core.quizzes import attempts
from lms_core.reports.base import Period
from lms_core.reports.prepared import Frame
from lms_core.reports.system import active_learners, active_learners_from_events
from tests.factories import PASSWORD
from tests.helpers import as_
from tests.quizzes.quizkit import RIGHT, make_quiz

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def kept(session: Session, user: User) -> datetime | None:
    """The stored time once the unit of work commits (the notes are written at commit; the
    test's session commits to a SAVEPOINT of the test's transaction)."""
    session.commit()
    return session.scalar(select(User.last_activity_at).where(User.id == user.id))


def login(session: Session, hasher: Any, settings: Any, user: User, now: datetime) -> None:
    outcome = auth.authenticate(
        session, email=user.email, password=PASSWORD, hasher=hasher, settings=settings, now=now
    )
    assert outcome.ok


def submit(session: Session, settings: Any, course: Any, student: User, now: datetime) -> Any:
    return submissions.submit(
        session,
        actor=as_(student),
        settings=settings,
        assignment=f"{course.slug}/essay",
        email=student.email,
        data=SubmissionCreate(text="my essay"),
        now=now,
    )


def with_assignment(session: Session, make: Any) -> tuple[Any, User]:
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=1, published=True)
    make.lesson(course, slug="essay", lesson_type="assignment")
    assignments.create_assignment(
        session,
        actor=as_(teacher),
        course_slug=course.slug,
        lesson_slug="essay",
        data=AssignmentCreate(title="Essay", due_date=None, max_points=10),
    )
    student = make.user()
    make.enroll(student, course)
    return course, student


def test_a_new_user_has_no_activity(session: Session, learner: User) -> None:
    assert kept(session, learner) is None


def test_a_login_sets_it_and_an_older_one_leaves_it(
    session: Session, hasher: Any, settings: Any, learner: User
) -> None:
    login(session, hasher, settings, learner, T0)
    assert kept(session, learner) == T0
    login(session, hasher, settings, learner, T0 - timedelta(days=1))
    assert learner.last_login_at == T0 - timedelta(days=1)
    assert kept(session, learner) == T0
    # The loaded object reads the row again, not a stale value.
    assert learner.last_activity_at == T0


def test_a_failed_login_is_no_activity(
    session: Session, hasher: Any, settings: Any, learner: User
) -> None:
    outcome = auth.authenticate(
        session,
        email=learner.email,
        password="Wrong-Password-1",
        hasher=hasher,
        settings=settings,
        now=T0,
    )
    assert not outcome.ok
    assert kept(session, learner) is None


def test_completing_a_lesson_sets_it_to_the_completion_time(session: Session, make: Any) -> None:
    student = make.user()
    course = make.course(lessons=2, published=True)
    make.enroll(student, course)
    enrollments.complete_lesson(
        session,
        actor=as_(student),
        email=student.email,
        course_slug=course.slug,
        lesson_slug="lesson-1",
    )
    done = session.scalar(select(LessonProgress.completed_at))
    assert done is not None and kept(session, student) == done


def test_completing_a_lesson_for_many_sets_it_for_each_learner(session: Session, make: Any) -> None:
    course = make.course(lessons=2, published=True)
    learners = [make.user() for _ in range(3)]
    ids = [make.enroll(s, course).id for s in learners]
    lesson = session.scalars(select(Lesson).where(Lesson.course_id == course.id)).first()
    assert lesson is not None
    note_activity(session, learners[2].id, utcnow() + timedelta(days=1))  # later: stays
    before = utcnow()
    assert complete_lesson_for_many(session, lesson, ids) == 3
    for student in learners[:2]:
        at = kept(session, student)
        assert at is not None and before <= at <= utcnow()
    ahead = kept(session, learners[2])
    assert ahead is not None and ahead > utcnow()


def test_starting_and_submitting_an_attempt_set_it(
    session: Session, make: Any, operator: Any
) -> None:
    setup = make_quiz(session, make, operator)
    started = attempts.start_attempt(
        session, actor=as_(setup.student), quiz_ref=setup.ref, email=setup.student.email, now=T0
    ).attempt
    assert kept(session, setup.student) == T0
    attempts.save_answers(
        session, actor=as_(setup.student), attempt_id=started.id, answers=RIGHT, now=T0
    )
    handed_in = T0 + timedelta(minutes=5)
    attempts.submit_attempt(session, actor=as_(setup.student), attempt_id=started.id, now=handed_in)
    assert kept(session, setup.student) == handed_in
    # Only the learner's time moved: the operator who set it all up did nothing as a learner.
    assert kept(session, setup.teacher) is None


def test_an_overdue_attempt_counts_at_its_deadline_and_never_moves_it_back(
    session: Session, make: Any, operator: Any
) -> None:
    setup = make_quiz(session, make, operator, time_limit_minutes=10, max_attempts=3)
    started = attempts.start_attempt(
        session, actor=as_(setup.student), quiz_ref=setup.ref, email=setup.student.email, now=T0
    ).attempt
    later = T0 + timedelta(hours=2)
    note_activity(session, setup.student.id, later)
    # Submitted long after: handed in at its deadline (T0 + 10 min), earlier than ``later``.
    done = attempts.submit_attempt(
        session, actor=as_(setup.student), attempt_id=started.id, now=T0 + timedelta(hours=3)
    )
    assert done.submitted_at == T0 + timedelta(minutes=10)
    assert kept(session, setup.student) == later


def test_submitting_and_resubmitting_an_assignment_set_it(
    session: Session, make: Any, settings: Any
) -> None:
    course, student = with_assignment(session, make)
    submit(session, settings, course, student, T0)
    assert kept(session, student) == T0
    submit(session, settings, course, student, T0 + timedelta(days=1))
    assert kept(session, student) == T0 + timedelta(days=1)


def test_noting_activity_leaves_updated_at_alone(session: Session, learner: User) -> None:
    session.flush()
    stamp = session.scalar(select(User.updated_at).where(User.id == learner.id))
    note_activity(session, learner.id, T0)
    assert kept(session, learner) == T0
    assert session.scalar(select(User.updated_at).where(User.id == learner.id)) == stamp


def test_recompute_takes_the_latest_of_the_five_sources(session: Session, make: Any) -> None:
    """Rows written past the services (a bulk load): the recompute sets each user's latest
    time, whichever source it is in, and never lowers a later kept time."""
    setup = make_quiz(session, make, make.actor)
    course, by_submission = with_assignment(session, make)
    quiz_lesson = session.scalar(select(Lesson.id).where(Lesson.id == setup.quiz.lesson_id))
    enrollment = session.scalar(
        select(Enrollment.id).where(Enrollment.student_id == setup.student.id)
    )
    by_login, idle, ahead = make.user(), make.user(), make.user()
    session.execute(
        insert(LessonProgress),
        [{"enrollment_id": enrollment, "lesson_id": quiz_lesson, "completed_at": T0}],
    )
    session.execute(
        insert(Attempt),
        [
            # Started after the lesson; its submitted_at NULL (in progress) must not blank it.
            {
                "enrollment_id": enrollment,
                "quiz_id": setup.quiz.id,
                "number": 1,
                "status": "in_progress",
                "started_at": T0 + timedelta(hours=1),
                "submitted_at": None,
                "answers": {},
                "question_scores": {},
                "shuffle_seed": 1,
            }
        ],
    )
    session.execute(
        insert(Submission),
        [
            {
                "assignment_id": _assignment_id(session, course),
                "student_id": by_submission.id,
                "submitted_at": T0 + timedelta(days=2),
                "content": "x",
                "days_late": 0,
            }
        ],
    )
    session.execute(
        User.__table__.update()
        .where(User.id == by_login.id)
        .values(last_login_at=T0 + timedelta(days=3))
    )
    note_activity(session, ahead.id, T0 + timedelta(days=9))
    session.execute(
        User.__table__.update()
        .where(User.id == ahead.id)
        .values(last_login_at=T0 + timedelta(days=1))
    )
    recompute_last_activity(session)
    assert kept(session, setup.student) == T0 + timedelta(hours=1)
    assert kept(session, by_submission) == T0 + timedelta(days=2)
    assert kept(session, by_login) == T0 + timedelta(days=3)
    assert kept(session, ahead) == T0 + timedelta(days=9)
    assert kept(session, idle) is None
    assert kept(session, setup.teacher) is None


def _assignment_id(session: Session, course: Any) -> int:
    found = session.scalar(select(Assignment.id).where(Assignment.course_id == course.id))
    assert found is not None
    return found


@pytest.mark.parametrize("days", [0, 3])
def test_the_kept_time_and_the_event_scan_count_the_same_learners(
    session: Session, make: Any, operator: Any, hasher: Any, settings: Any, days: int
) -> None:
    """Learners made active through the services at several ages: the report as of now (the
    kept time) and the same figure from the events agree, and are the expected counts.
    ``days``: every activity that much further in the past."""
    now = utcnow() - timedelta(days=days)
    setup = make_quiz(session, make, operator)
    course, by_submission = with_assignment(session, make)
    by_login, old_login, instructor = make.user(), make.user(), make.user("instructor")
    login(session, hasher, settings, by_login, now - timedelta(days=10))  # 30 days, not 7
    login(session, hasher, settings, old_login, now - timedelta(days=40))  # neither
    login(session, hasher, settings, instructor, now - timedelta(days=1))  # not a learner
    submit(session, settings, course, by_submission, now - timedelta(days=20))
    started = attempts.start_attempt(
        session,
        actor=as_(setup.student),
        quiz_ref=setup.ref,
        email=setup.student.email,
        now=now - timedelta(days=2),
    ).attempt
    attempts.submit_attempt(
        session, actor=as_(setup.student), attempt_id=started.id, now=now - timedelta(days=1)
    )
    session.commit()
    period = Period.of(None, None)
    fast = [
        tuple(r) for r in session.execute(active_learners(Frame(period.shape)), period.values())
    ]
    scanned = [
        tuple(r)
        for r in session.execute(active_learners_from_events(Frame(period.shape)), period.values())
    ]
    # Each test's rows are its own (rolled back after): the counts are exact.
    assert fast == scanned == [(1, 3)]


def test_a_report_as_of_a_past_date_counts_the_events_of_then(
    session: Session, make: Any, hasher: Any, settings: Any
) -> None:
    """The kept time is the latest activity: a learner active 10 days before a past "now"
    and again after it counts then, though their kept time is later than that "now"."""
    then = utcnow() - timedelta(days=5)
    course, again = with_assignment(session, make)
    only_later = make.user()
    submit(session, settings, course, again, then - timedelta(days=10))
    login(session, hasher, settings, again, utcnow() - timedelta(days=1))
    login(session, hasher, settings, only_later, utcnow() - timedelta(days=1))
    session.commit()
    past = Period.of(None, then)
    assert [
        tuple(r) for r in session.execute(active_learners(Frame(past.shape)), past.values())
    ] == [(0, 1)]
    assert [
        tuple(r)
        for r in session.execute(active_learners_from_events(Frame(past.shape)), past.values())
    ] == [(0, 1)]
    present = Period.of(None, None)
    assert [
        tuple(r) for r in session.execute(active_learners(Frame(present.shape)), present.values())
    ] == [(2, 2)]
    # An end after the clock is the present too: the kept time answers.
    future = Period.of(None, utcnow() + timedelta(days=1))
    assert [
        tuple(r) for r in session.execute(active_learners(Frame(future.shape)), future.values())
    ] == [(2, 2)]
