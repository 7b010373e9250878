"""The token lookup every API request makes: the token of a raw value and its user, in one
query whose statement is built once.

Building the statement (a join and a comparison) cost more CPU than running it; with the
hash as a bound parameter the one statement object is reused. An API request's check
(:func:`find_identity`) reads plain columns as a kept statement on the DBAPI cursor,
prepared on PostgreSQL (:mod:`lms_core.kept`): no token or user object is built for a
check that only needs who the caller is. Reads only.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from lms_core import kept
from lms_core.models import ApiToken, User
from lms_core.security import token_hash

#: The longest raw token looked up (a longer one is no token of ours).
MAX_RAW = 200


class TokenRow(NamedTuple):
    """What a token check needs of the token and its user."""

    token_id: int
    kind: str
    family: str
    scopes: str | None
    revoked_at: datetime | None
    expires_at: datetime
    user_id: int
    email: str
    role: str
    is_active: bool
    deleted_at: datetime | None
    #: The catalog's stamp and whether it may be trusted, read in the same round trip
    #: (:func:`lms_core.catalog.stamp.stamp_columns`): a catalog page or an outline needs it,
    #: and every API request checks a token first.
    catalog_stamp: str | None = None
    catalog_stamp_clean: bool | None = None


def find_with_user(session: Session, raw: str) -> tuple[ApiToken, User] | None:
    """The token of ``raw`` and its user in one query (one round trip per API request)."""
    if not raw or len(raw) > MAX_RAW:
        return None
    found = session.execute(_token_with_user(), {"token_hash": token_hash(raw)}).first()
    return None if found is None else (found[0], found[1])


def find_identity(session: Session, raw: str) -> TokenRow | None:
    """:func:`find_with_user` as plain columns (:class:`TokenRow`), for a token check."""
    if not raw or len(raw) > MAX_RAW:
        return None
    connection = session.connection()
    statement = _token_row(connection.dialect.name)
    found = kept.look_up(connection, statement, {"token_hash": token_hash(raw)})
    row = next(iter(found), None)  # one row at most (the hash is unique)
    return None if row is None else TokenRow(*row)


@cache
def _token_with_user() -> Select[ApiToken, User]:
    return (
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == bindparam("token_hash"))
    )


#: What a token check reads (:class:`TokenRow`'s fields, in its order).
_TOKEN_ROW: tuple[Any, ...] = (
    ApiToken.id,
    ApiToken.kind,
    ApiToken.family,
    ApiToken.scopes,
    ApiToken.revoked_at,
    ApiToken.expires_at,
    User.id,
    User.email,
    User.role,
    User.is_active,
    User.deleted_at,
)


@cache
def _token_row(dialect: str) -> Select[Any]:
    from lms_core.catalog.stamp import stamp_columns

    return (
        select(*_TOKEN_ROW, *stamp_columns(dialect))
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == bindparam("token_hash", required=False))
    )
