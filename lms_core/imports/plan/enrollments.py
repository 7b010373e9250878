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
from lms_core.imports.resolve import by_ids, chunks, driver_rows
from lms_core.models import Enrollment, EnrollmentStatus

Rows = list[tuple[int, dict[str, Any]]]
#: The statuses as plain strings: an Enum member's ``.value`` is a descriptor call, and the
#: per-row code below asked for it twice a row (2% of an enrollments import, profiled).
_ACTIVE = EnrollmentStatus.active.value
_DROPPED = EnrollmentStatus.dropped.value
_COMPLETED = EnrollmentStatus.completed.value


#: Records found stay known for the rest of the stage (a learner or a course is named in
#: many chunks; nothing in an enrollments stage changes users or courses), up to this many.
KNOWN_MAX = 500_000
#: The lookups as driver SQL (see ``driver_rows``), completed with a column and ``IN``.
_USERS_SQL = "SELECT id, email, external_id, is_active, deleted_at FROM users WHERE "
_COURSES_SQL = "SELECT id, slug, external_id, instructor_id FROM courses WHERE "
_EXISTING_SQL = "SELECT id, student_id, course_id, status FROM enrollments WHERE student_id IN"


class _Users:
    """Learners by e-mail and by external_id: (id, e-mail, active), known across chunks."""

    def __init__(self) -> None:
        self.by_email: dict[str, tuple[int, str, bool]] = {}
        self.by_ext: dict[str, tuple[int, str, bool]] = {}

    def load(self, session: Session, rows: Rows) -> None:
        if len(self.by_email) > KNOWN_MAX:
            self.by_email.clear()
            self.by_ext.clear()
        by_email, by_ext = self.by_email, self.by_ext
        emails = {v["user_email"] for _, v in rows if "user_email" in v} - by_email.keys()
        exts = {v["user_external_id"] for _, v in rows if "user_external_id" in v}
        exts -= by_ext.keys()
        for column, values in (("email", emails), ("external_id", exts)):
            for id_, email, ext, active, deleted in driver_rows(
                session, f"{_USERS_SQL}{column} IN", values
            ):
                entry = (id_, email, bool(active) and deleted is None)
                by_email[email] = entry
                if ext:
                    by_ext[ext] = entry


class _Courses:
    """Courses by slug and by external_id: (id, slug, instructor id), known across chunks."""

    def __init__(self) -> None:
        self.by_slug: dict[str, tuple[int, str, int]] = {}
        self.by_ext: dict[str, tuple[int, str, int]] = {}

    def load(self, session: Session, rows: Rows) -> None:
        if len(self.by_slug) > KNOWN_MAX:
            self.by_slug.clear()
            self.by_ext.clear()
        by_slug, by_ext = self.by_slug, self.by_ext
        slugs = {v["course_slug"] for _, v in rows if "course_slug" in v} - by_slug.keys()
        exts = {v["course_external_id"] for _, v in rows if "course_external_id" in v}
        exts -= by_ext.keys()
        for column, values in (("slug", slugs), ("external_id", exts)):
            for id_, slug, ext, instructor_id in driver_rows(
                session, f"{_COURSES_SQL}{column} IN", values
            ):
                by_slug[slug] = (id_, slug, instructor_id)
                if ext:
                    by_ext[ext] = (id_, slug, instructor_id)


def _known(ctx: Context) -> tuple[_Users, _Courses]:
    """This run's learners and courses found so far (kept on the context, per run)."""
    known = ctx.cache.get("enrollments")
    if known is None:
        known = ctx.cache["enrollments"] = (_Users(), _Courses())
    users, courses = known
    assert isinstance(users, _Users) and isinstance(courses, _Courses)
    return users, courses


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
        if not ctx.planned_active.get(email, True) and values.get("status") != _DROPPED:
            ctx.inactive_learners += 1  # kept (OneRoster): see below
        return None, email  # created or renamed by this run
    if found is None:
        ctx.problem(line, column, given, "no user with this value in the file or the database")
        return None
    active = ctx.planned_active.get(found[1], found[2])  # as this run leaves the user
    if not active and values.get("status") != _DROPPED:
        # Dropping a deactivated learner's enrollment is fine (a OneRoster delta does it
        # in the same run that deactivates them); enrolling them is not, but for OneRoster:
        # its enrollments come once, so a disabled user's are kept for when it is enabled.
        if not ctx.keep_inactive_learners:
            ctx.problem(line, column, given, f"{found[1]} is deactivated or deleted")
            return None
        ctx.inactive_learners += 1
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
    users, courses = _known(ctx)
    users.load(session, rows)
    courses.load(session, rows)
    resolved: list[
        tuple[int, dict[str, Any], tuple[int | None, str], tuple[int | None, str, int | None]]
    ] = []
    # Nothing planned earlier in the run (a plain enrollments file): a learner found active
    # and a course found are taken as _user and _course would take them, without the calls.
    fast = (
        not (ctx.planned_users or ctx.planned_user_ext or ctx.planned_courses or ctx.planned_active)
        and not ctx.planned_course_ext
    )
    by_email, by_user_ext = users.by_email, users.by_ext
    by_slug, by_course_ext = courses.by_slug, courses.by_ext
    user: tuple[int | None, str] | None
    course: tuple[int | None, str, int | None] | None
    for line, values in rows:
        if fast:
            ext = values.get("user_external_id")
            found = by_user_ext.get(ext) if ext else by_email.get(values.get("user_email") or "")
            ext = values.get("course_external_id")
            course = by_course_ext.get(ext) if ext else by_slug.get(values.get("course_slug") or "")
            if found is not None and found[2] and course is not None:
                user = (found[0], found[1])
            else:
                user, course = None, None
        else:
            user, course = None, None
        if user is None:
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
            if status != _ACTIVE:  # an active new enrollment has no stamps
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
    found: dict[tuple[int, int], dict[str, Any]] = {}
    # By student only: with a course_id IN list too, SQLite scanned the course index
    # (every enrollment of those courses) instead of the student index (measured).
    for id_, student_id, course_id, status in driver_rows(session, _EXISTING_SQL, student_ids):
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
