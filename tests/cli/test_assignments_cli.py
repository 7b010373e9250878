"""lmsctl assignments and submissions: create, list, show, submit (text and files), grade."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lms_core.models import Submission
from tests import samples
from tests.cli.helpers import count, ok, ok_json, refused, refused_json, usage_error


@pytest.fixture
def course(make: Any) -> Any:
    teacher = make.user("instructor")
    course = make.course(instructor=teacher, lessons=1, published=True)
    make.lesson(course, slug="homework", lesson_type="assignment")
    return course


def test_create_list_show(cli: Any, course: Any) -> None:
    data = ok_json(
        cli(
            "assignments",
            "create",
            course.slug,
            "homework",
            "--title",
            "Loops",
            "--due",
            "2030-12-01",
            "--max-points",
            "20",
            "--late-policy",
            "accept",
            "--late-cutoff",
            "2030-12-04",
            "--penalty",
            "10",
            "--json",
        )
    )
    ref = f"{course.slug}/homework"
    assert data["ref"] == ref and data["max_points"] == 20.0
    assert data["due_date"].startswith("2030-12-01T23:59:59")
    listed = ok_json(cli("assignments", "list", "--course", course.slug, "--json"))
    assert [a["ref"] for a in listed] == [ref]
    shown = ok_json(cli("assignments", "show", ref, "--json"))
    assert shown["submissions"] == 0 and shown["late_penalty_percent"] == 10.0
    result = ok(cli("assignments", "show", str(data["id"])))
    assert "Loops" in result.stdout
    updated = ok_json(cli("assignments", "update", ref, "--penalty", "5", "--json"))
    assert updated["late_penalty_percent"] == 5.0


def test_create_refusals(cli: Any, course: Any, unchanged: Any) -> None:
    with unchanged():
        refused(
            cli("assignments", "create", course.slug, "lesson-1", "--title", "X"),
            "lesson_slug",
            contains="not assignment",
        )
        refused(
            cli("assignments", "create", course.slug, "--title", "X", "--due", "soon"), "due_date"
        )
        data = refused_json(
            cli("assignments", "create", course.slug, "--title", "X", "--penalty", "200", "--json"),
            "late_penalty_percent",
        )
        assert data["value"] == "200"
        refused(cli("assignments", "show", "nope/nothing"), "assignment")


def test_submit_grade_and_list(
    cli: Any, course: Any, make: Any, session: Any, tmp_path: Path
) -> None:
    ok(
        cli(
            "assignments",
            "create",
            course.slug,
            "homework",
            "--title",
            "Loops",
            "--max-points",
            "20",
        )
    )
    learner = make.user()
    make.enroll(learner, course)
    ref = f"{course.slug}/homework"
    work = tmp_path / "loops.py"
    work.write_text("for i in range(3):\n    print(i)\n")
    data = ok_json(
        cli(
            "submissions",
            "submit",
            ref,
            learner.email,
            "--text",
            "see file",
            "--file",
            str(work),
            "--json",
            as_=learner.email,
        )
    )
    assert data["outcome"] == "created" and data["files"][0]["name"] == "loops.py"
    again = ok(cli("submissions", "submit", ref, learner.email, "--text", "v2", as_=learner.email))
    assert again.stdout.startswith("replaced submission")
    result = ok(
        cli("submissions", "grade", ref, learner.email, "--grade", "17,5", "--feedback", "ok")
    )
    assert "graded" in result.stdout and "17.5" in result.stdout
    rows = ok_json(cli("submissions", "list", ref, "--json"))
    assert [(r["email"], r["grade"], r["final"], r["text"]) for r in rows] == [
        (learner.email, 17.5, 17.5, "v2")
    ]
    refused(
        cli("submissions", "submit", ref, learner.email, "--text", "v3", as_=learner.email),
        "email",
        contains="resubmission is refused",
    )
    assert count(session, Submission) == 1


def test_submit_and_grade_refusals(
    cli: Any, course: Any, make: Any, unchanged: Any, tmp_path: Path
) -> None:
    ok(
        cli(
            "assignments",
            "create",
            course.slug,
            "homework",
            "--title",
            "L",
            "--due",
            "2020-01-01",
            "--late-policy",
            "refuse",
        )
    )
    learner = make.user()
    make.enroll(learner, course)
    ref = f"{course.slug}/homework"
    open_ref = ok_json(cli("assignments", "create", course.slug, "--title", "Open", "--json"))["id"]
    fake = tmp_path / "essay.pdf"
    fake.write_bytes(samples.EXE)
    with unchanged():
        refused(cli("submissions", "submit", ref, learner.email, "--text", "x"), "submitted_at")
        refused(
            cli("submissions", "submit", str(open_ref), learner.email, "--file", str(fake)),
            "file",
            contains="windows executable",
        )
        refused(cli("submissions", "submit", ref, learner.email), "text")
        refused(
            cli("submissions", "grade", ref, learner.email, "--grade", "5"),
            "email",
            contains="nothing to grade",
        )
        usage_error(cli("submissions", "grade", ref, learner.email))


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        # Rounding 1e30 to cents needs more digits than a Decimal has: the range comes first.
        ("--max-points", "1e30", "max_points"),
        ("--penalty", "1e30", "late_penalty_percent"),
        ("--max-points", "1,000", "max_points"),
        # In UTC, a year after 9999 and a year before 1: no datetime has them.
        ("--due", "9999-12-31T23:00-05:00", "due_date"),
        ("--due", "0001-01-01T00:00+01:00", "due_date"),
        ("--late-cutoff", "9999-12-31T23:00-05:00", "late_cutoff"),
    ],
)
def test_create_refuses_numbers_and_dates_out_of_reach_by_name(
    cli: Any, course: Any, unchanged: Any, option: str, value: str, field: str
) -> None:
    with unchanged():
        refused(cli("assignments", "create", course.slug, "--title", "X", option, value), field)


def test_grade_refuses_a_huge_number_and_a_thousands_separator(
    cli: Any, course: Any, make: Any, session: Any, unchanged: Any
) -> None:
    ok(cli("assignments", "create", course.slug, "homework", "--title", "H", "--max-points", "10"))
    learner = make.user()
    make.enroll(learner, course)
    ref = f"{course.slug}/homework"
    ok(cli("submissions", "submit", ref, learner.email, "--text", "work"))
    with unchanged():
        refused(
            cli("submissions", "grade", ref, learner.email, "--grade", "1e30"),
            "grade",
            contains="from 0 to 10",
        )
        # Read as 1 before: a grader who typed "1,000" meant something else.
        refused(
            cli("submissions", "grade", ref, learner.email, "--grade", "1,000"),
            "grade",
            contains="thousands",
        )
    ok(cli("submissions", "grade", ref, learner.email, "--grade", "7,5"))
    assert session.scalars(select(Submission.grade)).one() == Decimal("7.50")
