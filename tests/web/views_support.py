"""Helpers of the back-office view tests: flash messages, "With selected" actions, audit
entries, and the SQL statements a list page runs (which must not grow with its page size)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Connection, event, insert, select
from sqlalchemy.orm import Session

from lms_core.models import AuditEntry, User, utcnow
from tests.web.conftest import csrf_token

Login = Callable[[User], FlaskClient]
_FLASH = re.compile(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', re.S)


def flashes(response: Any) -> str:
    """The flash messages of a page, as text."""
    page = response.get_data(as_text=True)
    return " | ".join(
        html.unescape(re.sub(r"<[^>]+>", "", m)).replace("\u00d7", "").strip()
        for m in _FLASH.findall(page)
    )


def act(client: FlaskClient, view: str, name: str, ids: list[int]) -> Any:
    """Run a "With selected" action as the list page's form does; the page it lands on."""
    token = csrf_token(client, f"/admin/{view}/")
    return client.post(
        f"/admin/{view}/action/",
        data={"action": name, "rowid": [str(i) for i in ids], "csrf_token": token, "url": ""},
        follow_redirects=True,
    )


def audit(session: Session, action: str, entity_id: int | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.action == action)
    if entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    session.expire_all()
    return list(session.scalars(stmt))


@contextmanager
def statements(connection: Connection) -> Iterator[list[str]]:
    """The SQL statements run on ``connection`` (the app shares the test's) in the block."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", count)


def rows_on(response: Any) -> int:
    """Rows of a list page: each has its details link."""
    return len(set(re.findall(r"/details/\?id=(\d+)", response.get_data(as_text=True))))


def page_statements(client: FlaskClient, connection: Connection, path: str) -> tuple[int, int]:
    """(statements, rows shown) of GET ``path`` at page size 50 and at 500: statements
    must not grow with the page."""
    out = []
    join = "&" if "?" in path else "?"
    client.get(f"{path}{join}page_size=50")  # warm: login refresh, first-use queries
    for size in (50, 500):
        with statements(connection) as seen:
            response = client.get(f"{path}{join}page_size={size}")
        assert response.status_code == 200
        out.append((len(seen), rows_on(response)))
    (small, rows_small), (large, rows_large) = out
    assert rows_small == 50 and rows_large == 500, (rows_small, rows_large)
    return small, large


def seed_users(session: Session, count: int, *, prefix: str = "bulk") -> list[int]:
    """``count`` learners in one INSERT (cheap rows for page-size tests)."""
    now = utcnow()
    session.execute(
        insert(User),
        [
            {
                "email": f"{prefix}{i:04d}@bulk.example",
                "full_name": f"Bulk {i}",
                "role": "student",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(count)
        ],
    )
    return list(session.scalars(select(User.id).where(User.email.like(f"{prefix}%"))))
