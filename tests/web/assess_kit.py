"""What the assessment views' tests share: statement counting, the database as a whole (to
show a refused write changed nothing), the flash messages of a page."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from tests.cli.helpers import db_state

#: Tables a request may touch without writing anything of its own (the login's session row).
_SESSION_TABLES = {"web_sessions"}


@contextmanager
def statements(connection: Connection) -> Iterator[list[str]]:
    """The SQL statements run on ``connection`` inside the block."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            seen.append(sql)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", count)


def state(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row but the login sessions' (see :func:`tests.cli.helpers.db_state`)."""
    return {k: v for k, v in db_state(session).items() if k not in _SESSION_TABLES}


def text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def follow(client: Any, response: Any) -> str:
    """The page a redirect leads to (where the flash messages show)."""
    assert response.status_code in (302, 303), response.status_code
    return text(client.get(response.headers["Location"]))


def field_errors(page: str, name: str) -> list[str]:
    """The messages a form shows under its field ``name`` (Flask-Admin's invalid-feedback)."""
    found = re.search(
        rf'name="{re.escape(name)}"[^>]*>\s*<div class="invalid-feedback">\s*<ul[^>]*>(.*?)</ul>',
        page,
        re.S,
    )
    return [m.strip() for m in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)] if found else []


def list_rows(body: str) -> int:
    """Rows of a Flask-Admin list (one selection checkbox per row)."""
    return len(re.findall(r'name="rowid"', body))


Counter = Callable[[str], int]


def learner_client(logged_in: Any, make: Any, session: Session) -> Any:
    """A client of a learner: learners cannot log in to the back office, so a staff member
    logs in and is then demoted (the realistic case of a learner holding a session)."""
    user = make.user("instructor")
    client = logged_in(user)
    user.role = "student"
    session.flush()
    return client
