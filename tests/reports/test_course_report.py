"""The course report's figures on the fixed school of tests/reports/world.py, by hand."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.errors import PermissionDenied
from lms_core.models import Attempt
from lms_core.reports.base import Period, fetch_all
from lms_core.reports.course import course_report
from tests.reports.world import NOW, World, at, build


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def report(session: Session, slug: str = "rep-course", **period: Any) -> dict[str, Any]:
    until = period.pop("until", NOW)
    return fetch_all(
        session,
        course_report(
            session,
            actor=Actor.operator("pytest"),
            slug=slug,
            period=Period.of(period.pop("since", None), until),
        ),
    )


def test_summary(session: Session, world: World) -> None:
    [summary] = report(session)["summary"]

    assert summary == {
        "enrollments": 4,
        "active": 1,
        "completed": 2,
        "dropped": 1,
        "completion_rate": 66.67,  # 2 of the 3 who did not drop
        "median_days_to_complete": 7.0,  # 10 and 4 days
        "average_course_grade": 60.0,  # (90 + 77.5 + 12.5) / 3, the dropped learner left out
        "rating_average": 3.33,  # 5, 4, 1
        "rating_count": 3,
    }


def test_enrollments_per_week_start_on_monday(session: Session, world: World) -> None:
    weeks = report(session)["enrollments_per_week"]

    assert weeks == [
        # s1 (Mon 5th) and s2 enrolled; s2 completed on Sunday the 11th: still that week.
        {"week": "2026-01-05", "enrollments": 2, "completions": 1},
        {"week": "2026-01-12", "enrollments": 2, "completions": 1},
    ]


def test_the_period_picks_the_cohort_and_the_events(session: Session, world: World) -> None:
    got = report(session, since=at(1, 12), until=at(1, 14))

    assert got["enrollments_per_week"] == [
        {"week": "2026-01-12", "enrollments": 2, "completions": 0}
    ]
    assert got["summary"][0]["enrollments"] == 2  # s3 and s4
    assert got["summary"][0]["completion_rate"] == 0.0
    assert got["summary"][0]["median_days_to_complete"] is None


def test_funnel_counts_dropped_learners_too(session: Session, world: World) -> None:
    assert report(session)["funnel"] == [
        {
            "position": 1,
            "lesson": "intro",
            "title": "Intro",
            "required": True,
            "learners_completed": 4,
            "share": 100.0,
        },
        {
            "position": 2,
            "lesson": "check",
            "title": "Check",
            "required": True,
            "learners_completed": 2,
            "share": 50.0,
        },
        {
            "position": 3,
            "lesson": "homework",
            "title": "Homework",
            "required": True,
            "learners_completed": 2,
            "share": 50.0,
        },
    ]


def test_score_distribution_has_every_band(session: Session, world: World) -> None:
    bands = report(session)["scores"]

    assert [(b["score_from"], b["score_to"]) for b in bands] == [
        (n, n + 10) for n in range(0, 100, 10)
    ]
    # Final scores (highest attempt): s1 100, s2 75, s3 25; s4's essay is not graded yet.
    assert {b["score_from"]: b["learners"] for b in bands if b["learners"]} == {
        90: 1,
        70: 1,
        20: 1,
    }


def test_item_analysis_as_computed_by_hand(session: Session, world: World) -> None:
    """Four graded attempts; x per question and y = the rest of the attempt:
    q1 x 1,0,1,0 y 3,1,2,1; q2 x 1,0,1,1 y 3,1,2,0; q3 (2 points) x 2,1,1,0 y 2,0,2,1."""
    rows = report(session)["questions"]

    assert [
        (
            r["position"],
            r["attempts"],
            r["facility_index"],
            r["standard_deviation"],
            r["discrimination_index"],
        )
        for r in rows
    ] == [
        # F = mean / max; SD = sample sd / max; D = r(x, y) = 1.5 / sqrt(1 x 2.75)
        (1, 4, 50.0, 57.74, 90.45),
        # sd 0.5; r = 0.5 / sqrt(0.75 x 5)
        (2, 4, 75.0, 50.0, 25.82),
        # mean 1 of 2; sd sqrt(2/3) = 0.8165 of 2; r = 1 / sqrt(2 x 2.75)
        (3, 4, 50.0, 40.82, 42.64),
    ]
    assert rows[0]["type"] == "multiple_choice" and rows[0]["max_points"] == 1.0


def test_response_frequencies(session: Session, world: World) -> None:
    rows = report(session)["responses"]

    assert [(r["position"], r["response"], r["chosen"], r["share"]) for r in rows] == [
        (1, "a", 2, 50.0),
        (1, "b", 1, 25.0),
        (1, "c", 1, 25.0),
        (2, "true", 3, 75.0),
        (2, "false", 1, 25.0),
    ]


def test_rating_distribution(session: Session, world: World) -> None:
    assert report(session)["ratings"] == [
        {"rating": 1, "count": 1},
        {"rating": 2, "count": 0},
        {"rating": 3, "count": 0},
        {"rating": 4, "count": 1},
        {"rating": 5, "count": 1},
    ]


def test_at_risk(session: Session, world: World) -> None:
    [row] = report(session)["at_risk"]

    assert row["email"] == "s3@rep.example.org"
    assert row["last_activity"] == at(1, 12, 12)  # the homework, submitted at noon
    assert row["days_inactive"] == 19.5
    assert row["failing_quizzes"] == 1  # 25 % < 50 %
    assert row["reason"] == "inactive, failing"


def test_at_risk_without_inactivity(session: Session, world: World) -> None:
    """A week after s3's last activity, s3 is at risk for failing only."""
    [row] = report(session, until=at(1, 19))["at_risk"]

    assert row["reason"] == "failing" and row["days_inactive"] == 6.5


def test_an_empty_course(session: Session, world: World) -> None:
    got = report(session, "rep-empty")

    assert got["summary"] == [
        {
            "enrollments": 0,
            "active": 0,
            "completed": 0,
            "dropped": 0,
            "completion_rate": None,
            "median_days_to_complete": None,
            "average_course_grade": None,
            "rating_average": None,
            "rating_count": 0,
        }
    ]
    for name in ("enrollments_per_week", "funnel", "scores", "questions", "responses", "at_risk"):
        assert got[name] == [], name
    assert [r["count"] for r in got["ratings"]] == [0] * 5


def test_a_course_without_a_quiz(session: Session, world: World) -> None:
    got = report(session, "rep-noquiz", until=at(2, 10))

    assert got["summary"][0]["enrollments"] == 1
    assert got["summary"][0]["average_course_grade"] is None  # nothing graded
    assert got["scores"] == [] and got["questions"] == []
    assert got["funnel"][0]["share"] == 0.0
    # s1 has been idle there since enrolling on Jan 20th (21 days); no quiz to fail.
    assert [r["reason"] for r in got["at_risk"]] == ["inactive"]


def test_instructors_see_only_their_courses(session: Session, world: World) -> None:
    with pytest.raises(PermissionDenied):
        course_report(
            session, actor=Actor.for_user(world.t2), slug="rep-course", period=Period.of(None, NOW)
        )
    mine = course_report(
        session, actor=Actor.for_user(world.t1), slug="rep-course", period=Period.of(None, NOW)
    )
    assert fetch_all(session, mine)["summary"][0]["enrollments"] == 4
    with pytest.raises(PermissionDenied):
        course_report(
            session,
            actor=Actor.for_user(world.s[0]),
            slug="rep-course",
            period=Period.of(None, NOW),
        )


def test_a_malformed_answer_is_shown_as_saved(session: Session, world: World) -> None:
    """An answer naming no option (text, or an index past the options) never fails the report."""
    attempts = session.scalars(select(Attempt).order_by(Attempt.id)).all()
    q1 = str(world.questions[0].id)
    attempts[3].answers = {**attempts[3].answers, q1: "zz"}  # s3's
    attempts[0].answers = {**attempts[0].answers, q1: 7}  # s1's
    session.flush()

    rows = [r for r in report(session)["responses"] if r["position"] == 1]

    assert [(r["response"], r["chosen"]) for r in rows] == [
        ("7", 1),
        ("a", 1),
        ("b", 1),
        ("zz", 1),
    ]
