"""last activity: each user's latest activity time, kept on the user

Revision ID: a76b140908e4
Revises: f6a8b0c2d4e6
Create Date: 2026-12-07

The system report's "active learners in the last 7 and 30 days" counted the distinct learners
behind every event of the last 30 days (logins, lessons completed, quiz attempts started or
submitted, assignments submitted): ~500 ms on PostgreSQL for a million-enrollment site with
~73,000 active learners, growing with the events. ``users.last_activity_at`` keeps each
user's latest such time (lms_core/accounts/activity.py updates it with every event), so the
figure is one range of ``ix_users_role_last_activity_at``.

The upgrade fills the column from the data already there: each user's latest time over the
five sources, gathered with ``UNION ALL`` and ``GROUP BY`` (not ``GREATEST``/``max(a, b)``,
whose NULL handling differs: PostgreSQL's skips NULLs, SQLite's returns NULL), the same
statement as ``lms_core.accounts.activity.recompute_last_activity``, written out here so that
later changes to the models cannot change what this revision does. The index is built after
the fill (once, not updated row by row). On PostgreSQL the fill rewrites every user row that
had activity: ~100,000 rows of a million-enrollment site in 11 s. The ``ALTER TABLE`` takes
``ACCESS EXCLUSIVE`` on ``users`` and the one transaction holds it to the end: every read and
write of ``users`` (each login, each signed-in page) waits for the whole upgrade
(docs/reports.md, "Indexes").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a76b140908e4"
down_revision: str | None = "f6a8b0c2d4e6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = ("ix_users_role_last_activity_at", "users", ["role", "last_activity_at"])

#: Each user's latest activity over the five sources; progress and attempt times are reduced
#: to one per enrollment before the join to the learner. ``UPDATE ... FROM``: PostgreSQL,
#: and SQLite from 3.33.
FILL = """
UPDATE users SET last_activity_at = latest.at
FROM (
    SELECT events.user_id AS user_id, max(events.at) AS at FROM (
        SELECT e.student_id AS user_id, per_enrollment.at AS at
        FROM (
            SELECT by_enrollment.enrollment_id AS enrollment_id, max(by_enrollment.at) AS at
            FROM (
                SELECT enrollment_id, completed_at AS at FROM lesson_progress
                UNION ALL SELECT enrollment_id, started_at FROM attempts
                UNION ALL SELECT enrollment_id, submitted_at FROM attempts
                    WHERE submitted_at IS NOT NULL
            ) AS by_enrollment
            GROUP BY by_enrollment.enrollment_id
        ) AS per_enrollment
        JOIN enrollments e ON e.id = per_enrollment.enrollment_id
        UNION ALL SELECT id, last_login_at FROM users WHERE last_login_at IS NOT NULL
        UNION ALL SELECT student_id, submitted_at FROM submissions
    ) AS events
    GROUP BY events.user_id
) AS latest
WHERE users.id = latest.user_id
  AND (users.last_activity_at IS NULL OR users.last_activity_at < latest.at)
"""


def upgrade() -> None:
    op.add_column("users", sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(FILL)
    name, table, columns = INDEX
    op.create_index(name, table, columns, unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # The fill rewrote the users' rows: fresh statistics for the new column at once
        # (autovacuum would take them within minutes; VACUUM cannot run in a transaction).
        op.execute("ANALYZE users")


def downgrade() -> None:
    op.drop_index(INDEX[0], table_name=INDEX[1])
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_activity_at")
