"""The ``webhooks.deliver_many`` job: up to a hundred deliveries to one endpoint, in order.

Why batches: one job per delivery costs a claim, two transactions and a ledger record per
POST; a local receiver answers in a fraction of that. A batch costs one claim, one read and a
commit per :data:`GROUP` answers.

1. One transaction reads the deliveries, their events and endpoints. Deliveries already
   ``succeeded`` are left out (a batch run again); those of a disabled endpoint are marked
   ``failed``. If this job already handed its failures to a retry job (it was killed after
   that commit), nothing is sent.
2. Each delivery is signed just before its POST (a fresh timestamp even late in a slow batch)
   and sent with no transaction open, over the worker thread's kept-alive connection to the
   endpoint (:mod:`lms_core.webhooks.http`): one connection per endpoint per batch.
3. Answers are recorded per group: one short transaction per :data:`GROUP` answers (or
   :data:`GROUP_SECONDS`), at once after a failure, with the same rules as a single delivery
   (:func:`lms_core.webhooks.delivery.record`). No write lock is held during HTTP.
4. A delivery whose POST failed does not stop the others (a 4xx/5xx answer is about that
   delivery); a connection error or timeout does (the endpoint is down: the rest are not tried
   and not counted as attempts), and so does the endpoint being disabled.
5. The deliveries that failed (and those not tried) are handed, in the transaction recording
   the last group, to a new ``webhooks.deliver_many`` job due after the ledger's backoff for
   their attempt count; the batch job itself succeeds. A delivery failing its
   ``MAX_ATTEMPTS``-th attempt is ``dead`` instead.

A worker killed mid-batch: the ledger runs the job again when its lease expires; deliveries
recorded ``succeeded`` are not sent again, so only the answers of the group not yet committed
(at most :data:`GROUP` deliveries per killed worker) can reach the receiver twice, with the
same ``Webhook-Id``.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update

from lms_core.db import SessionFactory, unit_of_work
from lms_core.events import DELIVER_MANY_KIND
from lms_core.jobs.ledger import backoff_seconds, enqueue
from lms_core.models import utcnow
from lms_core.models.jobs import Job
from lms_core.models.webhooks import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from lms_core.settings import Settings
from lms_core.webhooks import http
from lms_core.webhooks.delivery import ENDPOINT_DISABLED, Prepared, record, send
from lms_core.webhooks.signing import body_of, headers_for

#: Answers recorded per transaction: the most a killed worker can send twice.
GROUP = 50
#: ... or after this long, so a slow receiver's answers are not held back.
GROUP_SECONDS = 0.5
#: Attempts of one delivery (as the single ``webhooks.deliver`` job's).
MAX_ATTEMPTS = 20

Answered = tuple[str, http.Answer]


def retry_key(job_id: int | None) -> str:
    return f"deliveries:retry:{job_id}"


def _load(
    factory: SessionFactory, delivery_ids: list[str], job_id: int | None
) -> tuple[list[tuple[str, str, bytes, str]], dict[str, int]]:
    """(delivery id, url, body, secret) of each delivery to send, in order; skipped counts."""
    skipped: dict[str, int] = {}
    todo: list[tuple[str, str, bytes, str]] = []
    off: list[str] = []
    # Read-only (on SQLite, not queued behind the other workers' writes); a write only for
    # deliveries of a disabled endpoint.
    with unit_of_work(factory, write=False) as session:
        if job_id is not None and session.scalar(
            select(Job.id).where(Job.key == retry_key(job_id))
        ):
            return [], {"handed off already": len(delivery_ids)}
        rows = session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.status,
                WebhookEndpoint.enabled,
                WebhookEndpoint.url,
                WebhookEndpoint.secret,
                Event.type,
                Event.created_at,
                Event.payload,
            )
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id.in_(delivery_ids))
        ).all()
        found = {row.id: row for row in rows}
        for delivery_id in delivery_ids:
            row = found.get(delivery_id)
            if row is None:
                skipped["no such delivery"] = skipped.get("no such delivery", 0) + 1
                continue
            if row.status != DeliveryStatus.pending.value:
                done = f"already {row.status}"
                skipped[done] = skipped.get(done, 0) + 1
                continue
            if not row.enabled:
                off.append(delivery_id)
                continue
            body = body_of(delivery_id, row.type, row.created_at, dict(row.payload))
            todo.append((delivery_id, row.url, body, row.secret))
    if off:
        with unit_of_work(factory) as session:
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_(off),
                    WebhookDelivery.status == DeliveryStatus.pending.value,
                )
                .values(status=DeliveryStatus.failed.value, response_excerpt=ENDPOINT_DISABLED)
                .execution_options(synchronize_session=False)
            )
        skipped["endpoint disabled"] = len(off)
    return todo, skipped


def _record_group(
    factory: SessionFactory,
    settings: Settings,
    answered: list[Answered],
    retry: list[str] | None,
    job_id: int | None,
) -> tuple[dict[str, int], list[str], bool]:
    """Record ``answered`` in one transaction; with ``retry`` (the batch's end), hand the
    failed deliveries and ``retry`` (not tried) to a new job. (counts, failed ids, whether an
    endpoint got disabled)."""
    counts: dict[str, int] = {}
    failed: list[str] = []
    disabled = False
    if all(answer.ok for _, answer in answered):
        with unit_of_work(factory) as session:
            counts[DeliveryStatus.succeeded.value] = len(answered)
            disabled = _record_successes(session, answered)
            if retry is not None:
                _hand_off(session, settings, retry, job_id)
        return counts, failed, disabled
    with unit_of_work(factory) as session:
        ids = [delivery_id for delivery_id, _ in answered]
        stmt = select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).with_for_update()
        rows = {d.id: d for d in session.scalars(stmt)}
        endpoints: dict[int, WebhookEndpoint] = {}
        for delivery_id, answer in answered:
            delivery = rows[delivery_id]
            if delivery.endpoint_id not in endpoints:
                endpoints[delivery.endpoint_id] = session.get_one(
                    WebhookEndpoint, delivery.endpoint_id, with_for_update=True
                )
            endpoint = endpoints[delivery.endpoint_id]
            last = delivery.attempts + 1 >= MAX_ATTEMPTS
            status = record(session, settings, delivery, endpoint, answer, last_attempt=last)
            # Disabled now, by these failures or by an administrator meanwhile.
            disabled = disabled or not endpoint.enabled
            counts[status] = counts.get(status, 0) + 1
            if status == DeliveryStatus.pending.value:
                failed.append(delivery_id)
        if retry is not None:
            _hand_off(session, settings, failed + retry, job_id)
    return counts, failed, disabled


def _record_successes(session: Any, answered: list[Answered]) -> bool:
    """A group of 2xx answers in three statements (what :func:`record` writes for each, as
    one ``executemany``: the common case, kept cheap); whether their endpoint is disabled
    now (by an administrator meanwhile: the rest of the batch is not sent)."""
    table: Any = WebhookDelivery.__table__
    now = utcnow()
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            status=DeliveryStatus.succeeded.value,
            attempts=table.c.attempts + 1,
            last_status_code=bindparam("b_code"),
            last_duration_ms=bindparam("b_ms"),
            response_excerpt=bindparam("b_excerpt"),
            delivered_at=now,
            next_attempt_at=None,
        ),
        [
            {
                "b_id": delivery_id,
                "b_code": answer.status_code,
                "b_ms": answer.duration_ms,
                "b_excerpt": answer.excerpt[: http.EXCERPT_CHARS],
            }
            for delivery_id, answer in answered
        ],
    )
    ids = [delivery_id for delivery_id, _ in answered]
    of_them = WebhookEndpoint.id.in_(
        select(WebhookDelivery.endpoint_id).where(WebhookDelivery.id.in_(ids))
    )
    session.execute(
        update(WebhookEndpoint)
        .where(
            of_them,
            or_(
                WebhookEndpoint.consecutive_failures != 0,
                WebhookEndpoint.failing_since.is_not(None),
            ),
        )
        .values(consecutive_failures=0, failing_since=None)
        .execution_options(synchronize_session=False)
    )
    return bool(session.scalar(select(WebhookEndpoint.id).where(of_them, ~WebhookEndpoint.enabled)))


def _hand_off(
    session: Any,
    settings: Settings,
    delivery_ids: list[str],
    job_id: int | None,
) -> None:
    """Queue ``delivery_ids`` still pending as a new batch after the backoff of their
    attempt count (the fewest attempts among them, so none waits longer than its own)."""
    if not delivery_ids:
        return
    pending = session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.id.in_(delivery_ids),
            WebhookDelivery.status == DeliveryStatus.pending.value,
        )
    ).all()
    if not pending:
        return
    attempt = max(1, min(d.attempts for d in pending))
    delay = backoff_seconds(
        attempt, base=settings.jobs_backoff_base_seconds, cap=settings.jobs_backoff_max_seconds
    )
    run_at = utcnow() + timedelta(seconds=delay)
    # In the order of their events (their creation), whatever order they failed in.
    ids = [d.id for d in sorted(pending, key=lambda d: (d.created_at, d.event_id))]
    for delivery in pending:
        delivery.next_attempt_at = run_at
    key = retry_key(job_id) if job_id is not None else None
    enqueue(session, DELIVER_MANY_KIND, {"delivery_ids": ids}, key=key, run_at=run_at)


def deliver_many(
    factory: SessionFactory, settings: Settings, delivery_ids: list[str], job_id: int | None = None
) -> dict[str, Any]:
    """Send a batch (see the module docstring); counts by outcome for the job's result."""
    todo, counts = _load(factory, delivery_ids, job_id)
    answered: list[Answered] = []
    #: Failed deliveries of groups already recorded: handed off with the batch's last group.
    retry_later: list[str] = []
    group_started = time.monotonic()
    for index, (delivery_id, url, body, secret) in enumerate(todo):
        prepared = Prepared(url, body, headers_for(secret, delivery_id, body))
        answer = send(prepared, settings)
        answered.append((delivery_id, answer))
        last = index == len(todo) - 1
        down = not answer.ok and answer.status_code is None
        full = len(answered) >= GROUP or time.monotonic() - group_started >= GROUP_SECONDS
        if answer.ok and not full and not last:
            continue
        not_tried = [d for d, *_ in todo[index + 1 :]] if down else []
        end = last or down
        hand_off = retry_later + not_tried if end else None
        done, failed, disabled = _record_group(factory, settings, answered, hand_off, job_id)
        _add(counts, done)
        retry_later.extend(failed)
        answered = []
        group_started = time.monotonic()
        if end or disabled:
            if not_tried:
                counts["not tried (endpoint down)"] = len(not_tried)
            break
    return {"deliveries": len(delivery_ids), **counts}


def _add(counts: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        counts[key] = counts.get(key, 0) + value
