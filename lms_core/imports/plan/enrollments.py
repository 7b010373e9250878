"""Plan chunks of enrollments rows (key: the learner and the course), and a sync's drops.

The learner is named by ``user_external_id`` or ``user_email``, the course by
``course_external_id`` or ``course_slug``; a name that matches nothing in the database or
in the same run's files is a problem on that line and column.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.imports.context import Context
from lms_core.imports.plan.changes import CREATE, DROP, SKIP, UNCHANGED, UPDATE, Change
from lms_core.imports.resolve import by_ids, chunks
from lms_core.models import Course, Enrollment, EnrollmentStatus, User

Rows = list[tuple[int, dict[str, Any]]]
#: The statuses as plain strings: an Enum member's ``.value`` is a descriptor call, and the
#: per-row code below asked for it twice a row (2% of an enrollments import, profiled).
_ACTIVE = EnrollmentStatus.active.value
_DROPPED = EnrollmentStatus.dropped.value
_COMPLETED = EnrollmentStatus.completed.value


class _Users:
    def __init__(self, session: Session, rows: Rows) -> None:
        emails = {v["user_email"] for _, v in rows if "user_email" in v}
        exts = {v["user_external_id"] for _, v in rows if "user_external_id" in v}
        self.by_email: dict[str, tuple[int, str, bool]] = {}
        self.by_ext: dict[str, tuple[int, str, bool]] = {}
        cols = (User.id, User.email, User.external_id, User.is_active, User.deleted_at)
        for column, values in ((User.email, emails), (User.external_id, exts)):
            for batch in chunks(values):
                for id_, email, ext, active, deleted in session.execute(
                    select(*cols).where(column.in_(batch))
                ):
                    entry = (id_, email, bool(active) and deleted is None)
                    self.by_email[email] = entry
                    if ext:
                        self.by_ext[ext] = entry


class _Courses:
    def __init__(self, session: Session, rows: Rows) -> None:
        slugs = {v["course_slug"] for _, v in rows if "course_slug" in v}
        exts = {v["course_external_id"] for _, v in rows if "course_external_id" in v}
        self.by_slug: dict[str, tuple[int, str, int]] = {}
        self.by_ext: dict[str, tuple[int, str, int]] = {}
        cols = (Course.id, Course.slug, Course.external_id, Course.instructor_id)
        for column, values in ((Course.slug, slugs), (Course.external_id, exts)):
            for batch in chunks(values):
                for id_, slug, ext, instructor_id in session.execute(
                    select(*cols).where(column.in_(batch))
                ):
                    self.by_slug[slug] = (id_, slug, instructor_id)
                    if ext:
                        self.by_ext[ext] = (id_, slug, instructor_id)


def _user(
    ctx: Context, line: int, values: dict[str, Any], users: _Users
) -> tuple[int | None, str] | None:
    ext = values.get("user_external_id")
    column, given = ("user_external_id", ext) if ext else ("user_email", values.get("user_email"))
    found = users.by_ext.get(ext) if ext else users.by_email.get(given or "")
    email = (
        ctx.planned_user_ext.get(ext) if ext else (given if given in ctx.planned_users else None)
    )
    if email is not None and (found is None or found[1] != email):
        return None, email  # created or renamed by this run
    if found is None:
        ctx.problem(line, column, given, "no user with this value in the file or the database")
        return None
    if not found[2] and values.get("status") != _DROPPED:
        # Dropping a deactivated learner's enrollment is fine (a OneRoster delta does it
        # in the same run that deactivates them); enrolling them is not.
        ctx.problem(line, column, given, f"{found[1]} is deactivated or deleted")
        return None
    return found[0], found[1]


def _course(
    ctx: Context, line: int, values: dict[str, Any], courses: _Courses
) -> tuple[int | None, str, int | None] | None:
    ext = values.get("course_external_id")
    column, given = (
        ("course_external_id", ext) if ext else ("course_slug", values.get("course_slug"))
    )
    found = courses.by_ext.get(ext) if ext else courses.by_slug.get(given or "")
    slug = (
        ctx.planned_course_ext.get(ext)
        if ext
        else (given if given in ctx.planned_courses else None)
    )
    if slug is not None and (found is None or found[1] != slug):
        return ctx.planned_courses.get(slug), slug, None
    if found is None:
        ctx.problem(line, column, given, "no course with this value in the file or the database")
        return None
    return found


def plan_enrollments(session: Session, ctx: Context, rows: Rows) -> list[Change]:
    users, courses = _Users(session, rows), _Courses(session, rows)
    resolved: list[
        tuple[int, dict[str, Any], tuple[int | None, str], tuple[int | None, str, int | None]]
    ] = []
    for line, values in rows:
        user = _user(ctx, line, values, users)
        course = _course(ctx, line, values, courses)
        if user is None or course is None:
            continue
        if user[0] is not None and user[0] == course[2]:
            ctx.problem(
                line,
                "user_email",
                user[1],
                f"{user[1]} teaches {course[1]} and cannot enroll in it",
            )
            continue
        resolved.append((line, values, user, course))
    student_ids = {u[0] for _, _, u, _ in resolved if u[0] is not None}
    existing = _existing(session, student_ids)
    now = ctx.now.isoformat()
    out: list[Change] = []
    unchanged = Change("enrollment", "", UNCHANGED, None, None, None)
    for line, values, (student_id, email), (course_id, slug, _) in resolved:
        if course_id is not None:
            ctx.courses_in_file.add(course_id)
        status = values.get("status")
        record = existing.get((student_id, course_id)) if student_id and course_id else None
        if record is not None and (status is None or status == record["status"]):
            # The common case of a re-run: counted, never shown, so one shared marker.
            ctx.seen_ids["enrollment"].add(record["id"])
            out.append(unchanged)
            continue
        key = f"{email}/{slug}"
        if record is None:
            status = status or _ACTIVE
            after = {"user_email": email, "course_slug": slug, "status": status}
            after.update(_stamps(status, now, None))
            change = Change(
                "enrollment", key, SKIP if ctx.mode == "update" else CREATE, None, None, after, line
            )
        else:
            assert status is not None  # the same status (or none) was handled above
            ctx.seen_ids["enrollment"].add(record["id"])
            after = {"status": status, **_stamps(status, now, record)}
            action = SKIP if ctx.mode == "add" else UPDATE
            change = Change("enrollment", key, action, record["id"], {}, after, line)
        if student_id is not None:
            change.refs["student_id"] = student_id
        if course_id is not None:
            change.refs["course_id"] = course_id
        out.append(change)
    # The dates only for the few records that change (a re-run reads statuses only).
    changing = [c for c in out if c.before == {}]
    if changing:
        current = by_ids(session, "enrollment", [c.entity_id for c in changing if c.entity_id])
        for change in changing:
            record = current[change.entity_id or 0]
            change.before = {f: record[f] for f in change.after or {}}
    return out


def _existing(session: Session, student_ids: set[int]) -> dict[tuple[int, int], dict[str, Any]]:
    """The chunk's existing enrollments by (student, course): id and status, no joins.

    Joining users and courses here (for e-mails and slugs the rows already carry) made
    PostgreSQL hash-join whole tables for every ``IN`` list: a re-run of 200k enrollments
    took twice its dry run (measured).
    """
    cols = (Enrollment.id, Enrollment.student_id, Enrollment.course_id, Enrollment.status)
    found: dict[tuple[int, int], dict[str, Any]] = {}
    for batch in chunks(student_ids):
        # By student only: with a course_id IN list too, SQLite scanned the course index
        # (every enrollment of those courses) instead of the student index (measured).
        stmt = select(*cols).where(Enrollment.student_id.in_(batch))
        for id_, student_id, course_id, status in session.execute(stmt):
            found[(student_id, course_id)] = {"id": id_, "status": status}
    return found


def _stamps(status: str, now: str, record: dict[str, Any] | None) -> dict[str, Any]:
    """``dropped_at``/``completed_at`` that go with a new status."""
    if status == _DROPPED:
        return {"dropped_at": now}
    if status == _COMPLETED:
        return {"completed_at": now, "dropped_at": None} if record else {"completed_at": now}
    return {"dropped_at": None} if record else {}


def scope_enrollments(session: Session, ctx: Context) -> list[int]:
    """An enrollments sync's scope: the active enrollments of the courses in the file."""
    ids: list[int] = []
    for batch in chunks(ctx.courses_in_file):
        stmt = select(Enrollment.id).where(
            Enrollment.course_id.in_(batch), Enrollment.status == EnrollmentStatus.active.value
        )
        ids.extend(session.scalars(stmt))
    return ids


def plan_drops(session: Session, ctx: Context, scope: list[int]) -> list[Change]:
    absent = [i for i in scope if i not in ctx.seen_ids["enrollment"]]
    now = ctx.now.isoformat()
    out: list[Change] = []
    for batch in chunks(absent):
        for id_, r in sorted(by_ids(session, "enrollment", batch).items()):
            out.append(
                Change(
                    "enrollment",
                    f"{r['user_email']}/{r['course_slug']}",
                    DROP,
                    id_,
                    {"status": r["status"], "dropped_at": r["dropped_at"]},
                    {"status": EnrollmentStatus.dropped.value, "dropped_at": now},
                )
            )
    return out
