"""report schedules: export schedules may run a report; a mail may carry an attachment

Revision ID: e5f7a9b1c3d5
Revises: c9f1b3d5e7a8
Create Date: 2026-12-07

``export_schedules.export_kind`` accepts ``report`` (the report, its subject and whether to
mail it are in the row's ``args``); ``mail_outbox.attachment_path`` names the file a mail
carries (a scheduled report's file, read when the mail is sent).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5f7a9b1c3d5"
down_revision: str | None = "c9f1b3d5e7a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "export_kind IN ('gradebook', 'enrollments', 'users', 'courses')"
NEW = "export_kind IN ('gradebook', 'enrollments', 'users', 'courses', 'report')"
NAME = "ck_export_schedules_export_kind_valid"


def _kinds(check: str) -> None:
    with op.batch_alter_table("export_schedules") as batch:
        batch.drop_constraint(op.f(NAME), type_="check")
        batch.create_check_constraint(op.f(NAME), sa.text(check))


def upgrade() -> None:
    _kinds(NEW)
    with op.batch_alter_table("mail_outbox") as batch:
        batch.add_column(sa.Column("attachment_path", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM export_schedules WHERE export_kind = 'report'")
    _kinds(OLD)
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_column("attachment_path")
