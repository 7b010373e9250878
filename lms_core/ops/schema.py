"""Schema migrations through Alembic's API: upgrade, downgrade, current, check.

lmsctl needs no alembic.ini: the script location is the installed ``migrations`` package,
and the connection is the one the caller opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from lms_core.db import database_missing

if TYPE_CHECKING:
    from lms_core.actor import Actor


def _config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None when empty (a SQLite file not created yet is empty too)."""
    from alembic.runtime.migration import MigrationContext

    if database_missing(engine.url):
        return None
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A transaction for migrations; on SQLite with foreign keys off while tables are rebuilt.

    SQLite's batch migrations copy a table and drop the old one; with foreign keys on, that
    DROP deletes the rows and cascades to every table that references it (a course's lessons
    and enrollments). Alembic's advice: keys off during the migration, then check them.
    The PRAGMA only works outside a transaction, so it goes straight to the driver.
    """
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def migrate(
    engine: Engine, revision: str = "head", *, actor: Actor, down: bool = False
) -> tuple[str | None, str | None]:
    """Move the schema to ``revision`` (administrators and the operator only); the revision
    before and after. :func:`upgrade` and :func:`downgrade` are the unchecked steps below it,
    for code that owns its database (tests, benchmarks)."""
    from lms_core.permissions import require_admin

    require_admin(actor, "downgrade the schema" if down else "upgrade the schema")
    before = current_revision(engine)
    (downgrade if down else upgrade)(engine, revision)
    return before, current_revision(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    with migrating(engine) as conn:
        upgrade_on(conn, revision)


def upgrade_on(conn: Connection, revision: str = "head") -> None:
    """Upgrade inside the caller's :func:`migrating` transaction (``init`` adds its admin)."""
    from alembic import command

    command.upgrade(_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with migrating(engine) as conn:
        command.downgrade(_config(conn), revision)


@dataclass
class SchemaStatus:
    current: str | None
    head: str | None
    differences: list[str]

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head and not self.differences


def differences(engine: Engine) -> list[str]:
    """What autogenerate would change: the models and the database disagree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from lms_core.models import Base

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [repr(diff) for diff in compare_metadata(context, Base.metadata)]


def checked_status(engine: Engine, *, actor: Actor, compare: bool = True) -> SchemaStatus:
    """:func:`status`, for administrators and the operator only (``lmsctl db current|check``)."""
    from lms_core.permissions import require_admin

    require_admin(actor, "inspect the schema")
    return status(engine, compare=compare)


def status(engine: Engine, *, compare: bool = True) -> SchemaStatus:
    current = current_revision(engine)
    head = head_revision()
    diffs = differences(engine) if compare and current == head else []
    return SchemaStatus(current=current, head=head, differences=diffs)
