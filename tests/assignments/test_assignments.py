"""Assignments: create/update/list/show, references, and the late-policy arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from lms_core.assignments import assignments as svc
from lms_core.assignments import fields as asg_fields
from lms_core.assignments.fields import (
    AssignmentCreate,
    AssignmentUpdate,
    SubmissionCreate,
    SubmissionGrade,
)
from lms_core.errors import Conflict, LmsError, NotFound, PermissionDenied, ValidationError
from lms_core.models import Assignment
from tests.helpers import as_, audit_log, fields_of

DUE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def course(make: Any, teacher: Any) -> Any:
    course = make.course(instructor=teacher, lessons=1, published=True)
    make.lesson(course, slug="essay", lesson_type="assignment")
    return course


def test_create_with_lesson_named_by_course_and_lesson(
    session: Any, course: Any, operator: Any
) -> None:
    a = svc.create_assignment(
        session,
        actor=operator,
        course_slug=course.slug,
        lesson_slug="essay",
        data=AssignmentCreate(
            title="Essay",
            due_date="2026-03-10T12:00:00Z",
            max_points="20",
            late_penalty_percent="10",
        ),
    )
    assert svc.get_assignment(session, f"{course.slug}/essay") is a
    assert svc.get_assignment(session, str(a.id)) is a
    row = svc.assignment_row(a)
    assert row["ref"] == f"{course.slug}/essay"
    assert row["max_points"] == 20.0 and row["late_policy"] == "accept"
    assert audit_log(session, "assignment.create")[-1].entity_id == a.id


def test_course_level_assignment_is_named_by_id(session: Any, course: Any, operator: Any) -> None:
    a = svc.create_assignment(
        session, actor=operator, course_slug=course.slug, data=AssignmentCreate(title="Project")
    )
    assert a.lesson_id is None and svc.assignment_ref(a) == str(a.id)


def test_bare_date_means_end_of_that_day_utc() -> None:
    assert asg_fields.parse_when("2026-12-01", field="d") == datetime(
        2026, 12, 1, 23, 59, 59, tzinfo=UTC
    )
    assert asg_fields.parse_when("2026-12-01T17:00+01:00", field="d") == datetime(
        2026, 12, 1, 16, 0, tzinfo=UTC
    )
    # Valid ISO 8601, but a year 10000 or a year 0 in UTC: refused, not an OverflowError.
    for bad in ("next friday", "9999-12-31T23:00-05:00", "0001-01-01T00:00+01:00"):
        with pytest.raises(ValidationError, match="ISO 8601"):
            asg_fields.parse_when(bad, field="d")


def test_refusals_name_their_fields(session: Any, course: Any, operator: Any) -> None:
    with pytest.raises(LmsError) as caught:
        svc.create_assignment(
            session,
            actor=operator,
            course_slug=course.slug,
            data=AssignmentCreate(
                title="", max_points="0", late_policy="sometimes", late_penalty_percent="150"
            ),
        )
    assert fields_of(caught.value) == {"title", "max_points", "late_policy", "late_penalty_percent"}
    with pytest.raises(ValidationError) as caught:
        svc.create_assignment(
            session,
            actor=operator,
            course_slug=course.slug,
            lesson_slug="lesson-1",
            data=AssignmentCreate(title="X"),
        )
    assert caught.value.field == "lesson_slug"  # a text lesson, not an assignment lesson
    with pytest.raises(ValidationError) as caught:
        svc.create_assignment(
            session,
            actor=operator,
            course_slug=course.slug,
            data=AssignmentCreate(title="X", due_date=DUE, late_cutoff=DUE - timedelta(days=1)),
        )
    assert caught.value.field == "late_cutoff"
    with pytest.raises(ValidationError) as caught:
        svc.create_assignment(
            session,
            actor=operator,
            course_slug=course.slug,
            data=AssignmentCreate(
                title="X", due_date=DUE, late_policy="refuse", late_cutoff=DUE + timedelta(days=1)
            ),
        )
    assert caught.value.field == "late_cutoff"


def test_one_assignment_per_lesson(session: Any, course: Any, operator: Any) -> None:
    svc.create_assignment(
        session,
        actor=operator,
        course_slug=course.slug,
        lesson_slug="essay",
        data=AssignmentCreate(title="A"),
    )
    with pytest.raises(Conflict):
        svc.create_assignment(
            session,
            actor=operator,
            course_slug=course.slug,
            lesson_slug="essay",
            data=AssignmentCreate(title="B"),
        )


def test_only_the_course_instructor_or_admin_creates(
    session: Any, course: Any, make: Any, learner: Any
) -> None:
    other = make.user("instructor")
    for who in (other, learner):
        with pytest.raises(PermissionDenied):
            svc.create_assignment(
                session, actor=as_(who), course_slug=course.slug, data=AssignmentCreate(title="X")
            )


def test_unknown_references(session: Any) -> None:
    with pytest.raises(NotFound):
        svc.get_assignment(session, "999999")
    with pytest.raises(NotFound):
        svc.get_assignment(session, "nope/nothing")
    with pytest.raises(ValidationError):
        svc.get_assignment(session, "a/b/c")


def _assignment(**extra: Any) -> Assignment:
    values: dict[str, Any] = {
        "due_date": DUE,
        "late_policy": "accept",
        "late_cutoff": None,
        "late_penalty_percent": Decimal("10"),
    }
    values.update(extra)
    return Assignment(**values)


def test_days_late_counts_started_days() -> None:
    a = _assignment()
    assert svc.days_late(a, DUE) == 0
    assert svc.days_late(a, DUE + timedelta(seconds=1)) == 1
    assert svc.days_late(a, DUE + timedelta(days=1)) == 1
    assert svc.days_late(a, DUE + timedelta(days=1, seconds=1)) == 2
    assert svc.days_late(_assignment(due_date=None), DUE) == 0


def test_penalty_per_started_day_never_below_zero() -> None:
    a = _assignment()
    assert svc.penalty_percent(a, 3) == Decimal("30")
    assert svc.final_grade(Decimal("8"), svc.penalty_percent(a, 3)) == Decimal("5.60")
    assert svc.final_grade(Decimal("8"), svc.penalty_percent(a, 15)) == Decimal("0.00")
    assert svc.final_grade(None, Decimal("10")) is None


def test_late_policy_accept_until_cutoff_and_refuse() -> None:
    svc.check_accepts(_assignment(), DUE + timedelta(days=30))  # no cut-off: any time
    cutoff = _assignment(late_cutoff=DUE + timedelta(days=2))
    svc.check_accepts(cutoff, DUE + timedelta(days=2))
    with pytest.raises(Conflict, match="cut-off"):
        svc.check_accepts(cutoff, DUE + timedelta(days=2, seconds=1))
    refuse = _assignment(late_policy="refuse")
    svc.check_accepts(refuse, DUE)
    with pytest.raises(Conflict, match="refuses late work"):
        svc.check_accepts(refuse, DUE + timedelta(seconds=1))


def test_grade_numbers_accept_comma_and_refuse_three_decimals() -> None:
    check = dict(field="grade", low=Decimal(0), high=Decimal(10))
    assert asg_fields.parse_decimal("7,5", **check) == Decimal("7.50")  # type: ignore[arg-type]
    assert asg_fields.parse_decimal(7.25, **check) == Decimal("7.25")  # type: ignore[arg-type]
    # 1e30 and 1e308 are too big to round to cents; "1,000" was read as 1.
    for bad in ("seven", "10.5", "-1", "1.234", "nan", True, "1e30", 1e308, "1,000", "1.000,5"):
        with pytest.raises(ValidationError):
            asg_fields.parse_decimal(bad, **check)  # type: ignore[arg-type]


def test_update_recomputes_days_late_and_guards_max_points(
    session: Any, course: Any, operator: Any, make: Any
) -> None:
    from lms_core.assignments import submissions

    student = make.user()
    make.enroll(student, course)
    a = svc.create_assignment(
        session,
        actor=operator,
        course_slug=course.slug,
        data=AssignmentCreate(title="P", due_date=DUE, max_points=10),
    )
    submissions.submit(
        session,
        actor=operator,
        settings=None,  # type: ignore[arg-type]
        assignment=str(a.id),
        email=student.email,
        now=DUE + timedelta(hours=30),
        data=SubmissionCreate(text="work"),
    )
    sub = submissions.find_submission(session, a.id, student.id)
    assert sub is not None and sub.days_late == 2
    svc.update_assignment(
        session,
        actor=operator,
        ref=str(a.id),
        data=AssignmentUpdate(due_date=DUE + timedelta(days=1)),
    )
    assert sub.days_late == 1
    submissions.grade(
        session,
        actor=operator,
        assignment=str(a.id),
        email=student.email,
        data=SubmissionGrade(points=9),
    )
    with pytest.raises(Conflict):
        svc.update_assignment(
            session, actor=operator, ref=str(a.id), data=AssignmentUpdate(max_points="5")
        )


def test_list_and_show_follow_roles(session: Any, course: Any, make: Any, teacher: Any) -> None:
    admin = make.user("admin")
    a = svc.create_assignment(
        session, actor=as_(teacher), course_slug=course.slug, data=AssignmentCreate(title="P")
    )
    enrolled, stranger, other_teacher = make.user(), make.user(), make.user("instructor")
    make.enroll(enrolled, course)
    assert a in svc.list_assignments(session, actor=as_(admin))
    assert a in svc.list_assignments(session, actor=as_(teacher))
    assert a in svc.list_assignments(session, actor=as_(enrolled), course_slug=course.slug)
    assert a not in svc.list_assignments(session, actor=as_(stranger))
    assert a not in svc.list_assignments(session, actor=as_(other_teacher))
    shown = svc.show_assignment(session, actor=as_(teacher), ref=str(a.id))
    assert shown["enrolled"] == 1 and shown["submissions"] == 0
    assert "enrolled" not in svc.show_assignment(session, actor=as_(enrolled), ref=str(a.id))
    with pytest.raises(NotFound):
        svc.show_assignment(session, actor=as_(stranger), ref=str(a.id))


def test_the_field_spec_defaults_are_the_models(session: Any, course: Any, operator: Any) -> None:
    """``fields.DEFAULTS`` is what a create fills in; the model's columns must agree."""
    from lms_core.assignments.fields import DEFAULTS, AssignmentFields
    from lms_core.models import Assignment

    for name, default in DEFAULTS.items():
        column = Assignment.__table__.c[name]
        assert (column.default.arg if column.default is not None else None) == default, name
    assert set(AssignmentFields.__dataclass_fields__) == set(DEFAULTS)
    a = svc.create_assignment(
        session, actor=operator, course_slug=course.slug, data=AssignmentCreate(title="P")
    )
    assert {name: getattr(a, name) for name in DEFAULTS} == dict(DEFAULTS)
