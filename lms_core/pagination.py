"""A page of results with the total, for listings in the CLI, back office and API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, func, or_, select
from sqlalchemy.orm import Session

from lms_core.errors import ValidationError
from lms_core.validation import like_pattern

T = TypeVar("T")
MAX_PER_PAGE = 10_000


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def paginate(session: Session, stmt: Select[Any], *, page: int, per_page: int) -> Page[Any]:
    """One page of an entity query (``Select`` of one ORM entity) and the total count."""
    if page < 1:
        raise ValidationError("must be 1 or more", field="page", value=page)
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationError(
            f"must be between 1 and {MAX_PER_PAGE}", field="per_page", value=per_page
        )
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique())
    return Page(items=items, total=total, page=page, per_page=per_page)


def search_filter(search: str, *columns: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """Rows where any of ``columns`` contains ``search`` (case-insensitive, taken literally).

    The one text search of every listing; each column is given as it should be compared
    (``func.lower(User.full_name)``; a column stored lower-case, such as an e-mail, as is).
    """
    pattern = like_pattern(search)
    return or_(*(column.like(pattern, escape="\\") for column in columns))
