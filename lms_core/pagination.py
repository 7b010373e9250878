"""Listings for the CLI, back office and API: a page with the total, or every row streamed.

``paginate`` reads one page and counts the rest; ``iter_rows`` reads every row of the same
query in chunks (``yield_per``: a server-side cursor on PostgreSQL, ``stream_results``), so a
listing of 300,000 rows is written out in constant memory, never built as a list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, func, or_, select
from sqlalchemy.orm import Session

from lms_core.errors import ValidationError
from lms_core.validation import like_pattern

T = TypeVar("T")
MAX_PER_PAGE = 10_000
#: Rows fetched from the database at a time by ``iter_rows``.
STREAM_CHUNK = 1_000


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def next_page(self) -> int | None:
        """The page after this one, or None when this is the last."""
        return self.page + 1 if self.page < self.pages else None

    @property
    def first_row(self) -> int:
        """The 1-based position of this page's first row (0 when the page is empty)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def remaining(self) -> int:
        """Rows after this page."""
        return max(0, self.total - (self.page - 1) * self.per_page - len(self.items))


def check_page(page: int, per_page: int) -> None:
    if page < 1:
        raise ValidationError("must be 1 or more", field="page", value=page)
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationError(
            f"must be between 1 and {MAX_PER_PAGE}", field="per_page", value=per_page
        )


def paginate(session: Session, stmt: Select[Any], *, page: int, per_page: int) -> Page[Any]:
    """One page of an entity query (``Select`` of one ORM entity) and the total count."""
    check_page(page, per_page)
    total = count_rows(session, stmt)
    items = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique())
    return Page(items=items, total=total, page=page, per_page=per_page)


def count_rows(session: Session, stmt: Select[Any]) -> int:
    """How many rows ``stmt`` selects (a page's total)."""
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def iter_rows(session: Session, stmt: Select[Any], *, chunk: int = STREAM_CHUNK) -> Iterator[Any]:
    """Every entity of ``stmt`` (a ``Select`` of one ORM entity), read ``chunk`` rows at a time.

    ``yield_per`` fetches in chunks and, on PostgreSQL, through a server-side cursor
    (``stream_results``); the session holds its objects weakly, so rows already handed on are
    freed. The caller consumes the iterator inside its transaction.
    """
    yield from session.scalars(stmt.execution_options(yield_per=chunk))


def iter_tuples(
    session: Session, stmt: Select[*tuple[Any, ...]], *, chunk: int = STREAM_CHUNK
) -> Iterator[Any]:
    """Every row (a tuple) of ``stmt``, read ``chunk`` rows at a time (see ``iter_rows``)."""
    yield from session.execute(stmt.execution_options(yield_per=chunk))


def search_filter(search: str, *columns: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """Rows where any of ``columns`` contains ``search`` (case-insensitive, taken literally).

    The one text search of every listing; each column is given as it should be compared
    (``func.lower(User.full_name)``; a column stored lower-case, such as an e-mail, as is).
    """
    pattern = like_pattern(search)
    return or_(*(column.like(pattern, escape="\\") for column in columns))
