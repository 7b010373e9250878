"""Who may see a report (roles, not only ids), final scores by grading method, a period on
the people reports, and an odd-sized median, on the fixed school of tests/reports/world.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.errors import PermissionDenied
from lms_core.models import Attempt, Enrollment
from lms_core.permissions import can_manage_course
from lms_core.reports.base import Period, fetch_all
from lms_core.reports.course import course_report
from lms_core.reports.instructor import instructor_report
from lms_core.reports.student import student_report
from tests.reports.world import NOW, World, at, build

OPERATOR = Actor.operator("pytest")


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def test_a_learner_gets_no_instructor_report_not_even_their_own(
    session: Session, world: World
) -> None:
    with pytest.raises(PermissionDenied):
        instructor_report(
            session,
            actor=Actor.for_user(world.s[0]),
            email="s1@rep.example.org",
            period=Period.of(None, NOW),
        )


def test_a_former_instructor_loses_the_courses_reports(session: Session, world: World) -> None:
    """t1 is made a learner but is still rep-course's instructor on record."""
    world.t1.role = "student"
    session.flush()
    former = Actor.for_user(world.t1)

    assert not can_manage_course(former, world.course)
    with pytest.raises(PermissionDenied):
        course_report(session, actor=former, slug="rep-course", period=Period.of(None, NOW))
    with pytest.raises(PermissionDenied):
        instructor_report(
            session, actor=former, email="t1@rep.example.org", period=Period.of(None, NOW)
        )
    assert can_manage_course(OPERATOR, world.course)


def _s2_attempts(session: Session, world: World) -> list[Attempt]:
    return list(
        session.scalars(
            select(Attempt)
            .join(Enrollment, Enrollment.id == Attempt.enrollment_id)
            .where(Enrollment.student_id == world.s[1].id)
            .order_by(Attempt.number)
        )
    )


@pytest.mark.parametrize(
    ("method", "first_score", "expected"),
    [
        ("highest", "90", 90.0),
        ("latest", "90", 75.0),  # the second attempt, though lower
        ("first", "25", 25.0),  # the first, though lower
        # (25.01 + 75) / 2 = 50.005, half up to 50.01 (a double would give 50.0)
        ("average", "25.01", 50.01),
    ],
)
def test_the_quiz_final_score_follows_the_grading_method(
    session: Session, world: World, method: str, first_score: str, expected: float
) -> None:
    """s2 took the quiz twice: the first attempt as given here, the second 75 %."""
    world.questions[0].quiz.grading_method = method
    first, _second = _s2_attempts(session, world)
    first.score = Decimal(first_score)
    session.flush()

    [row] = fetch_all(
        session,
        student_report(
            session, actor=OPERATOR, email="s2@rep.example.org", period=Period.of(None, NOW)
        ),
    )["quizzes"]

    assert (row["final_score"], row["attempts"]) == (expected, 2)
    assert row["passed"] is (expected >= 50)


def test_an_instructor_report_over_a_period(session: Session, world: World) -> None:
    """Enrollments made from 01-07 to before 01-13: s2 (completed; grade (75 + 80) / 2)
    and s3 (active; grade (25 + 0) / 2); s1 and the dropped s4 are outside."""
    [course, _empty] = fetch_all(
        session,
        instructor_report(
            session,
            actor=Actor.for_user(world.t1),
            email="t1@rep.example.org",
            period=Period.of(at(1, 7), at(1, 13)),
        ),
    )["courses"]

    assert {k: course[k] for k in ("learners", "active", "completed", "dropped")} == {
        "learners": 2,
        "active": 1,
        "completed": 1,
        "dropped": 0,
    }
    assert course["completion_rate"] == 50.0
    assert course["average_course_grade"] == 45.0
    assert (course["rating_average"], course["rating_count"]) == (4.0, 1)
    # Work waiting to be graded is counted as it is now, whatever the period.
    assert (course["submissions_to_grade"], course["essays_to_grade"]) == (1, 1)


def test_the_median_of_an_odd_number_of_completions(session: Session, world: World) -> None:
    """s1 took 10 days, s2 4; s3 completes after 1 day: the median is the middle one, 4."""
    e3 = session.scalars(select(Enrollment).where(Enrollment.student_id == world.s[2].id)).one()
    e3.status = "completed"
    e3.completed_at = at(1, 13, 9)
    session.flush()

    got: dict[str, Any] = fetch_all(
        session,
        course_report(session, actor=OPERATOR, slug="rep-course", period=Period.of(None, NOW)),
    )["summary"][0]

    assert (got["completed"], got["median_days_to_complete"]) == (3, 4.0)
