"""Migration a76b140908e4 fills ``users.last_activity_at`` from the rows already there: each
user's latest login, lesson completed, attempt started or submitted, assignment submitted,
with NULLs (an attempt in progress, a user who never logged in) not blanking the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, inspect, select, text

from lms_core.db import make_engine
from lms_core.models import (
    Assignment,
    Attempt,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Quiz,
    Submission,
    User,
)
from lms_core.ops import schema

pytestmark = pytest.mark.scratch

BEFORE, REVISION = "f6a8b0c2d4e6", "a76b140908e4"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def hours(n: int) -> datetime:
    return T0 + timedelta(hours=n)


def _insert(conn: Any, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Rows of ``model``'s table with the model's Python defaults, ids back (the table as it
    is at the older revision: no column the models added since is named)."""
    table = model.__table__
    return [conn.execute(insert(table).returning(table.c.id), row).scalar_one() for row in rows]


def _fill(engine: Engine) -> dict[str, int]:
    users = User.__table__
    with engine.begin() as conn:

        def user(email: str, role: str = "student", login: datetime | None = None) -> int:
            values = {
                "email": email,
                "role": role,
                "full_name": email,
                "is_active": True,
                "failed_login_attempts": 0,
                "last_login_at": login,
                "created_at": T0,
                "updated_at": T0,
            }
            # The model's new column has no default: the insert does not name it.
            stmt = insert(users).values(values).returning(users.c.id)
            return int(conn.execute(stmt).scalar_one())

        ids = {
            "teacher": user("t@x.org", "instructor", login=hours(1)),
            "progress": user("p@x.org", login=hours(2)),  # a later lesson wins
            "attempt": user("a@x.org"),  # started later than submitted elsewhere
            "submitted": user("s@x.org"),  # the attempt's submission is the latest
            "assignment": user("w@x.org", login=hours(1)),
            "login": user("l@x.org", login=hours(30)),
            "idle": user("i@x.org"),
        }
        (course,) = _insert(
            conn,
            Course,
            [
                {
                    "title": "C",
                    "slug": "c",
                    "instructor_id": ids["teacher"],
                    "difficulty_level": "beginner",
                    "is_published": True,
                }
            ],
        )
        text_lesson, quiz_lesson = _insert(
            conn,
            Lesson,
            [
                {
                    "course_id": course,
                    "title": name,
                    "slug": name,
                    "lesson_type": kind,
                    "order_index": n,
                    "is_preview": False,
                    "is_required": True,
                }
                for n, (name, kind) in enumerate((("t", "text"), ("q", "quiz")), 1)
            ],
        )
        (quiz,) = _insert(conn, Quiz, [{"lesson_id": quiz_lesson, "title": "Q"}])
        enrollment = dict(
            zip(
                ("progress", "attempt", "submitted"),
                _insert(
                    conn,
                    Enrollment,
                    [
                        {
                            "student_id": ids[who],
                            "course_id": course,
                            "status": "active",
                            "enrolled_at": T0,
                            "progress_percentage": 0,
                        }
                        for who in ("progress", "attempt", "submitted")
                    ],
                ),
                strict=True,
            )
        )
        _insert(
            conn,
            LessonProgress,
            [
                {
                    "enrollment_id": enrollment["progress"],
                    "lesson_id": text_lesson,
                    "completed_at": hours(3),
                },
                {
                    "enrollment_id": enrollment["progress"],
                    "lesson_id": quiz_lesson,
                    "completed_at": hours(5),
                },
                {
                    "enrollment_id": enrollment["attempt"],
                    "lesson_id": text_lesson,
                    "completed_at": hours(4),
                },
            ],
        )

        def attempt(
            who: str, number: int, started: datetime, submitted: datetime | None
        ) -> dict[str, Any]:
            return {
                "enrollment_id": enrollment[who],
                "quiz_id": quiz,
                "number": number,
                "status": "in_progress" if submitted is None else "submitted",
                "started_at": started,
                "submitted_at": submitted,
                "shuffle_seed": 1,
            }

        _insert(
            conn,
            Attempt,
            [
                attempt("attempt", 1, hours(6), hours(7)),
                attempt("attempt", 2, hours(8), None),  # in progress: started counts
                attempt("submitted", 1, hours(6), hours(9)),
            ],
        )
        (assignment,) = _insert(
            conn,
            Assignment,
            [{"course_id": course, "title": "A", "max_points": 10, "late_penalty_percent": 0}],
        )
        _insert(
            conn,
            Submission,
            [
                {
                    "assignment_id": assignment,
                    "student_id": ids["assignment"],
                    "submitted_at": hours(10),
                    "days_late": 0,
                }
            ],
        )
    return ids


EXPECTED = {
    "teacher": hours(1),
    "progress": hours(5),
    "attempt": hours(8),
    "submitted": hours(9),
    "assignment": hours(10),
    "login": hours(30),
    "idle": None,
}


def test_the_upgrade_fills_the_latest_activity_and_the_downgrade_drops_it(
    settings: Any, scratch_url: str
) -> None:
    engine = make_engine(settings, url=scratch_url)
    try:
        schema.upgrade(engine, BEFORE)
        ids = _fill(engine)
        schema.upgrade(engine, REVISION)
        with engine.connect() as conn:
            got = dict(conn.execute(select(User.id, User.last_activity_at)).all())
        assert {who: got[uid] for who, uid in ids.items()} == EXPECTED
        indexes = {i["name"] for i in inspect(engine).get_indexes("users")}
        assert "ix_users_role_last_activity_at" in indexes
        schema.downgrade(engine, BEFORE)
        columns = {c["name"] for c in inspect(engine).get_columns("users")}
        assert "last_activity_at" not in columns and "last_login_at" in columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM users")).scalar() == len(ids)
        schema.upgrade(engine)
        assert schema.status(engine).up_to_date
    finally:
        engine.dispose()
