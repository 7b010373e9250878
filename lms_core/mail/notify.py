"""Learner notifications: enrolled, course completed, certificate issued (``LMS_MAIL_NOTIFICATIONS``).

Each is mailed once per enrollment or certificate: the outbox key is
``enrollment:<enrollment id>``, ``course_completion:<enrollment id>`` or
``certificate_issued:<certificate id>`` (a learner who drops, re-enrolls and completes again
gets no second mail).

* Certificates: the issue has the settings, so :func:`queue_certificate_mails` renders and
  queues the mails in the issue's own transaction, in bulk (``queue_many``: one statement
  and one ``mail.send_many`` job per 50 mails; an issue run stores thousands).
* Enrollment and completion: the catalog services have no settings (the site's address, the
  switch), so they queue, in their transaction, one ``mail.notify`` job naming the
  enrollments (:func:`queue_enrollment_mails`); the job renders and queues the mails with
  the settings of the worker. The intent commits with the change or not at all, as for any
  outbox row; a bulk completion (a regrade) queues one job per 500 enrollments.

Bulk imports send no notification (only invitations): an import enrolling 5,000 learners
mails nobody about it (docs/email.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import Course, Enrollment, OutboxMail, User

if TYPE_CHECKING:
    from lms_core.models import Certificate
    from lms_core.settings import Settings

NOTIFY_KIND = "mail.notify"
#: Enrollments per ``mail.notify`` job of a bulk completion.
CHUNK = 500
ENROLLMENT_TEMPLATES = ("enrollment", "course_completion")


def course_link(base_url: str, slug: str) -> str:
    return f"{base_url.rstrip('/')}/courses/{slug}"


def queue_enrollment_mails(session: Session, template: str, enrollment_ids: Iterable[int]) -> int:
    """A ``mail.notify`` job for these enrollments (flushes); the number of jobs queued.

    Keyed ``notify:<template>:<enrollment id>`` for one enrollment (queued once); a chunk of
    a bulk completion is keyed by the outbox keys its job writes, which are once per
    enrollment anyway.
    """
    from lms_core.jobs.ledger import enqueue

    if template not in ENROLLMENT_TEMPLATES:
        raise ValueError(f"not an enrollment notification: {template!r}")
    ids = sorted(set(enrollment_ids))
    jobs = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        key = f"notify:{template}:{chunk[0]}" if len(chunk) == 1 else None
        enqueue(session, NOTIFY_KIND, {"template": template, "enrollment_ids": chunk}, key=key)
        jobs += 1
    return jobs


def _new_keys(session: Session, keys: Sequence[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(keys), 900):
        stmt = select(OutboxMail.key).where(OutboxMail.key.in_(keys[start : start + 900]))
        taken.update(session.scalars(stmt))
    return set(keys) - taken


def mail_enrollments(
    session: Session, settings: Settings, template: str, enrollment_ids: Sequence[int]
) -> int:
    """Render and queue ``template`` for these enrollments' learners (the ``mail.notify``
    job); learners deactivated or deleted meanwhile, and mails already queued, are skipped."""
    from lms_core.mail.outbox import NewMail, queue_many

    if template not in ENROLLMENT_TEMPLATES:
        raise ValueError(f"not an enrollment notification: {template!r}")
    base = settings.public_base_url
    rows: list[Any] = []
    for start in range(0, len(enrollment_ids), 900):
        stmt = (
            select(Enrollment.id, User.email, User.full_name, Course.title, Course.slug)
            .join(User, User.id == Enrollment.student_id)
            .join(Course, Course.id == Enrollment.course_id)
            .where(
                Enrollment.id.in_(enrollment_ids[start : start + 900]),
                User.is_active,
                User.deleted_at.is_(None),
            )
            .order_by(Enrollment.id)
        )
        rows.extend(session.execute(stmt).all())
    new = _new_keys(session, [f"{template}:{row[0]}" for row in rows])
    mails = []
    for eid, email, full_name, title, slug in rows:
        key = f"{template}:{eid}"
        if key not in new:
            continue
        context: dict[str, Any] = {"full_name": full_name, "course_title": title}
        if template == "enrollment":
            context["course_link"] = course_link(base, slug)
        mails.append(NewMail(template=template, to=email, context=context, key=key))
    return queue_many(session, mails, base_url=base)


def queue_certificate_mails(
    session: Session, settings: Settings, issued: Sequence[tuple[Certificate, str]]
) -> int:
    """``certificate_issued`` for each new (certificate, learner's e-mail), with its
    verification link, in the issue's transaction (flushes); none when notifications are off."""
    if not settings.mail_notifications or not issued:
        return 0
    from lms_core.mail.outbox import NewMail, queue_many
    from lms_core.mail.render import certificate_link

    base = settings.public_base_url
    mails = [
        NewMail(
            template="certificate_issued",
            to=email,
            context={
                "full_name": cert.learner_name,
                "course_title": cert.course_title,
                "number": cert.number,
                "verify_link": certificate_link(base, cert.number),
            },
            key=f"certificate_issued:{cert.id}",
        )
        for cert, email in issued
    ]
    return queue_many(session, mails, base_url=base)
