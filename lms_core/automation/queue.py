"""Queue automatic work from inside a service's transaction (flushes; the caller commits).

Kept apart from :mod:`lms_core.automation.jobs` (the handlers) so a service that only
queues imports no handler and no certificate machinery.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import Certificate, Course, Enrollment, Job

RECOMPUTE_KIND = "catalog.recompute_progress"
CERTIFICATE_KIND = "certificates.issue_one"


#: Job states after which a job will not run again by itself.
_FINISHED = ("running", "succeeded", "dead", "cancelled")


def _needs_another(job: Job) -> bool:
    """Whether a certificate job is over without having issued (not eligible yet, the
    grade not in, or dead): a later event must queue a new one."""
    if job.status in ("queued", "failed", "running"):
        return False  # it will (still) look, after our transaction commits
    return job.status != "succeeded" or (job.result or {}).get("issued") is None


def queue_auto_certificate(session: Session, enrollment_id: int, event: str) -> Job | None:
    """A ``certificates.issue_one`` job for one enrollment of a course with
    ``auto_certificate``, if it is completed; None when nothing was queued.

    The first is keyed ``cert:<enrollment id>``. When that job is over without issuing (it
    found the learner not eligible, say the course grade not in yet, and said why in its
    result; or it died), a later event queues another keyed ``cert:<enrollment id>:<event>``
    (``event``: the completion's time, the grade's): the same event twice queues once. The
    issue itself stays once: the handler, under the course's lock, leaves a learner holding
    a certificate alone.
    """
    from lms_core.jobs.ledger import enqueue

    found = session.execute(
        select(Enrollment.status, Course.auto_certificate)
        .join(Course, Course.id == Enrollment.course_id)
        .where(Enrollment.id == enrollment_id)
    ).one_or_none()
    if found is None or not found[1] or found[0] != "completed":
        return None
    args = {"enrollment_id": enrollment_id}
    job = enqueue(session, CERTIFICATE_KIND, args, key=f"cert:{enrollment_id}")
    if _needs_another(job):
        held = session.scalar(
            select(Certificate.id).where(Certificate.enrollment_id == enrollment_id).limit(1)
        )
        if held is not None:
            return None  # issued (or revoked: an administrator's decision) already
        job = enqueue(session, CERTIFICATE_KIND, args, key=f"cert:{enrollment_id}:{event}"[:200])
    return job


def queue_auto_certificates(session: Session, course_id: int, enrollment_ids: Iterable[int]) -> int:
    """A ``certificates.issue_one`` job per enrollment just completed, if the course has
    ``auto_certificate`` (:func:`queue_auto_certificate`, the event being the completion)."""
    ids = list(enrollment_ids)
    if not ids or not session.scalar(select(Course.auto_certificate).where(Course.id == course_id)):
        return 0
    session.flush()
    completed: dict[int, datetime | None] = {
        eid: when
        for eid, when in session.execute(
            select(Enrollment.id, Enrollment.completed_at).where(Enrollment.id.in_(ids))
        )
    }
    for enrollment_id in ids:
        when = completed.get(enrollment_id)
        stamp = when.strftime("%Y%m%dT%H%M%S.%f") if when is not None else uuid.uuid4().hex
        queue_auto_certificate(session, enrollment_id, f"completed:{stamp}")
    return len(ids)


def queue_certificate_after_grade(
    session: Session, enrollment_id: int, graded_at: datetime
) -> None:
    """A grade came in for a learner of the course: a completed enrollment whose certificate
    job found them not eligible is looked at again (the grading services call this)."""
    stamp = graded_at.strftime("%Y%m%dT%H%M%S.%f")
    queue_auto_certificate(session, enrollment_id, f"grade:{stamp}")


def queue_recompute(session: Session, course_id: int, now: datetime | None = None) -> None:
    """A ``catalog.recompute_progress`` job for the course, one per course and minute
    (changes in that minute share it while it waits; after it started, another is queued).

    The lesson services recompute in their own transaction too; this job runs after the
    change committed, so it also sees a lesson completed concurrently by another
    transaction (which the inline recompute could not see).
    """
    from lms_core.jobs.ledger import enqueue

    minute = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    args = {"course_id": course_id}
    job = enqueue(session, RECOMPUTE_KIND, args, key=f"progress:{course_id}:{minute}")
    if job.status in _FINISHED:
        # That minute's job ran (or is running: it may have read the lessons before ours
        # commit); a change made after it needs a job of its own.
        enqueue(session, RECOMPUTE_KIND, args, key=f"progress:{course_id}:{uuid.uuid4().hex}")
