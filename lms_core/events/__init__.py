"""Domain events: ``emit(session, type, payload)`` in the transaction of the change it reports.

An event is recorded only when some enabled endpoint subscribes to its type: then one
``events`` row and one ``webhook_deliveries`` row per such endpoint are flushed in the caller's
transaction with the jobs that send them, so the change, its events and their deliveries commit
or roll back together (the transactional outbox). A transaction's first delivery to an endpoint
gets a ``webhooks.deliver`` job; a second one to the same endpoint turns that job (not yet
visible to any worker) into a ``webhooks.deliver_many`` job that takes up to
:data:`BATCH` deliveries, sent in order over one kept-alive connection: a bulk change costs
one job per hundred deliveries, not one per delivery (docs/webhooks.md, "Delivery"). With no endpoint
configured, the cost is one query per transaction (the subscribed endpoints are cached in
``session.info`` for the transaction), and nothing is written.

Payloads hold ids and the seed's field names, never a password hash or a token. Bulk imports
emit one ``import.applied`` with counts, not one ``user.created`` per row (docs/webhooks.md).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.errors import ValidationError

#: Every event type the toolkit emits (``webhook.test`` is sent by ``webhooks test`` only).
EVENT_TYPES: tuple[str, ...] = (
    "user.created",
    "enrollment.created",
    "enrollment.completed",
    "quiz.attempt.graded",
    "submission.graded",
    "certificate.issued",
    "certificate.revoked",
    "import.applied",
)
TEST_EVENT = "webhook.test"
DELIVER_KIND = "webhooks.deliver"
DELIVER_MANY_KIND = "webhooks.deliver_many"
#: Deliveries per ``webhooks.deliver_many`` job.
BATCH = 100
#: Attempts of a batch job itself (a crash or a database error; each delivery has its own
#: retries: a batch hands its failed deliveries to a new job).
BATCH_MAX_ATTEMPTS = 5
#: ``session.info`` key: (transaction, {endpoint id: its open job in this transaction}).
_OPEN_KEY = "lms_webhook_batches"
#: ``session.info`` key: (transaction, [(endpoint id, subscribed types)]).
_CACHE_KEY = "lms_webhook_endpoints"
#: Payload keys that are never sent, whatever a caller passes.
_FORBIDDEN = frozenset({"password", "password_hash", "token", "token_hash", "secret"})


def forget_endpoints(session: Session) -> None:
    """Drop the cached endpoint list (after endpoints change in this transaction)."""
    session.info.pop(_CACHE_KEY, None)


def _endpoints(session: Session) -> list[tuple[int, frozenset[str]]]:
    """Enabled endpoints and their types, read once per transaction."""
    from lms_core.models.webhooks import WebhookEndpoint

    transaction = session.get_transaction()
    cached = session.info.get(_CACHE_KEY)
    if cached is not None and cached[0] is transaction:
        return list(cached[1])
    rows = session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events).where(WebhookEndpoint.enabled)
    ).all()
    found = [(int(row[0]), frozenset(row[1] or ())) for row in rows]
    session.info[_CACHE_KEY] = (transaction, found)
    return found


def subscribed(types: frozenset[str], event_type: str) -> bool:
    return "*" in types or event_type in types


def _clean(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in _FORBIDDEN}


def emit(
    session: Session, type: str, payload: dict[str, Any], *, key: str | None = None
) -> int | None:
    """Record event ``type`` for every enabled endpoint subscribed to it; the event's id, or
    None when nobody listens (nothing written). ``key`` makes it once: an event with that key
    already recorded is not recorded again."""
    if type not in EVENT_TYPES and type != TEST_EVENT:
        raise ValidationError(f"unknown event type {type!r}", field="type", value=type)
    targets = [eid for eid, types in _endpoints(session) if subscribed(types, type)]
    if not targets:
        return None
    return record(session, type, payload, targets, key=key)


def record(
    session: Session,
    type: str,
    payload: dict[str, Any],
    endpoint_ids: list[int],
    *,
    key: str | None = None,
    queue: bool = True,
) -> int:
    """Write the event and one delivery (with its job when ``queue``) per endpoint."""
    from lms_core.db import insert_or_winner
    from lms_core.models import utcnow
    from lms_core.models.webhooks import DeliveryStatus, Event, WebhookDelivery

    def existing() -> Event | None:
        return session.scalars(select(Event).where(Event.key == key)).first()

    if key is not None:
        found = existing()
        if found is not None:
            return int(found.id)
    now = utcnow()
    event = Event(type=type, payload=_json(_clean(payload)), key=key, created_at=now)
    if key is None:
        session.add(event)
        session.flush()
    else:
        # Two transactions recording the same key at once: the loser's insert fails under a
        # SAVEPOINT and it gets the winner's event, its own transaction still usable.
        winner = insert_or_winner(session, event, existing)
        if winner is not None:
            return int(winner.id)
    for endpoint_id in endpoint_ids:
        delivery = WebhookDelivery(
            id=uuid.uuid4().hex,
            endpoint_id=endpoint_id,
            event_id=event.id,
            status=DeliveryStatus.pending.value,
            attempts=0,
            next_attempt_at=now if queue else None,
            created_at=now,
        )
        session.add(delivery)
        if queue:
            _queue(session, endpoint_id, delivery.id)
        # Flushed now: a caller may expunge the session between events (a bulk writer does).
        session.flush()
    return int(event.id)


def _queue(session: Session, endpoint_id: int, delivery_id: str) -> None:
    """Add ``delivery_id`` to this transaction's open job for its endpoint (see the module
    docstring): a single ``webhooks.deliver`` job first, a batch from the second delivery on,
    a new job once the batch holds :data:`BATCH`."""
    from sqlalchemy.orm.attributes import flag_modified

    transaction = session.get_transaction()
    cached = session.info.get(_OPEN_KEY)
    if cached is None or cached[0] is not transaction:
        cached = session.info[_OPEN_KEY] = (transaction, {})
    open_jobs: dict[int, Any] = cached[1]
    job = open_jobs.get(endpoint_id)
    if job is not None and job not in session:
        job = None  # expunged by the caller: its job is complete as flushed
    if job is not None and job.kind == DELIVER_KIND:
        first = str(job.args["delivery_id"])
        job.kind = DELIVER_MANY_KIND
        job.key = f"deliveries:{first}"
        job.args = {"delivery_ids": [first, delivery_id]}
        job.max_attempts = BATCH_MAX_ATTEMPTS
        return
    if job is not None and len(job.args["delivery_ids"]) < BATCH:
        job.args["delivery_ids"].append(delivery_id)
        flag_modified(job, "args")
        return
    open_jobs[endpoint_id] = enqueue_delivery(session, delivery_id)


def enqueue_delivery(session: Session, delivery_id: str, *, attempt: int = 0) -> Any:
    """Queue the job that sends ``delivery_id`` (a replay is a new job: ``attempt`` > 0)."""
    from lms_core.jobs.ledger import enqueue

    suffix = f":replay:{attempt}" if attempt else ""
    return enqueue(
        session,
        DELIVER_KIND,
        {"delivery_id": delivery_id},
        key=f"delivery:{delivery_id}{suffix}",
    )


def _json(payload: dict[str, Any]) -> dict[str, Any]:
    """Plain JSON values (dates and decimals as strings)."""
    import json

    return dict(json.loads(json.dumps(payload, default=str)))


def listened(session: Session, type: str) -> bool:
    """Whether an enabled endpoint subscribes to ``type`` (cached per transaction): lets a
    bulk writer skip building payloads nobody receives."""
    return any(subscribed(types, type) for _eid, types in _endpoints(session))


def enrollments_completed(session: Session, enrollment_ids: list[int]) -> None:
    """``enrollment.completed`` for each of these enrollments (a bulk completion)."""
    if not enrollment_ids or not listened(session, "enrollment.completed"):
        return
    from lms_core.models import Enrollment

    rows = session.execute(
        select(
            Enrollment.id, Enrollment.student_id, Enrollment.course_id, Enrollment.completed_at
        ).where(Enrollment.id.in_(enrollment_ids))
    ).all()
    for eid, student_id, course_id, completed_at in rows:
        emit(
            session,
            "enrollment.completed",
            {
                "enrollment_id": eid,
                "student_id": student_id,
                "course_id": course_id,
                "completed_at": completed_at,
            },
            key=f"enrollment.completed:{eid}:{completed_at}",
        )


def user_created(session: Session, user: Any) -> None:
    emit(session, "user.created", user_payload(user))


def enrollment_created(session: Session, enrollment: Any) -> None:
    emit(session, "enrollment.created", enrollment_payload(enrollment))


def user_payload(user: Any) -> dict[str, Any]:
    """A user as events carry it: no password hash, no token."""
    return {
        "user_id": user.id,
        "email": user.email,
        "full_name": user.full_name,
        "role": user.role,
        "external_id": user.external_id,
        "is_active": user.is_active,
    }


def enrollment_payload(enrollment: Any) -> dict[str, Any]:
    return {
        "enrollment_id": enrollment.id,
        "student_id": enrollment.student_id,
        "course_id": enrollment.course_id,
        "user_email": enrollment.student.email,
        "course_slug": enrollment.course.slug,
        "status": enrollment.status,
        "enrolled_at": enrollment.enrolled_at,
    }


def attempt_graded(session: Session, attempt: Any) -> None:
    """``quiz.attempt.graded`` once the attempt is graded (not while an essay waits)."""
    if attempt.status != "graded":
        return
    emit(
        session,
        "quiz.attempt.graded",
        {
            "attempt_id": attempt.id,
            "quiz_id": attempt.quiz_id,
            "enrollment_id": attempt.enrollment_id,
            "score": attempt.score,
            "passed": attempt.passed,
            "points_earned": attempt.points_earned,
            "points_possible": attempt.points_possible,
            "graded_at": attempt.graded_at,
        },
    )


def submission_graded(session: Session, submission: Any) -> None:
    emit(
        session,
        "submission.graded",
        {
            "submission_id": submission.id,
            "assignment_id": submission.assignment_id,
            "student_id": submission.student_id,
            "grade": submission.grade,
            "graded_at": submission.graded_at,
        },
    )


def certificate_event(session: Session, type: str, cert: Any) -> None:
    """``certificate.issued`` / ``certificate.revoked`` (once per number and version)."""
    if not listened(session, type):
        return
    session.flush()
    emit(
        session,
        type,
        {
            "certificate_id": cert.id,
            "number": cert.number,
            "enrollment_id": cert.enrollment_id,
            "version": cert.version,
            "issued_at": cert.issued_at,
            "revoked_at": cert.revoked_at,
            "revoked_reason": cert.revoked_reason,
        },
        key=f"{type}:{cert.number}:{cert.version}",
    )
