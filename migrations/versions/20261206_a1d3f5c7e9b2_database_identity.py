"""database identity: one random UUID naming this database, for stamping its files folder

A files folder (``LMS_FILES_DIR``) belongs to one database; two databases sharing one deleted
each other's PDFs as orphans. The folder is stamped with this identity
(``lms_core.files_identity``) and a database refuses a folder stamped by another.

Every database gets its row here, old ones included: the UUID is made when the migration
runs, so each database upgraded gets its own (offline, ``--sql``, the script carries one
UUID: run it against one database only). The code never makes the row itself: a database
without it is refused (``files_identity.database_identity``).

Downgrading past this revision drops the identity; upgrading again makes a new one, which
its files folder's stamp no longer names: the folder is refused, with a message saying the
database looks re-created or downgraded; remove ``<files dir>/.lms-database`` and the next
command stamps the folder again. (The old identity is not recovered from the stamp: the
migration does not know the files folder, and a stamp is only a claim.)

Revision ID: a1d3f5c7e9b2
Revises: 87f21df572e2
Create Date: 2026-12-06
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "a1d3f5c7e9b2"
down_revision: str | None = "87f21df572e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "database_identity",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("identity", sa.String(length=36), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_database_identity_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_database_identity")),
    )
    now = datetime.now(UTC)
    if op.get_context().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as UTC without offset, as UtcDateTime does
    op.bulk_insert(table, [{"id": 1, "identity": str(uuid.uuid4()), "created_at": now}])


def downgrade() -> None:
    op.drop_table("database_identity")
