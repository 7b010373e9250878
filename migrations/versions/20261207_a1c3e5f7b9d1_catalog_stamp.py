"""catalog stamp: one row that changes with every committed change to what the catalog shows

Revision ID: a1c3e5f7b9d1
Revises: a76b140908e4
Create Date: 2026-12-07

An API worker keeps the catalog pages and course outlines it answered, each with the stamp
it read before reading the page, and answers one again only while the stamp is the same
(``lms_core/catalog/stamp.py``). What they show is courses, their lessons and their
instructors' e-mails. Triggers write the stamp, so every writer (the services, an import's
bulk statements, a restore, SQL by hand) changes it:

- PostgreSQL: a constraint trigger, ``DEFERRABLE INITIALLY DEFERRED``, on each row a
  statement adds, changes or removes in ``courses`` and ``lessons``, and on each user
  updated (the function goes on only when the e-mail changed).
  It runs when the transaction commits, once per transaction (a transaction-local setting
  marks it done), so the stamp's row is locked only for the commit itself (a ``TRUNCATE``,
  which no row trigger sees, stamps at once: it locks the whole table anyway): a trigger that
  locked it at the first course written would hold it to the end of the transaction, and
  two transactions writing courses in turn could then deadlock on it.
- SQLite: a trigger per row (SQLite has no deferred triggers). Its writers queue for the
  database's one write lock anyway.

The stamp is 32 random hex digits, not a count: a restored backup brings back the stamp of
its own time, with the rows of that time; a count would start again from there and give
numbers the workers saw with other rows.

SQLite drops a table's triggers when a batch migration rebuilds the table: a later
migration that rebuilds ``courses``, ``lessons`` or ``users`` must create them again
(``tests/catalog/test_catalog_stamp.py`` checks they are there at head, and that each
change they watch gives a new stamp). The function keeps the ``search_path`` it was made
with, so a session that runs with another (a restore's ``search_path = ''``) still finds
the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1c3e5f7b9d1"
down_revision: str | None = "a76b140908e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_FUNCTION = """
CREATE FUNCTION lms_catalog_stamp() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN  -- (nested: OLD of another table has no e-mail)
        IF OLD.email IS NOT DISTINCT FROM NEW.email THEN
            RETURN NULL;
        END IF;
    END IF;
    IF current_setting('lms.catalog_stamped', true) IS DISTINCT FROM 'on' THEN
        PERFORM set_config('lms.catalog_stamped', 'on', true);
        UPDATE catalog_stamp SET stamp = md5(random()::text || clock_timestamp()::text);
    END IF;
    RETURN NULL;
END
$$
"""

#: The tables whose every row change changes the stamp.
_TABLES = ("courses", "lessons")

_PG_TRIGGERS = (
    *(
        f"CREATE CONSTRAINT TRIGGER catalog_stamp_{table} AFTER INSERT OR UPDATE OR DELETE "
        f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        "EXECUTE FUNCTION lms_catalog_stamp()"
        for table in _TABLES
    ),
    # TRUNCATE (no row trigger sees it): at once, the table being locked whole anyway.
    *(
        f"CREATE TRIGGER catalog_stamp_{table}_truncate AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION lms_catalog_stamp()"
        for table in _TABLES
    ),
    # Every update of a user, the e-mail compared in the function: a column named in the
    # trigger (``UPDATE OF email``, a ``WHEN``) would make PostgreSQL refuse any later
    # migration that changes the column's type.
    "CREATE CONSTRAINT TRIGGER catalog_stamp_users AFTER UPDATE ON users "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lms_catalog_stamp()",
)

_EVENTS = ("INSERT", "UPDATE", "DELETE")
_SQLITE_STAMP = "UPDATE catalog_stamp SET stamp = lower(hex(randomblob(16)));"
_SQLITE_TRIGGERS = (
    *(
        f"CREATE TRIGGER catalog_stamp_{table}_{event.lower()} AFTER {event} ON {table} "
        f"BEGIN {_SQLITE_STAMP} END"
        for table in _TABLES
        for event in _EVENTS
    ),
    "CREATE TRIGGER catalog_stamp_users AFTER UPDATE OF email ON users "
    f"WHEN OLD.email IS NOT NEW.email BEGIN {_SQLITE_STAMP} END",
)


def upgrade() -> None:
    op.create_table(
        "catalog_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_stamp")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    # A random first stamp too: a backup of this site from before the upgrade, restored and
    # upgraded, must not start with the stamp this site's workers saw.
    op.execute(
        "INSERT INTO catalog_stamp (id, stamp) VALUES (1, md5(random()::text))"
        if postgres
        else "INSERT INTO catalog_stamp (id, stamp) VALUES (1, lower(hex(randomblob(16))))"
    )
    if postgres:
        op.execute(_PG_FUNCTION)
        for trigger in _PG_TRIGGERS:
            op.execute(trigger)
    else:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS catalog_stamp_users ON users")
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS catalog_stamp_{table} ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS catalog_stamp_{table}_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS lms_catalog_stamp()")
    else:
        op.execute("DROP TRIGGER IF EXISTS catalog_stamp_users")
        for table in _TABLES:
            for event in _EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS catalog_stamp_{table}_{event.lower()}")
    op.drop_table("catalog_stamp")
