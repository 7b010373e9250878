"""Assignments: create, update, list, show, and the late policy every submission goes through.

An assignment belongs to a course, optionally to one lesson of type ``assignment``. It is named
``COURSE/LESSON`` (when it has a lesson) or by its numeric id.

Late policy. ``refuse``: nothing is accepted after the due date. ``accept``: late work is
accepted until ``late_cutoff`` (no cut-off: any time), and loses ``late_penalty_percent`` per
started day late (1 second late = 1 day), never below 0. The grade the grader gives is stored
as given (``submissions.grade``); the penalty-adjusted ``final`` is computed from it and
``days_late`` wherever grades are shown (listings, worksheet, gradebook), so a regrade or a
re-import never applies the penalty twice.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.assignments.fields import (
    AUDITED,
    CENT,
    CHECKS,
    DEFAULTS,
    AssignmentCreate,
    AssignmentDetail,
    AssignmentRow,
    AssignmentUpdate,
    given,
)
from lms_core.catalog.courses import get_course
from lms_core.catalog.lessons import get_lesson, lesson_name, lesson_ref
from lms_core.errors import Conflict, NotFound, ValidationError
from lms_core.models import (
    Assignment,
    Course,
    Enrollment,
    EnrollmentStatus,
    LatePolicy,
    Lesson,
    LessonType,
    Role,
    Submission,
)
from lms_core.permissions import can_manage_course, require_course_manager
from lms_core.validation import collect


def assignment_ref(assignment: Assignment) -> str:
    """How commands name it: ``course/lesson`` when it has a lesson, else its id."""
    if assignment.lesson is not None:
        return lesson_name(assignment.lesson)
    return str(assignment.id)


def assignment_row(assignment: Assignment) -> AssignmentRow:
    """The assignment as listings and ``--json`` show it (course and lesson as slugs)."""
    return AssignmentRow(
        id=assignment.id,
        ref=assignment_ref(assignment),
        course=assignment.course.slug,
        lesson=lesson_name(assignment.lesson) if assignment.lesson is not None else None,
        title=assignment.title,
        description=assignment.description,
        due_date=_iso(assignment.due_date),
        max_points=float(assignment.max_points),
        late_policy=assignment.late_policy,
        late_cutoff=_iso(assignment.late_cutoff),
        late_penalty_percent=float(assignment.late_penalty_percent),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def get_assignment(session: Session, ref: str | int) -> Assignment:
    """Find an assignment by its lesson, ``COURSE/LESSON``, or by id."""
    text = str(ref).strip()
    assignment: Assignment | None
    if text.isdigit():
        assignment = session.get(Assignment, int(text))
    elif "/" in text:
        named = lesson_ref(text, field="assignment")
        text = str(named)
        assignment = session.scalars(
            select(Assignment)
            .join(Lesson, Lesson.id == Assignment.lesson_id)
            .join(Course, Course.id == Lesson.course_id)
            .where(Course.slug == named.course, Lesson.slug == named.lesson)
        ).first()
    else:
        raise ValidationError(
            "must be COURSE/LESSON (its lesson) or the numeric id that `assignments list` shows",
            field="assignment",
            value=ref,
        )
    if assignment is None:
        raise NotFound(f"no assignment {text}", field="assignment", value=ref)
    return assignment


# -- values -------------------------------------------------------------------------------------


def days_late(assignment: Assignment, at: datetime) -> int:
    """Started days after the due date (0 when on time or when there is no due date)."""
    if assignment.due_date is None or at <= assignment.due_date:
        return 0
    return math.ceil((at - assignment.due_date).total_seconds() / 86400)


def penalty_percent(assignment: Assignment, late: int) -> Decimal:
    return min(Decimal("100"), Decimal(late) * assignment.late_penalty_percent)


def final_grade(grade: Decimal | None, penalty: Decimal) -> Decimal | None:
    """The grade after the late penalty, two decimals (what counts in the gradebook)."""
    if grade is None:
        return None
    return (grade * (Decimal("100") - penalty) / Decimal("100")).quantize(
        CENT, rounding=ROUND_HALF_UP
    )


def check_accepts(assignment: Assignment, at: datetime) -> None:
    """Refuse work the late policy no longer accepts at ``at``."""
    due = assignment.due_date
    if due is None or at <= due:
        return
    if assignment.late_policy == LatePolicy.refuse.value:
        raise Conflict(
            f"the due date ({due:%Y-%m-%d %H:%M} UTC) has passed and this assignment refuses "
            "late work",
            field="submitted_at",
            value=at.isoformat(),
        )
    if assignment.late_cutoff is not None and at > assignment.late_cutoff:
        raise Conflict(
            f"the late cut-off ({assignment.late_cutoff:%Y-%m-%d %H:%M} UTC) has passed",
            field="submitted_at",
            value=at.isoformat(),
        )


# -- create, update -----------------------------------------------------------------------------


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """Each given value through its field's check (:data:`lms_core.assignments.fields.CHECKS`)."""
    return collect(
        [(n, (lambda c=CHECKS[n], v=v: c(v))) for n, v in values.items() if v is not None]
    )


def _check_policy(assignment: Assignment) -> None:
    """Rules across fields, checked on the result of a create or an update."""
    if assignment.late_cutoff is not None:
        if assignment.late_policy != LatePolicy.accept.value:
            raise ValidationError(
                "a late cut-off needs the late policy accept", field="late_cutoff"
            )
        if assignment.due_date is None or assignment.late_cutoff < assignment.due_date:
            raise ValidationError(
                "must be at or after the due date",
                field="late_cutoff",
                value=assignment.late_cutoff,
            )


def create_assignment(
    session: Session,
    *,
    actor: Actor,
    course_slug: str,
    lesson_slug: str | None = None,
    data: AssignmentCreate,
) -> Assignment:
    """Create an assignment in a course, or for one of its lessons of type ``assignment``."""
    course = get_course(session, course_slug)
    require_course_manager(actor, course, "create assignments")
    values = _checked({**DEFAULTS, "title": data.title, **given(data)})
    lesson = None
    if lesson_slug:
        lesson = get_lesson(session, course, lesson_slug)
        if lesson.lesson_type != LessonType.assignment.value:
            raise ValidationError(
                f"lesson {lesson_name(lesson)} is of type {lesson.lesson_type}, not assignment",
                field="lesson_slug",
                value=lesson_slug,
            )
        if session.scalar(select(Assignment.id).where(Assignment.lesson_id == lesson.id)):
            raise Conflict(
                f"lesson {course.slug}/{lesson.slug} already has an assignment",
                field="lesson_slug",
                value=lesson_slug,
            )
    assignment = Assignment(course_id=course.id, lesson_id=lesson.id if lesson else None, **values)
    _check_policy(assignment)
    session.add(assignment)
    session.flush()
    session.refresh(assignment, ["course", "lesson"])
    audit.record(
        session,
        actor,
        "assignment.create",
        assignment,
        after={"ref": assignment_ref(assignment), **audit.snapshot(assignment, AUDITED)},
    )
    return assignment


def update_assignment(
    session: Session, *, actor: Actor, ref: str, data: AssignmentUpdate
) -> Assignment:
    """Change the given fields (None: unchanged); days late are recomputed when dates move."""
    assignment = get_assignment(session, ref)
    require_course_manager(actor, assignment.course, "change its assignments")
    values = _checked(given(data))
    before = audit.snapshot(assignment, AUDITED)
    for name, value in values.items():
        setattr(assignment, name, value)
    _check_policy(assignment)
    top = session.scalar(
        select(func.max(Submission.grade)).where(Submission.assignment_id == assignment.id)
    )
    if top is not None and top > assignment.max_points:
        raise Conflict(
            f"a submission is graded {top:g}, above the new maximum",
            field="max_points",
            value=data.max_points,
        )
    if "due_date" in values:
        for submission in session.scalars(
            select(Submission).where(Submission.assignment_id == assignment.id)
        ):
            submission.days_late = days_late(assignment, submission.submitted_at)
    audit.record_change(
        session,
        actor,
        "assignment.update",
        assignment,
        before=before,
        fields=AUDITED,
        unchanged_too=True,
    )
    return assignment


# -- reading ------------------------------------------------------------------------------------


def _visible(stmt: Any, actor: Actor) -> Any:
    """Admins see every assignment, instructors their courses', learners their enrolled ones'."""
    if actor.is_admin:
        return stmt
    if actor.role is Role.instructor:
        return stmt.where(Course.instructor_id == actor.user_id)
    enrolled = select(Enrollment.course_id).where(
        Enrollment.student_id == actor.user_id,
        Enrollment.status != EnrollmentStatus.dropped.value,
    )
    return stmt.where(Assignment.course_id.in_(enrolled))


def assignments_query(
    session: Session, *, actor: Actor, course_slug: str | None = None
) -> Select[Assignment]:
    """The assignments the actor may see, for a list or a stream (``pagination.iter_rows``)."""
    stmt = (
        select(Assignment)
        .join(Course, Course.id == Assignment.course_id)
        .order_by(Course.slug, Assignment.due_date, Assignment.id)
    )
    if course_slug:
        stmt = stmt.where(Assignment.course_id == get_course(session, course_slug).id)
    visible: Select[Assignment] = _visible(stmt, actor)
    return visible


def list_assignments(
    session: Session, *, actor: Actor, course_slug: str | None = None
) -> list[Assignment]:
    stmt = assignments_query(session, actor=actor, course_slug=course_slug)
    return list(session.scalars(stmt).unique())


def enrolled_count(session: Session, course_id: int) -> int:
    """The course's learners who may hand in work (every enrollment but dropped ones)."""
    stmt = (
        select(func.count())
        .select_from(Enrollment)
        .where(
            Enrollment.course_id == course_id,
            Enrollment.status != EnrollmentStatus.dropped.value,
        )
    )
    return session.scalar(stmt) or 0


def require_can_see(session: Session, actor: Actor, assignment: Assignment) -> None:
    """Course managers, and learners enrolled in the course, may see an assignment."""
    if can_manage_course(actor, assignment.course):
        return
    enrolled = session.scalar(
        select(Enrollment.id).where(
            Enrollment.course_id == assignment.course_id,
            Enrollment.student_id == actor.user_id,
            Enrollment.status != EnrollmentStatus.dropped.value,
        )
    )
    if actor.user_id is None or enrolled is None:
        raise NotFound(f"no assignment {assignment_ref(assignment)}", field="assignment")


def show_assignment(session: Session, *, actor: Actor, ref: str) -> AssignmentDetail:
    """The assignment with counts: learners enrolled, submissions, graded, late."""
    assignment = get_assignment(session, ref)
    require_can_see(session, actor, assignment)
    # The detail is the row plus counts; cast because a TypedDict cannot be widened in place.
    row = cast(AssignmentDetail, assignment_row(assignment))
    if can_manage_course(actor, assignment.course):
        counts = session.execute(
            select(
                func.count(Submission.id),
                func.count(Submission.grade),
                func.count(Submission.id).filter(Submission.days_late > 0),
            ).where(Submission.assignment_id == assignment.id)
        ).one()
        row["enrolled"] = enrolled_count(session, assignment.course_id)
        row["submissions"], row["graded"], row["late"] = counts
    return row
