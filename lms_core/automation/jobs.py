"""Job kinds of the automatic work (docs/jobs.md, "Automatic work").

Each handler calls the same service as the command an administrator would run, as the
system actor ``system:jobs``, in its own unit of work; each is safe to run twice (the
services are reruns by design: an attempt already closed, a token already gone, a blob
already removed, a certificate already issued is found and left alone).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from lms_core.actor import Actor
from lms_core.automation.queue import CERTIFICATE_KIND, RECOMPUTE_KIND
from lms_core.db import SessionFactory, unit_of_work
from lms_core.jobs.registry import JobContext, handler
from lms_core.models import Course

ACTOR = Actor.system("jobs")
#: Seconds an automatic certificate waits for a running issue run on its course.
CERTIFICATE_LOCK_WAIT = 30.0


@handler("quizzes.close_overdue", max_attempts=3, lease_seconds=600)
def close_overdue(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """``lmsctl quizzes close-overdue``: close attempts past their deadline."""
    from lms_core.quizzes.review import close_overdue as close

    with unit_of_work(ctx.session_factory) as session:
        rows = close(session, actor=ACTOR)
    return {"closed": len(rows), "attempts": [row["id"] for row in rows][:50]}


@handler("accounts.clean_tokens", max_attempts=3, lease_seconds=600)
def clean_tokens(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Delete expired one-time tokens (and used ones after a week), ended web sessions, and
    API tokens past the refresh lifetime (a used refresh token: once its login ended)."""
    from lms_core.accounts.web_sessions import purge_expired
    from lms_core.automation.housekeeping import clean_expired_tokens, purge_api_tokens

    with unit_of_work(ctx.session_factory) as session:
        deleted = clean_expired_tokens(session, actor=ACTOR)
        return {
            "deleted": deleted,
            "web_sessions": purge_expired(session),
            "api_tokens": purge_api_tokens(session),
        }


@handler("files.reconcile", max_attempts=3, lease_seconds=1800)
def reconcile(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Remove upload blobs no row names (older than ``grace_minutes``, 60); report rows whose
    blob is missing."""
    from lms_core.automation.housekeeping import ORPHAN_GRACE, reconcile_files

    grace = timedelta(minutes=float(args["grace_minutes"])) if "grace_minutes" in args else None
    with unit_of_work(ctx.session_factory, write=False) as session:
        report = reconcile_files(
            session,
            actor=ACTOR,
            files_dir=ctx.settings.files_dir,
            grace=grace if grace is not None else ORPHAN_GRACE,
        )
    return report.as_dict()


def recompute_course_by_id(factory: SessionFactory, course_id: int) -> int:
    """Recompute the progress of every active enrollment of a course (0 if it is gone)."""
    from lms_core.catalog.progress import recompute_course

    with unit_of_work(factory) as session:
        course = session.get(Course, course_id)
        return 0 if course is None else recompute_course(session, course)


@handler(RECOMPUTE_KIND, max_attempts=5, lease_seconds=600)
def recompute_progress(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Recompute a course's progress after its lessons changed (queued by lessons add/delete)."""
    course_id = int(args["course_id"])
    return {
        "course_id": course_id,
        "enrollments": recompute_course_by_id(ctx.session_factory, course_id),
    }


@handler(CERTIFICATE_KIND, max_attempts=5, lease_seconds=600)
def issue_certificate(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Issue the certificate of one completed enrollment of a course with ``auto_certificate``.

    Under the course's certificate lock (an issue or reissue run on the course waits for
    us, or we for it), and only if the learner is eligible and holds no certificate (valid
    or revoked: a revoked one is an administrator's decision, not ours to undo).
    """
    from lms_core.certificates.issue import default_renderer, issue_one
    from lms_core.certificates.registry import eligibility
    from lms_core.locks import run_lock
    from lms_core.models import Enrollment

    enrollment_id = int(args["enrollment_id"])
    with unit_of_work(ctx.session_factory, write=False) as session:
        found = session.execute(
            select(Course.id, Course.slug, Course.auto_certificate)
            .join(Enrollment, Enrollment.course_id == Course.id)
            .where(Enrollment.id == enrollment_id)
        ).one_or_none()
    if found is None:
        return {"enrollment_id": enrollment_id, "issued": None, "reason": "enrollment is gone"}
    course_id, slug, auto = found
    if not auto:
        return {"enrollment_id": enrollment_id, "issued": None, "reason": "auto_certificate is off"}
    holder = f"{ACTOR.label}:{ctx.job_id}"
    with (
        run_lock(
            ctx.session_factory,
            f"certificates-{course_id}",
            holder=holder,
            wait=CERTIFICATE_LOCK_WAIT,
        ),
        unit_of_work(ctx.session_factory) as session,
    ):
        row = next(
            (
                r
                for r in eligibility(session, actor=ACTOR, course_slug=slug)
                if r.enrollment.id == enrollment_id
            ),
            None,
        )
        if row is None or row.certificate_status is not None or not row.eligible:
            reason = (
                "dropped"
                if row is None
                else f"has a {row.certificate_status} certificate {row.certificate}"
                if row.certificate_status
                else f"not eligible: {row.reason}"
            )
            return {"enrollment_id": enrollment_id, "issued": None, "reason": reason}
        cert = issue_one(
            session,
            actor=ACTOR,
            enrollment=row.enrollment,
            settings=ctx.settings,
            renderer=default_renderer(ctx.settings),
        )
        return {"enrollment_id": enrollment_id, "issued": cert.number}
