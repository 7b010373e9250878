"""Student, instructor and system reports on the fixed school (tests/reports/world.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.errors import PermissionDenied
from lms_core.models import ImportRun, Job
from lms_core.reports.base import Period, fetch_all
from lms_core.reports.instructor import instructor_report
from lms_core.reports.student import student_report
from lms_core.reports.system import system_report
from tests.reports.world import NOW, World, at, build

OPERATOR = Actor.operator("pytest")
PERIOD = Period.of(None, NOW)


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def student(session: Session, email: str, actor: Actor = OPERATOR) -> dict[str, Any]:
    return fetch_all(session, student_report(session, actor=actor, email=email, period=PERIOD))


def test_student_courses(session: Session, world: World) -> None:
    courses = student(session, "s2@rep.example.org")["courses"]

    assert courses == [
        {
            "course": "rep-course",
            "title": "Reports",
            "status": "completed",
            "enrolled_at": at(1, 7, 10),
            "completed_at": at(1, 11, 10),
            "progress_percentage": 100.0,
            "lessons_completed": 3,
            "course_grade": 77.5,  # (quiz 75 + homework 8 of 10) / 2
            "certificate": None,  # revoked
            "last_activity": at(1, 10, 8),  # the homework; the quiz was on the 9th
        }
    ]


def test_student_quizzes_and_assignments(session: Session, world: World) -> None:
    got = student(session, "s2@rep.example.org")

    assert got["quizzes"] == [
        {
            "course": "rep-course",
            "quiz": "Check",
            "quiz_type": "graded",
            "final_score": 75.0,
            "passing_score": 50.0,
            "passed": True,
            "attempts": 2,
        }
    ]
    assert got["assignments"] == [
        {
            "course": "rep-course",
            "assignment": "Homework",
            "max_points": 10.0,
            "submitted_at": at(1, 10, 8),
            "days_late": 2,
            "final_points": 8.0,
            "graded_at": at(1, 10, 20),
        }
    ]


def test_a_learner_with_ungraded_work(session: Session, world: World) -> None:
    got = student(session, "s3@rep.example.org")

    assert got["courses"][0]["course_grade"] == 12.5  # quiz 25, homework not graded: 0
    assert got["assignments"][0]["final_points"] is None
    assert got["quizzes"][0]["passed"] is False


def test_a_dropped_learner_with_an_essay_waiting(session: Session, world: World) -> None:
    got = student(session, "s4@rep.example.org")

    assert got["courses"][0]["status"] == "dropped"
    assert got["courses"][0]["course_grade"] == 0.0
    assert got["quizzes"] == []  # the attempt waits for its essay's grade


def test_student_with_two_courses_and_a_certificate(session: Session, world: World) -> None:
    courses = student(session, "s1@rep.example.org")["courses"]

    assert [(c["course"], c["course_grade"], c["certificate"]) for c in courses] == [
        ("rep-course", 90.0, "LMS-REP1-0001-A"),
        ("rep-noquiz", None, None),  # no graded items: no grade
    ]


def test_who_sees_a_student_report(session: Session, world: World) -> None:
    # An instructor sees only the enrollments in their courses.
    mine = student(session, "s1@rep.example.org", Actor.for_user(world.t2))
    assert [c["course"] for c in mine["courses"]] == ["rep-noquiz"]
    assert mine["quizzes"] == [] and mine["assignments"] == []
    with pytest.raises(PermissionDenied):  # s2 is not t2's learner
        student(session, "s2@rep.example.org", Actor.for_user(world.t2))
    assert student(session, "s1@rep.example.org", Actor.for_user(world.s[0]))["courses"]
    with pytest.raises(PermissionDenied):
        student(session, "s2@rep.example.org", Actor.for_user(world.s[0]))


def instructor(session: Session, email: str, actor: Actor = OPERATOR) -> list[dict[str, Any]]:
    report = instructor_report(session, actor=actor, email=email, period=PERIOD)
    return fetch_all(session, report)["courses"]


def test_instructor_report(session: Session, world: World) -> None:
    assert instructor(session, "t1@rep.example.org") == [
        {
            "course": "rep-course",
            "title": "Reports",
            "published": True,
            "learners": 3,
            "active": 1,
            "completed": 2,
            "dropped": 1,
            "completion_rate": 66.67,
            "average_course_grade": 60.0,
            "rating_average": 3.33,
            "rating_count": 3,
            "submissions_to_grade": 1,  # s3's homework
            "essays_to_grade": 1,  # s4's attempt
        },
        {
            "course": "rep-empty",
            "title": "Empty",
            "published": False,
            "learners": 0,
            "active": 0,
            "completed": 0,
            "dropped": 0,
            "completion_rate": None,
            "average_course_grade": None,
            "rating_average": None,
            "rating_count": 0,
            "submissions_to_grade": 0,
            "essays_to_grade": 0,
        },
    ]


def test_instructors_never_see_another_instructors_figures(session: Session, world: World) -> None:
    assert [
        r["course"] for r in instructor(session, "t2@rep.example.org", Actor.for_user(world.t2))
    ] == ["rep-noquiz"]
    with pytest.raises(PermissionDenied):
        instructor(session, "t1@rep.example.org", Actor.for_user(world.t2))
    with pytest.raises(PermissionDenied):
        instructor(session, "t1@rep.example.org", Actor.for_user(world.s[0]))


def test_system_report(session: Session, world: World) -> None:
    for n, status in enumerate(("applied", "failed", "refused", "applied")):
        session.add(
            ImportRun(
                started_at=at(1, 3 + n),
                actor_label="cli:x",
                entity="users",
                mode="add",
                file_name="u.csv",
                file_sha256="0" * 64,
                status=status,
            )
        )
    session.add(Job(kind="mail.send", key="k1", status="dead", attempts=5, error="smtp down"))
    session.add(Job(kind="mail.send", key="k2", status="succeeded"))
    session.flush()
    got = fetch_all(session, system_report(session, actor=OPERATOR, period=PERIOD))

    assert got["totals"] == [
        {
            "users": 6,
            "courses": 3,
            "published_courses": 2,
            "enrollments": 5,
            "valid_certificates": 1,
        }
    ]
    assert got["users"] == [
        {"role": "instructor", "state": "active", "count": 2},
        {"role": "student", "state": "active", "count": 4},
    ]
    # Every learner did something in January (from the 2nd), nobody in the last week.
    assert got["active_learners"] == [{"last_7_days": 0, "last_30_days": 4}]
    assert got["enrollments_per_week"] == [
        {"week": "2026-01-05", "enrollments": 2, "completions": 1},
        {"week": "2026-01-12", "enrollments": 2, "completions": 1},
        {"week": "2026-01-19", "enrollments": 1, "completions": 0},
    ]
    assert got["certificates_per_month"] == [{"month": "2026-01", "issued": 2, "revoked": 1}]
    assert got["imports"] == [
        {
            "entity": "users",
            "runs": 4,
            "applied": 2,
            "refused": 1,
            "failed": 1,
            "undone": 0,
            "last_started_at": at(1, 6),
        }
    ]
    assert [(j["kind"], j["attempts"], j["error"]) for j in got["dead_jobs"]] == [
        ("mail.send", 5, "smtp down")
    ]


def test_system_report_is_for_administrators(session: Session, world: World) -> None:
    with pytest.raises(PermissionDenied):
        system_report(session, actor=Actor.for_user(world.t1), period=PERIOD)
