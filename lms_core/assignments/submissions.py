"""Submissions: a learner's work for an assignment (text and/or files), and its grade.

One submission per learner and assignment. Resubmitting before it is graded replaces the text
and the files (the old files are deleted); once graded it is refused. The late policy is
applied at submission time (:func:`lms_core.assignments.assignments.check_accepts`) and the days
late are stored. The grade is stored as the grader gave it; listings show the penalty and the
``final`` grade computed from it (see :mod:`lms_core.assignments.assignments`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, selectinload

from lms_core import events
from lms_core.accounts import audit
from lms_core.accounts.activity import note_activity
from lms_core.accounts.users import get_user
from lms_core.actor import Actor
from lms_core.assignments.assignments import (
    check_accepts,
    days_late,
    final_grade,
    get_assignment,
    penalty_percent,
    require_can_see,
)
from lms_core.assignments.fields import (
    FILES_MAX,
    TEXT_MAX,
    SubmissionCreate,
    SubmissionGrade,
    SubmissionRow,
    SubmittedFile,
    check_feedback,
    check_grade,
)
from lms_core.assignments.files import check_upload, discard, store
from lms_core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from lms_core.models import (
    Assignment,
    Enrollment,
    EnrollmentStatus,
    Submission,
    User,
    utcnow,
)
from lms_core.pagination import STREAM_CHUNK, iter_tuples
from lms_core.permissions import can_manage_course, require_course_manager
from lms_core.settings import Settings
from lms_core.validation import check_text

_AUDITED = ("submitted_at", "days_late", "grade", "feedback", "graded_at")


@dataclass
class SubmitResult:
    submission: Submission
    #: ``created`` or ``replaced``.
    outcome: str


def submission_row(submission: Submission, assignment: Assignment) -> SubmissionRow:
    """The submission as listings and ``--json`` show it, the late penalty applied to ``final``."""
    penalty = penalty_percent(assignment, submission.days_late)
    return SubmissionRow(
        id=submission.id,
        email=submission.student.email,
        full_name=submission.student.full_name,
        submitted_at=submission.submitted_at.isoformat(),
        days_late=submission.days_late,
        penalty_percent=float(penalty),
        grade=_float(submission.grade),
        final=_float(final_grade(submission.grade, penalty)),
        feedback=submission.feedback,
        grader=submission.grader_id,
        graded_at=submission.graded_at.isoformat() if submission.graded_at else None,
        files=[
            SubmittedFile(id=f.id, name=f.original_filename, size=f.file_size)
            for f in submission.files
        ],
        text=submission.content,
    )


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _enrollment(session: Session, assignment: Assignment, student: User) -> Enrollment:
    enrollment = session.scalars(
        select(Enrollment).where(
            Enrollment.course_id == assignment.course_id, Enrollment.student_id == student.id
        )
    ).first()
    if enrollment is None or enrollment.status == EnrollmentStatus.dropped.value:
        raise Conflict(
            f"{student.email} is not enrolled in {assignment.course.slug}",
            field="email",
            value=student.email,
        )
    return enrollment


def find_submission(session: Session, assignment_id: int, student_id: int) -> Submission | None:
    return session.scalars(
        select(Submission).where(
            Submission.assignment_id == assignment_id, Submission.student_id == student_id
        )
    ).first()


def submit(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    assignment: str,
    email: str,
    data: SubmissionCreate,
    now: datetime | None = None,
) -> SubmitResult:
    """Hand in work for a learner (the learner, or staff acting for them).

    ``now`` is the submission time (tests and imports pass it; default: the clock).
    """
    files = data.files
    at = (now or utcnow()).astimezone(UTC)
    target = get_assignment(session, assignment)
    student = get_user(session, email)
    if not (actor.is_user(student.id) or can_manage_course(actor, target.course)):
        raise PermissionDenied(
            f"only {student.email}, the course's instructor or an administrator may submit "
            "for this learner"
        )
    _enrollment(session, target, student)
    content = check_text(data.text, field="text", max_length=TEXT_MAX) or None
    if content is None and not files:
        raise ValidationError("give a text or at least one file", field="text")
    if len(files) > FILES_MAX:
        raise ValidationError(
            f"at most {FILES_MAX} files per submission", field="file", value=len(files)
        )
    existing = find_submission(session, target.id, student.id)
    if existing is not None and existing.grade is not None:
        raise Conflict(
            f"{student.email}'s submission was graded on {existing.graded_at:%Y-%m-%d}; "
            "resubmission is refused",
            field="email",
            value=email,
        )
    check_accepts(target, at)
    for upload in files:
        check_upload(settings, upload)
    stored = [store(session, actor=actor, settings=settings, upload=u) for u in files]
    late = days_late(target, at)
    if existing is None:
        submission = Submission(
            assignment_id=target.id,
            student_id=student.id,
            submitted_at=at,
            content=content,
            days_late=late,
            files=stored,
        )
        session.add(submission)
        outcome, before = "created", None
    else:
        submission = existing
        before = audit.snapshot(submission, _AUDITED)
        old = list(submission.files)
        submission.submitted_at, submission.content, submission.days_late = at, content, late
        submission.files = stored
        session.flush()
        for old_file in old:
            if old_file not in stored:
                discard(session, settings=settings, stored=old_file)
        outcome = "replaced"
    session.flush()
    note_activity(session, student.id, at)
    audit.record(
        session,
        actor,
        f"submission.{'create' if outcome == 'created' else 'replace'}",
        submission,
        before=before,
        after={
            "assignment_id": target.id,
            "email": student.email,
            "days_late": late,
            "files": [f.sha256 for f in stored],
            "text_length": len(content or ""),
        },
    )
    return SubmitResult(submission, outcome)


def _complete_lesson(session: Session, actor: Actor, target: Assignment, student: User) -> None:
    """A graded submission completes the assignment's lesson (progress counts it), as the
    learner's enrollment stands: not when dropped."""
    if target.lesson is None:
        return
    enrollment = session.scalars(
        select(Enrollment).where(
            Enrollment.course_id == target.course_id, Enrollment.student_id == student.id
        )
    ).first()
    if enrollment is None or enrollment.status == EnrollmentStatus.dropped.value:
        return
    from lms_core.catalog.enrollments import complete_earned_lesson

    complete_earned_lesson(
        session,
        actor=actor,
        email=student.email,
        course_slug=target.course.slug,
        lesson_slug=target.lesson.slug,
    )


def complete_graded_lessons(session: Session, assignment_id: int, submission_ids: list[int]) -> int:
    """After grades were written in bulk (a grading import): complete the assignment's lesson
    for these submissions' learners, set-based (not dropped, not yet done); how many."""
    from lms_core.catalog.progress import complete_lesson_for_many

    target = session.get(Assignment, assignment_id)
    if target is None or target.lesson is None or not submission_ids:
        return 0
    enrollment_ids: list[int] = []
    for i in range(0, len(submission_ids), 900):  # IN lists within SQLite's oldest limit
        chunk = submission_ids[i : i + 900]
        enrollment_ids += session.scalars(
            select(Enrollment.id)
            .join(Submission, Submission.student_id == Enrollment.student_id)
            .where(Submission.id.in_(chunk), Enrollment.course_id == target.course_id)
        )
    return complete_lesson_for_many(session, target.lesson, enrollment_ids)


def grade(
    session: Session,
    *,
    actor: Actor,
    assignment: str,
    email: str,
    data: SubmissionGrade,
    now: datetime | None = None,
) -> Submission:
    """Grade (or regrade) a learner's submission: 0..max points, stored as given."""
    target = get_assignment(session, assignment)
    require_course_manager(actor, target.course, "grade its assignments")
    student = get_user(session, email)
    submission = find_submission(session, target.id, student.id)
    if submission is None:
        raise NotFound(
            f"{student.email} has not submitted {target.title}; there is nothing to grade",
            field="email",
            value=email,
        )
    value = check_grade(data.points, target.max_points)
    before = audit.snapshot(submission, _AUDITED)
    submission.grade = value
    if data.feedback is not None:
        submission.feedback = check_feedback(data.feedback)
    submission.grader_id = actor.user_id
    submission.graded_at = now or utcnow()
    audit.record_change(
        session,
        actor,
        "submission.grade",
        submission,
        before=before,
        fields=_AUDITED,
        unchanged_too=True,
    )
    events.submission_graded(session, submission)
    _complete_lesson(session, actor, target, student)
    _grade_may_earn_certificate(session, target.course_id, student.id, submission.graded_at)
    return submission


def _grade_may_earn_certificate(
    session: Session, course_id: int, student_id: int, graded_at: datetime
) -> None:
    """A completed learner whose automatic certificate waited for this grade gets another
    look (lms_core.automation.queue: nothing is queued unless the course asks for it)."""
    from lms_core.automation.queue import queue_certificate_after_grade

    enrollment_id = session.scalar(
        select(Enrollment.id).where(
            Enrollment.course_id == course_id, Enrollment.student_id == student_id
        )
    )
    if enrollment_id is not None:
        queue_certificate_after_grade(session, enrollment_id, graded_at)


def iter_submissions(
    session: Session, *, actor: Actor, assignment: str, chunk: int = STREAM_CHUNK
) -> Iterator[SubmissionRow]:
    """The assignment's submissions: every one for course managers, their own for learners.

    Rights are checked now; the rows are read ``chunk`` at a time as the iterator is consumed
    (inside the caller's transaction), the grader named by e-mail.
    """
    target = get_assignment(session, assignment)
    require_can_see(session, actor, target)
    grader = aliased(User)
    stmt = (
        select(Submission, grader.email)
        .join(User, User.id == Submission.student_id)
        .outerjoin(grader, grader.id == Submission.grader_id)
        .where(Submission.assignment_id == target.id)
        .options(selectinload(Submission.files))
        .order_by(User.full_name, User.email)
    )
    if not can_manage_course(actor, target.course):
        stmt = stmt.where(Submission.student_id == actor.user_id)

    def rows() -> Iterator[SubmissionRow]:
        for submission, grader_email in iter_tuples(session, stmt, chunk=chunk):
            row = submission_row(submission, target)
            row["grader"] = grader_email
            yield row

    return rows()


def list_submissions(session: Session, *, actor: Actor, assignment: str) -> list[SubmissionRow]:
    """The assignment's submissions: every one for course managers, their own for learners."""
    return list(iter_submissions(session, actor=actor, assignment=assignment))
