"""The heaviest figures read through the indexes of the report migration (EXPLAIN).

On a test database of a few rows PostgreSQL would scan whole tables anyway, so its plans are
taken with sequential scans discouraged (``enable_seqscan = off``): what is checked is that an
index *serves* each filter, the way it does on a million-row site. SQLite's planner, without
statistics, picks an index for every range it can: ``EXPLAIN QUERY PLAN`` names the same ones.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from lms_core import kept
from lms_core.actor import Actor
from lms_core.reports.base import Period, Section
from lms_core.reports.course import course_report
from lms_core.reports.system import system_report
from tests.reports.world import NOW, build

PERIOD = Period.of(datetime(2026, 1, 1, tzinfo=UTC), NOW)


@pytest.fixture
def planned(session: Session, is_postgres: bool) -> Session:
    if is_postgres:
        session.execute(text("SET LOCAL enable_seqscan = off"))
    return session


def plan(session: Session, section: Section) -> str:
    """The plan of the section's query with the parameters the report runs it with (its
    kept statement's SQL and this report's values, as ``prepared.rows`` sends them)."""
    connection = session.connection()
    compiled = kept._compile(section.statement, connection.dialect)
    arguments = kept._arguments(compiled, section.values)
    pg = connection.dialect.name == "postgresql"
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(("EXPLAIN " if pg else "EXPLAIN QUERY PLAN ") + compiled.sql, arguments)
    rows = cursor.fetchall()
    cursor.close()
    return "\n".join(str(r[0] if pg else r[-1]) for r in rows)


def test_a_course_cohort_uses_its_index(planned: Session) -> None:
    build(planned)
    report = course_report(
        planned, actor=Actor.operator("pytest"), slug="rep-course", period=PERIOD
    )
    for name in ("summary", "funnel", "at_risk"):
        assert "ix_enrollments_course_enrolled_at" in plan(planned, report.section(name)), name


def test_the_site_figures_use_their_time_indexes(planned: Session) -> None:
    build(planned)
    report = system_report(planned, actor=Actor.operator("pytest"), period=PERIOD)
    active = plan(planned, report.section("active_learners"))
    for index in (
        "ix_users_last_login_at_id",
        "ix_lesson_progress_completed_at_enrollment",
        "ix_attempts_started_at_enrollment",
        "ix_attempts_submitted_at_enrollment",
        "ix_submissions_submitted_at_student",
    ):
        assert index in active, active
    weekly = plan(planned, report.section("enrollments_per_week"))
    assert "ix_enrollments_enrolled_at" in weekly and "ix_enrollments_completed_at" in weekly
    monthly = plan(planned, report.section("certificates_per_month"))
    assert "ix_certificates_issued_at" in monthly


def test_active_learners_read_the_indexes_alone(planned: Session, is_postgres: bool) -> None:
    """Migration f6a8b0c2d4e6: each time index carries whose event it is, so the figure never
    reads the progress, attempt or submission rows themselves (on a million-enrollment site
    the heap reads were most of its time). PostgreSQL skips the table for the pages marked
    all-visible (VACUUM; autovacuum on a live site); the plan's choice is what is checked."""
    build(planned)
    if is_postgres:
        # A test's rows are not vacuumed (its transaction is rolled back): without bitmap
        # scans the planner shows whether an index alone can answer.
        planned.execute(text("SET LOCAL enable_bitmapscan = off"))
    report = system_report(planned, actor=Actor.operator("pytest"), period=PERIOD)
    active = plan(planned, report.section("active_learners"))
    for index in (
        "ix_lesson_progress_completed_at_enrollment",
        "ix_attempts_started_at_enrollment",
        "ix_attempts_submitted_at_enrollment",
        "ix_submissions_submitted_at_student",
    ):
        lines = [line for line in active.splitlines() if index in line]
        assert lines, active
        wanted = "Index Only Scan" if is_postgres else "COVERING INDEX"
        assert all(wanted in line for line in lines), active
    if is_postgres:
        # Enrollment -> learner from (id, student_id), not the primary key and the heap.
        # (SQLite's enrollments are keyed by rowid: the lookup already is the table itself.)
        lines = [line for line in active.splitlines() if "ix_enrollments_id_student" in line]
        assert lines and all("Index Only Scan" in line for line in lines), active


def test_active_learners_of_the_present_read_one_index_range(
    planned: Session, is_postgres: bool
) -> None:
    """A report as of now (no end) counts the learners' kept latest activity (migration
    a76b140908e4): one range of ``(role, last_activity_at)``, no event table read at all."""
    build(planned)
    if is_postgres:
        planned.execute(text("SET LOCAL enable_bitmapscan = off"))
    report = system_report(planned, actor=Actor.operator("pytest"), period=Period.of(None, None))
    active = plan(planned, report.section("active_learners"))
    assert "ix_users_role_last_activity_at" in active, active
    for table in ("lesson_progress", "attempts", "submissions", "enrollments"):
        assert table not in active, active
