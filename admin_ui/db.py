"""The request's unit of work: one session per request, committed by the view that wrote.

Flask-Admin wants a session object when a view is built (at app start, before any request);
it gets :data:`request_session_proxy`, which resolves to this request's own session. The
session is opened on first use, with SQLite's write lock taken up front for unsafe methods
(a POST that reads then writes must not fail half-way on a lock upgrade), and closed,
rolled back if nothing committed it, when the request ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, flash, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from werkzeug.local import LocalProxy

from lms_core.actor import Actor
from lms_core.db import WRITE_LOCK, autocommit_reads
from lms_core.errors import LmsError

T = TypeVar("T")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_KEY = "lms_session"


def request_session() -> Session:
    """This request's session (one per request; opened on first use)."""
    from admin_ui.app import state

    session: Session | None = g.get(_KEY)
    if session is None:
        session = state().session_factory()
        if has_request_context() and request.method not in SAFE_METHODS:
            session.connection(execution_options={WRITE_LOCK: True})
        elif has_request_context() and request.blueprint == "api":
            _read_only(session, snapshot=_wants_snapshot())
        setattr(g, _KEY, session)
    return session


_READ_ONLY = "lms_read_only"


def _wants_snapshot() -> bool:
    """The view asked for one snapshot (``endpoint(snapshot=True)``: a report)."""
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "api_snapshot", False))


def _read_only(session: Session, *, snapshot: bool) -> None:
    """An API read (GET, HEAD, OPTIONS): no view of it writes, so on PostgreSQL its
    statements run in autocommit, each on its own snapshot: no ``BEGIN`` before the first
    and no ``ROLLBACK`` at the end, two of a catalog page's four round trips (docs/api.md,
    Performance). A write through the session (a flush, or an ``insert()``, ``update()``
    or ``delete()`` statement) is refused (an internal error, 500) on every database alike,
    so that no GET view can start writing, statement by statement, outside a transaction.
    A view declared with ``snapshot=True`` (a report: its sections stream from server-side
    cursors, which psycopg2 allows only in a transaction) keeps its transaction. (At
    PostgreSQL's default READ COMMITTED each statement sees its own snapshot inside a
    transaction too, so reads in autocommit see what they saw before.)"""
    session.info[_READ_ONLY] = True
    if not snapshot:
        autocommit_reads(session)


def _refuse_writes(session: Session, _context: object, _instances: object) -> None:
    if session.info.get(_READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise RuntimeError(f"{request.method} {request.path} tried to write: reads only")


def _refuse_statements(state: ORMExecuteState) -> None:
    """An ``insert()``, ``update()`` or ``delete()`` run through the session: in autocommit
    it would be committed at once, out of reach of the request's closing rollback."""
    if state.session.info.get(_READ_ONLY) and (
        state.is_insert or state.is_update or state.is_delete
    ):
        raise RuntimeError(f"{request.method} {request.path} tried to write: reads only")


#: What Flask-Admin's model views hold as their ``session``.
request_session_proxy: Session = LocalProxy(request_session)  # type: ignore[assignment]


def release_request_session() -> None:
    """Close this request's session before a *run* (certificate issue, import) that commits
    by itself: on SQLite the session's write lock, taken up front on a POST to check the
    caller's token, would stand in the run's way. The caller's actor is plain data, so it
    outlives the session."""
    _close(None)


def _close(_exc: BaseException | None) -> None:
    session: Session | None = g.pop(_KEY, None)
    if session is not None:
        session.close()  # rolls back whatever was not committed, and frees the connection


def init_request_sessions(app: Flask) -> None:
    if not event.contains(Session, "before_flush", _refuse_writes):  # once per process
        event.listen(Session, "before_flush", _refuse_writes)
        event.listen(Session, "do_orm_execute", _refuse_statements)
    app.teardown_appcontext(_close)


def error_text(exc: LmsError) -> str:
    """An error as a flash line: the field it is about, then what is wrong."""
    where = getattr(exc, "field", None)
    text = str(exc)
    return f"{where}: {text}" if where and not text.startswith(f"{where}:") else text


def run_service(
    action: Callable[[Session, Actor], T],
    done: str | Callable[[T], str] | None,
    *,
    actor: Actor | None = None,
) -> T | None:
    """Call one service in this request's unit of work and commit; flash what changed.

    A refusal (any :class:`LmsError`) rolls the whole request back, so nothing half-written
    stays, and is flashed as an error; the caller gets None and shows the page again.
    """
    from admin_ui.auth import current_actor

    session = request_session()
    try:
        result = action(session, actor or current_actor())
        session.commit()
    except LmsError as exc:
        session.rollback()
        flash(error_text(exc), "error")
        return None
    if done is not None:
        flash(done(result) if callable(done) else done, "success")
    return result
