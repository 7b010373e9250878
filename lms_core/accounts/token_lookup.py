"""The token lookup every API request makes: the token of a raw value and its user, in one
query whose statement is built once.

Building the statement (a join and a comparison) cost more CPU than running it; with the
hash as a bound parameter the one statement object is reused, and SQLAlchemy's compiled
cache is hit every time. Reads only.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from lms_core.models import ApiToken, User
from lms_core.security import token_hash

#: The longest raw token looked up (a longer one is no token of ours).
MAX_RAW = 200


def find_with_user(session: Session, raw: str) -> tuple[ApiToken, User] | None:
    """The token of ``raw`` and its user in one query (one round trip per API request)."""
    if not raw or len(raw) > MAX_RAW:
        return None
    found = session.execute(_token_with_user(), {"token_hash": token_hash(raw)}).first()
    return None if found is None else (found[0], found[1])


@cache
def _token_with_user() -> Select[ApiToken, User]:
    return (
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == bindparam("token_hash"))
    )
