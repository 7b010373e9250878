"""The catalog's stamp, and the answers kept against it.

A catalog page costs a worker its statement, twenty rows built and validated and the
database's time at every visit, an outline as much, though courses change a few times a
day. A worker may keep what it answered and answer it again while nothing it shows has
changed: the ``catalog_stamp`` row, which triggers give a new random value with every
committed change to a course, a lesson or a user's e-mail (migration ``a1c3e5f7b9d1``),
says when something has.

The order makes it safe: the stamp is read first, then the page (each in its own snapshot,
or one transaction's); a page kept under a stamp is never older than that stamp. A change
committed between the two reads is in the page and not in the stamp, and costs only one
more reading when the stamp is seen changed.

On PostgreSQL the stamp changes when the writing transaction commits (a deferred trigger).
A reader inside a transaction that has written itself (a test's transaction rolled back at
its end, or a request that wrote before it read) would see its own changes with the old
stamp: :func:`catalog_stamp` answers None there, and nothing is kept or answered from what
was kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import cache
from threading import Lock
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select, true
from sqlalchemy.orm import Session

from lms_core import kept
from lms_core.actor import Actor
from lms_core.models import CatalogStamp, Role

T = TypeVar("T")


def catalog_audience(actor: Actor) -> tuple[str, int | None]:
    """Which courses a catalog shows ``actor``: ``all`` (administrators), ``own`` (an
    instructor: the published ones and their own, so their id goes with it) or
    ``published`` (learners, and anyone else). Everyone of one audience gets the same
    catalog pages, and the same outlines (an unpublished course's is for its managers:
    administrators, and the instructor the audience names)."""
    if actor.is_admin:
        return "all", None
    if actor.user_id is not None and actor.role is Role.instructor:
        return "own", actor.user_id
    return "published", None


def catalog_stamp(session: Session) -> str | None:
    """The catalog's stamp as this session sees it; None when it cannot vouch for what the
    session reads: its transaction has written (PostgreSQL stamps at commit), or the row is
    missing (a schema not made by the migrations). An API request with a token has it
    already: it rides along the token check (``TokenIdentity.catalog_stamp``)."""
    connection = session.connection()
    rows = kept.look_up(connection, _stamp_statement(connection.dialect.name), {})
    return vouched(*rows[0]) if rows else None


@cache
def stamp_columns(dialect: str) -> tuple[Any, Any]:
    """The stamp and whether the reader may trust it, as two columns any statement can carry
    (the token check does: one round trip fewer per catalog request). Read them with
    :func:`vouched`. Built once per dialect: a kept statement is known by its objects."""
    clean = func.txid_current_if_assigned().is_(None) if dialect == "postgresql" else true()
    stamp = select(CatalogStamp.stamp).where(CatalogStamp.id == 1).scalar_subquery()
    return stamp.label("catalog_stamp"), clean.label("catalog_stamp_clean")


def vouched(stamp: str | None, clean: bool | None) -> str | None:
    """The stamp two :func:`stamp_columns` gave, or None when it vouches for nothing."""
    return str(stamp) if stamp is not None and clean else None


@cache
def _stamp_statement(dialect: str) -> Select[Any]:
    columns: tuple[Any, ...] = stamp_columns(dialect)
    return select(*columns)


class StampedAnswers(Generic[T]):
    """The last answer built for each key (a page, an audience), with the stamp read before
    it was built; given again only under that same stamp. At most ``budget`` in weight
    (``weigh``: a page's courses, an outline's lessons), the least recently used dropped
    first: a learner's search words and page sizes are keys, so without a bound memory
    would grow with every new search, and a bound by count alone would let a hundred-course
    page of long descriptions weigh as much as a one-course one. Safe to share between a
    process's threads.

    A few dozen lines rather than a dependency (cachetools): the bound is an ordered dict's
    two calls, and the stamp check, the point of it, would be ours either way."""

    def __init__(self, budget: int, weigh: Callable[[T], int] = lambda _: 1) -> None:
        self.budget = budget
        self.weigh = weigh
        self.weight = 0
        self._answers: OrderedDict[Hashable, tuple[str, T, int]] = OrderedDict()
        self._lock = Lock()

    def __len__(self) -> int:
        return len(self._answers)

    def answer(self, key: Hashable, stamp: str | None, build: Callable[[], T]) -> T:
        """The answer kept for ``key`` under ``stamp``; otherwise ``build()``'s, kept under
        it. A ``None`` stamp (one that vouches for nothing) builds, and keeps nothing."""
        if stamp is None or self.budget <= 0:
            return build()
        with self._lock:
            kept_answer = self._answers.get(key)
            if kept_answer is not None and kept_answer[0] == stamp:
                self._answers.move_to_end(key)
                return kept_answer[1]
        value = build()  # outside the lock: a slow build holds up no other thread
        weight = max(self.weigh(value), 1)
        if weight > self.budget:
            return value  # heavier than all that may be kept
        with self._lock:
            replaced = self._answers.pop(key, None)
            if replaced is not None:
                self.weight -= replaced[2]
            self._answers[key] = (stamp, value, weight)
            self.weight += weight
            while self.weight > self.budget:
                _, (_, _, dropped) = self._answers.popitem(last=False)
                self.weight -= dropped
        return value
