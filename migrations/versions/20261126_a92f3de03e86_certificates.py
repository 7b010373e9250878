"""certificates

Revision ID: a92f3de03e86
Revises: 7615766e684a
Create Date: 2026-11-26 07:38:46.867251
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a92f3de03e86"
down_revision: str | None = "7615766e684a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("template", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("learner_name", sa.String(length=200), nullable=False),
        sa.Column("course_title", sa.String(length=200), nullable=False),
        sa.Column("pdf_path", sa.String(length=500), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("revoked_by", sa.String(length=320), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("version >= 1", name=op.f("ck_certificates_version_positive")),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollments.id"],
            name=op.f("fk_certificates_enrollment_id_enrollments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["certificates.id"],
            name=op.f("fk_certificates_supersedes_id_certificates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("number", name=op.f("uq_certificates_number")),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificates_enrollment_id"), ["enrollment_id"], unique=False
        )
        batch_op.create_index(
            "uq_certificates_valid_enrollment",
            ["enrollment_id"],
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL AND superseded_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL AND superseded_at IS NULL"),
        )

    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "certificate_min_grade",
                sa.Numeric(precision=5, scale=2),
                server_default="0",
                nullable=False,
            )
        )
        batch_op.create_check_constraint(
            "certificate_min_grade_in_range",
            "certificate_min_grade >= 0 AND certificate_min_grade <= 100",
        )


def downgrade() -> None:
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_courses_certificate_min_grade_in_range"), type_="check")
        batch_op.drop_column("certificate_min_grade")

    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_certificates_valid_enrollment",
            sqlite_where=sa.text("revoked_at IS NULL AND superseded_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL AND superseded_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_certificates_enrollment_id"))

    op.drop_table("certificates")
