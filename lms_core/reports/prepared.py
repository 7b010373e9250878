"""Figures' statements built once per shape and run as prepared SQL text.

A report used to build every statement per request (14-30 ms for the course report: the
expressions, subqueries and their column collections), and SQLAlchemy then walked each new
statement's whole tree for its cache key before finding the compiled SQL. For a figure of a
few rows that is 10-50x the query itself (a learner's assignments: 0.02 ms raw on SQLite).

So each report module builds its statements once per **shape** (which ends the period has,
whether it lies in the past, what kind of actor asks) with named ``bindparam`` placeholders
instead of values (:class:`Frame`, :func:`scoped_actor`), keeps them (``functools.cache``),
and a request only passes the values. :func:`lms_core.kept.rows` (re-exported here as
:func:`rows`) compiles each kept statement once per dialect and runs it on the DBAPI cursor,
each value finished by :func:`~lms_core.reports.base.plain`. Report statements are not
prepared on the server: a generic plan, made without the period's values, could pick a poor
plan for a large table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import BindParameter, ColumnElement, Integer, and_, true
from sqlalchemy import bindparam as _bindparam

from lms_core.actor import Actor
from lms_core.kept import CHUNK as CHUNK  # the reports' runner, re-exported
from lms_core.kept import rows as rows
from lms_core.kept import watched as watched
from lms_core.models.base import UtcDateTime, utcnow
from lms_core.models.users import Role


def placeholder(name: str, type_: Any = None) -> BindParameter[Any]:
    """A named value given at execution (``None`` when the caller leaves it out)."""
    return _bindparam(name, type_=type_, required=False)


def at(name: str) -> BindParameter[datetime]:
    """A timestamp placeholder (aware UTC, stored as the columns store theirs)."""
    return placeholder(name, UtcDateTime())


@dataclass(frozen=True)
class Shape:
    """What a period's statements depend on besides its values: which ends it has, and
    whether its end lies before the clock (active learners then scan the events)."""

    since: bool
    until: bool
    past: bool

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None) -> Shape:
        return cls(since is not None, until is not None, until is not None and until < utcnow())


class Frame:
    """A period as placeholders, for building a kept statement: ``since``/``until`` are
    placeholders when the shape has them (else ``None``), ``now``, ``week_ago`` (7 days
    before now) and ``month_ago`` (30 days) always; the values come from
    :meth:`lms_core.reports.base.Period.values`. Anything computed from a value in Python
    would be frozen into the kept statement for every later request: derive it in
    ``Period.values`` instead."""

    def __init__(self, shape: Shape) -> None:
        self.since: BindParameter[datetime] | None = at("since") if shape.since else None
        self.until: BindParameter[datetime] | None = at("until") if shape.until else None
        self.past = shape.past
        self.now = at("now")
        self.week_ago = at("week_ago")
        self.month_ago = at("month_ago")

    def holds(self, column: Any) -> ColumnElement[bool]:
        """``column`` falls in the period (always true for an open period)."""
        parts = []
        if self.since is not None:
            parts.append(column >= self.since)
        if self.until is not None:
            parts.append(column < self.until)
        return and_(*parts) if parts else true()


def period_values(since: datetime | None, until: datetime | None, now: datetime) -> dict[str, Any]:
    """The values of a :class:`Frame`'s placeholders."""
    return {
        "since": since,
        "until": until,
        "now": now,
        "week_ago": now - timedelta(days=7),
        "month_ago": now - timedelta(days=30),
    }


#: An actor's part of a shape: role, and whether the actor is a user (scopes compare ids).
ActorShape = tuple[Role, bool]


def actor_shape(actor: Actor) -> ActorShape:
    return (actor.role, actor.user_id is not None)


def scoped_actor(shape: ActorShape) -> Actor:
    """An actor of ``shape`` whose id is the placeholder ``actor_id``, for building a kept
    statement through :mod:`lms_core.scopes` (whose clauses compare ``actor.user_id``)."""
    role, is_user = shape
    user_id = cast(Any, placeholder("actor_id", Integer())) if is_user else None
    return Actor(label="(kept statement)", role=role, user_id=user_id)
