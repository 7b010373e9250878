"""A user's last activity: the latest login, lesson completed, quiz attempt started or
submitted, or assignment submitted, kept on the user (``users.last_activity_at``).

Why a kept column: the system report's "active learners in the last 7 and 30 days" counted
the distinct learners behind every event of the last 30 days; on a million-enrollment site
(~73,000 of 100,000 learners active) that scan took 240-500 ms on PostgreSQL whatever the
indexes, and grows with the events. With the latest time on the user the figure is one
range over the index ``(role, last_activity_at)`` (docs/reports.md, "Performance").

Every writer of one of the five sources calls :func:`note_activity` (one learner) or
:func:`note_activity_of_enrollments` (set-based: a regrade or a grading import completing a
lesson for many); bulk loads that write the sources with their own SQL (the bench's fill)
call :func:`recompute_last_activity` once after. The time only moves forward: a later
deletion of an event (a reset progress, a removed submission) leaves it as it was, since
the activity did happen then.

Why a note, applied at commit, and not an ``UPDATE`` where the activity happens: the
writers run inside long units of work (the overdue-attempt cron, a regrade, a grading
import) that reach the learners in their own orders. An ``UPDATE users`` at each step held
each learner's row lock to the commit: two such units over the same learners in opposite
orders deadlocked on PostgreSQL, and a learner's login waited for a whole regrade to commit.
So a note only records ``{user_id: latest time}`` in ``session.info``; a ``before_commit``
listener applies them once, as the unit commits: the rows locked in ascending id order (no
two committers can wait on each other in a cycle), held only for the commit itself, and
updated only where the time moves forward (``updated_at`` untouched). A rolled-back unit's
notes are dropped with it, and a rolled-back savepoint's notes with the savepoint.

The listeners are registered on :class:`~sqlalchemy.orm.Session` the first time a note is
recorded (and by :func:`lms_core.db.make_session_factory`), once: importing this module
changes nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Integer,
    Table,
    bindparam,
    column,
    event,
    func,
    or_,
    select,
    union_all,
    update,
    values,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.attributes import set_committed_value

from lms_core.models import Attempt, Enrollment, LessonProgress, Submission, User
from lms_core.models.base import UtcDateTime

#: Ids per statement (SQLite's default limit on bound values is 999 on old builds; the
#: PostgreSQL ``VALUES`` list binds two per learner).
_CHUNK = 450
#: ``session.info`` keys: the pending notes, and their copies as each savepoint began.
_NOTES = "lms_core.activity.notes"
_SAVED = "lms_core.activity.savepoints"

#: The table itself, for the Core statements written at commit (no ORM session sync).
_USERS = cast(Table, User.__table__)


def _later(at: Any) -> Any:
    """The kept time is unset or earlier than ``at``: the update never moves it backwards."""
    return or_(User.last_activity_at.is_(None), User.last_activity_at < at)


def _set(at: Any) -> dict[Any, Any]:
    """The new time, ``updated_at`` kept as it is: activity is no change to the account (the
    column's ``onupdate`` would otherwise stamp the learner's row at each lesson or attempt)."""
    return {User.last_activity_at: at, User.updated_at: User.updated_at}


def note_activity(session: Session, user_id: int, at: datetime) -> None:
    """Record that user ``user_id`` was active at ``at``: written when the session commits
    (no statement now, no lock held to the commit; see the module's docstring)."""
    _record(session, [(user_id, at)])


def note_activity_of_enrollments(
    session: Session, enrollment_ids: Sequence[int], at: datetime
) -> None:
    """:func:`note_activity` for the learners of these enrollments (one plain read of their
    learners per chunk; the rows of ``users`` are written, in id order, at commit)."""
    ids = sorted(set(enrollment_ids))
    learners: set[int] = set()
    for i in range(0, len(ids), _CHUNK):
        learners.update(
            session.scalars(
                select(Enrollment.student_id).where(Enrollment.id.in_(ids[i : i + _CHUNK]))
            )
        )
    _record(session, [(user_id, at) for user_id in learners])


def pending_activity(session: Session) -> dict[int, datetime]:
    """The notes this session's unit of work will write at commit (a copy; for tests)."""
    return dict(session.info.get(_NOTES, {}))


def _record(session: Session, noted: Iterable[tuple[int, datetime]]) -> None:
    """Keep the latest time per user; a loaded ``User`` shows it at once
    (``set_committed_value``: not a change to flush, and no expiry that a closed session
    could no longer load)."""
    register_listeners()
    if not session.in_transaction():
        # The notes belong to a transaction: its rollback must drop them (a session that
        # has run no statement yet has none, and a rollback of none fires no event).
        session.begin()
    notes: dict[int, datetime] = session.info.setdefault(_NOTES, {})
    for user_id, at in noted:
        if user_id not in notes or notes[user_id] < at:
            notes[user_id] = at
        loaded = session.identity_map.get(session.identity_key(User, user_id))
        if loaded is not None and "last_activity_at" in loaded.__dict__:
            kept = loaded.last_activity_at
            if kept is None or kept < at:
                set_committed_value(loaded, "last_activity_at", at)


def register_listeners() -> None:
    """Apply notes at commit, drop them on rollback: on every :class:`Session`, once."""
    for name, fn in _LISTENERS:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


def _apply(session: Session) -> None:
    """``before_commit``: write the unit's notes, rows locked in ascending id order.

    A savepoint's release also fires ``before_commit``; the notes wait for the real commit
    (locking at a savepoint would hold the rows for the rest of the unit again)."""
    if session.in_nested_transaction():
        return
    notes: dict[int, datetime] = session.info.pop(_NOTES, {})
    if not notes:
        return
    ordered = sorted(notes.items())
    if session.get_bind(User).dialect.name == "postgresql":
        for i in range(0, len(ordered), _CHUNK):
            _apply_pg(session, ordered[i : i + _CHUNK])
    else:
        _apply_each(session, ordered)


def _apply_pg(session: Session, chunk: list[tuple[int, datetime]]) -> None:
    """One ``SELECT ... ORDER BY id FOR NO KEY UPDATE`` (PostgreSQL takes the locks in the
    sorted order) and one ``UPDATE ... FROM (VALUES ...)``; a single learner needs no lock
    order. ``NO KEY``: the lock the ``UPDATE`` itself takes. ``FOR UPDATE`` would also wait
    for (and deadlock with) units holding ``KEY SHARE`` on a learner, which every insert of a
    row pointing at the user takes (an audit entry, a submission, a login's session)."""
    if len(chunk) == 1:
        _apply_each(session, chunk)
        return
    noted = values(column("id", Integer), column("at", UtcDateTime()), name="noted").data(chunk)
    session.execute(
        select(User.id)
        .join(noted, noted.c.id == User.id)
        .where(_later(noted.c.at))
        .order_by(User.id)
        .with_for_update(of=_USERS, key_share=True)
    ).all()
    session.execute(
        update(_USERS).where(_USERS.c.id == noted.c.id, _later(noted.c.at)).values(_set(noted.c.at))
    )


def _apply_each(session: Session, ordered: list[tuple[int, datetime]]) -> None:
    """One conditional ``UPDATE`` per learner, in id order (``executemany``; SQLite, whose
    single writer needs no lock order, and PostgreSQL's single learner)."""
    at = bindparam("at", type_=UtcDateTime())
    session.execute(
        update(_USERS).where(_USERS.c.id == bindparam("uid"), _later(at)).values(_set(at)),
        [{"uid": user_id, "at": when} for user_id, when in ordered],
    )


def _saved(session: Session) -> weakref.WeakKeyDictionary[SessionTransaction, dict[int, datetime]]:
    saved: weakref.WeakKeyDictionary[SessionTransaction, dict[int, datetime]]
    saved = session.info.setdefault(_SAVED, weakref.WeakKeyDictionary())
    return saved


def _savepoint_begins(session: Session, transaction: SessionTransaction) -> None:
    """``after_transaction_create``: a savepoint keeps a copy of the notes made before it."""
    if transaction.nested:
        _saved(session)[transaction] = dict(session.info.get(_NOTES, {}))


def _released(session: Session) -> None:
    """``after_commit``: a savepoint released keeps its notes (its copy is no longer needed)."""
    transaction = session.get_nested_transaction()
    if transaction is not None and session._transaction is transaction:  # being released
        _saved(session).pop(transaction, None)


def _ended(session: Session, transaction: SessionTransaction) -> None:
    """``after_transaction_end``: a savepoint that ended without being released (rolled
    back, also inside a failed flush) gives back the notes made before it; the unit's own
    end (commit: already written; rollback, or a close without one) drops them. (A soft
    rollback alone missed both the failed flush's savepoint and a plain close.)"""
    if transaction.nested:
        before = _saved(session).pop(transaction, None)
        if before is not None:
            session.info[_NOTES] = before
    elif transaction.parent is None:
        session.info.pop(_NOTES, None)


_LISTENERS: tuple[tuple[str, Any], ...] = (
    ("before_commit", _apply),
    ("after_transaction_create", _savepoint_begins),
    ("after_commit", _released),
    ("after_transaction_end", _ended),
)


def latest_activity() -> Any:
    """``(user_id, at)``: each user's latest time over the five sources (users with none are
    absent). Progress and attempt times are first reduced to one per enrollment, then joined
    to enrollments once for the learner, as the report's event scan does."""
    by_enrollment = union_all(
        select(LessonProgress.enrollment_id, LessonProgress.completed_at.label("at")),
        select(Attempt.enrollment_id, Attempt.started_at),
        select(Attempt.enrollment_id, Attempt.submitted_at).where(
            Attempt.submitted_at.is_not(None)
        ),
    ).subquery("by_enrollment")
    per_enrollment = (
        select(by_enrollment.c.enrollment_id, func.max(by_enrollment.c.at).label("at"))
        .group_by(by_enrollment.c.enrollment_id)
        .subquery("per_enrollment")
    )
    events = union_all(
        select(Enrollment.student_id.label("user_id"), per_enrollment.c.at.label("at")).join(
            Enrollment, Enrollment.id == per_enrollment.c.enrollment_id
        ),
        select(User.id, User.last_login_at).where(User.last_login_at.is_not(None)),
        select(Submission.student_id, Submission.submitted_at),
    ).subquery("events")
    return (
        select(events.c.user_id, func.max(events.c.at).label("at"))
        .group_by(events.c.user_id)
        .subquery("latest")
    )


def recompute_last_activity(bind: Session | Connection) -> int:
    """Set every user's ``last_activity_at`` from the five sources, set-based (one
    ``UPDATE ... FROM``), never moving a kept time backwards; returns the rows changed.

    For bulk loads that write the sources with their own SQL; migration ``a76b140908e4``
    runs the same statement (written out there) to fill the column the first time."""
    latest = latest_activity()
    stmt = (
        update(User)
        .where(User.id == latest.c.user_id, _later(latest.c.at))
        .values(_set(latest.c.at))
        .execution_options(synchronize_session=False)
    )
    result: Any = bind.execute(stmt)
    if isinstance(bind, Session):
        # Loaded users read the new times on next access (a bulk load's session, not a
        # service's: closing it before that read would leave them unloadable).
        for user in list(bind.identity_map.values()):
            if isinstance(user, User):
                bind.expire(user, ["last_activity_at"])
    return int(result.rowcount or 0)
