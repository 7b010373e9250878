"""report indexes: the time ranges and course cohorts that lms_core.reports filters on

Revision ID: b8e0a2c4d6f7
Revises: a7d9f1b3c5e6
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "b8e0a2c4d6f7"
down_revision: str | None = "a7d9f1b3c5e6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (index, table, columns): a course's cohort by enrollment date; the site's weekly, monthly
#: and last-7/30-days figures over timestamps.
INDEXES = (
    ("ix_enrollments_course_enrolled_at", "enrollments", ["course_id", "enrolled_at"]),
    ("ix_enrollments_enrolled_at", "enrollments", ["enrolled_at"]),
    ("ix_enrollments_completed_at", "enrollments", ["completed_at"]),
    ("ix_lesson_progress_completed_at", "lesson_progress", ["completed_at"]),
    ("ix_attempts_started_at", "attempts", ["started_at"]),
    ("ix_attempts_submitted_at", "attempts", ["submitted_at"]),
    ("ix_submissions_submitted_at", "submissions", ["submitted_at"]),
    ("ix_certificates_issued_at", "certificates", ["issued_at"]),
    ("ix_users_last_login_at", "users", ["last_login_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
