"""Plan chunks of courses rows (key: ``external_id``, else slug) and lessons rows
(key: course slug and lesson slug). Courses and lessons are never removed by an import."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.catalog.fields import COURSE, LESSON
from lms_core.errors import HintCode, hint
from lms_core.imports.context import Context
from lms_core.imports.plan.changes import CREATE, SKIP, UNCHANGED, UPDATE, Change
from lms_core.imports.resolve import FIELDS, chunks, lookup
from lms_core.models import Course, Lesson, Role, User

Rows = list[tuple[int, dict[str, Any]]]
_TEACHING = (Role.instructor.value, Role.admin.value)
#: What a new course or lesson gets for a cell left empty: the field specs' (the models') defaults.
_COURSE_DEFAULTS = COURSE.defaults()
_LESSON_DEFAULTS = LESSON.defaults()


def _diff(
    ctx: Context, entity: str, key: str, line: int, values: dict[str, Any], record: dict[str, Any]
) -> Change:
    changed = {f: values[f] for f in FIELDS[entity] if f in values and values[f] != record[f]}
    if not changed:
        return Change(entity, key, UNCHANGED, record["id"], None, None, line)
    before = {f: record[f] for f in changed}
    action = SKIP if ctx.mode == "add" else UPDATE
    return Change(entity, key, action, record["id"], before, changed, line)


def _instructors(session: Session, emails: list[str]) -> dict[str, tuple[int, str, bool]]:
    found: dict[str, tuple[int, str, bool]] = {}
    for batch in chunks(set(emails)):
        stmt = select(User.email, User.id, User.role, User.is_active, User.deleted_at).where(
            User.email.in_(batch)
        )
        for email, id_, role, active, deleted in session.execute(stmt):
            found[email] = (id_, role, bool(active) and deleted is None)
    return found


def plan_courses(session: Session, ctx: Context, rows: Rows) -> list[Change]:
    by_ext = {
        r["external_id"]: r
        for r in lookup(
            session,
            "course",
            Course.external_id,
            [v["external_id"] for _, v in rows if "external_id" in v],
        )
    }
    by_slug = {
        r["slug"]: r for r in lookup(session, "course", Course.slug, [v["slug"] for _, v in rows])
    }
    teachers = _instructors(session, [v["instructor_email"] for _, v in rows])
    out: list[Change] = []
    for line, values in rows:
        ext, slug = values.get("external_id"), values["slug"]
        key = ext or slug
        record = by_ext.get(ext) if ext else None
        if record is None:
            record = by_slug.get(slug)
            if record is not None and ext and record["external_id"] not in (None, ext):
                ctx.problem(
                    line,
                    "slug",
                    slug,
                    f"belongs to another course (external_id {record['external_id']})",
                )
                continue
        elif slug != record["slug"] and slug in by_slug and by_slug[slug]["id"] != record["id"]:
            ctx.problem(line, "slug", slug, "already belongs to another course")
            continue
        instructor_id = _instructor(ctx, line, values["instructor_email"], teachers)
        if instructor_id is False:
            continue
        ctx.planned_courses[slug] = record["id"] if record else None
        if ext:
            ctx.planned_course_ext[ext] = slug
        if values.get("is_published"):
            ctx.published[slug] = line
        if record is None:
            after = {f: values.get(f, _COURSE_DEFAULTS.get(f)) for f in FIELDS["course"]}
            action = SKIP if ctx.mode == "update" else CREATE
            change = Change("course", key, action, None, None, after, line)
        else:
            change = _diff(ctx, "course", key, line, values, record)
        if isinstance(instructor_id, int):
            change.refs["instructor_id"] = instructor_id
        out.append(change)
    return out


def _instructor(
    ctx: Context, line: int, email: str, teachers: dict[str, tuple[int, str, bool]]
) -> int | bool | None:
    """The instructor's id, None when the run creates them (dry run), False on a problem."""
    found = teachers.get(email)
    if found is None:
        role = ctx.planned_users.get(email)
        if role is None:
            ctx.problem(
                line,
                "instructor_email",
                email,
                "no user with this e-mail in the file or the database (import the instructor first)",
            )
            return False
        if role not in _TEACHING:
            ctx.problem(line, "instructor_email", email, f"is a {role}, not an instructor")
            return False
        return None
    id_, role, active = found
    if role not in _TEACHING or not active:
        state = "deactivated" if not active else f"a {role}"
        ctx.problem(line, "instructor_email", email, f"is {state}, not an active instructor")
        return False
    return id_


def check_published(session: Session, ctx: Context) -> None:
    """A published course needs a lesson (the courses service's rule): in the database or the file."""
    pending = {s: line for s, line in ctx.published.items() if s not in ctx.lesson_courses}
    with_lessons: set[str] = set()
    for batch in chunks(pending):
        stmt = (
            select(Course.slug)
            .join(Lesson, Lesson.course_id == Course.id)
            .where(Course.slug.in_(batch))
            .distinct()
        )
        with_lessons.update(session.scalars(stmt))
    for slug, line in sorted(pending.items(), key=lambda item: item[1]):
        if slug not in with_lessons:
            ctx.problem(
                line,
                "is_published",
                "true",
                f"course {slug} has no lessons: add its lessons (a lessons file or a lessons "
                "sheet) or set is_published to false",
                hint(HintCode.add_lessons_file),
            )


def plan_lessons(session: Session, ctx: Context, rows: Rows) -> list[Change]:
    slugs = {v["course_slug"] for _, v in rows}
    course_ids: dict[str, int] = {}
    for batch in chunks(slugs):
        stmt = select(Course.slug, Course.id).where(Course.slug.in_(batch))
        course_ids.update({slug: id_ for slug, id_ in session.execute(stmt)})
    existing = {
        (r["course_slug"], r["slug"]): r
        for r in lookup(session, "lesson", Lesson.course_id, course_ids.values())
    }
    unknown_next = [s for s in slugs if s not in ctx.lesson_next]
    for batch in chunks(unknown_next):
        stmt = (
            select(Course.slug, func.max(Lesson.order_index))
            .join(Lesson, Lesson.course_id == Course.id)
            .where(Course.slug.in_(batch))
            .group_by(Course.slug)
        )
        for slug, top in session.execute(stmt):
            ctx.lesson_next[slug] = (top or 0) + 1
    out: list[Change] = []
    for line, values in rows:
        course_slug, slug = values["course_slug"], values["slug"]
        key = f"{course_slug}/{slug}"
        if course_slug not in course_ids and course_slug not in ctx.planned_courses:
            ctx.problem(
                line,
                "course_slug",
                course_slug,
                "no course with this slug in the file or the database",
            )
            continue
        ctx.lesson_courses.add(course_slug)
        record = existing.get((course_slug, slug))
        if record is None:
            after: dict[str, Any] = {
                f: values.get(f, _LESSON_DEFAULTS.get(f)) for f in FIELDS["lesson"]
            }
            if after["order_index"] is None:
                after["order_index"] = ctx.lesson_next.get(course_slug, 1)
            ctx.lesson_next[course_slug] = max(
                ctx.lesson_next.get(course_slug, 1), after["order_index"] + 1
            )
            change = Change(
                "lesson", key, SKIP if ctx.mode == "update" else CREATE, None, None, after, line
            )
        else:
            change = _diff(ctx, "lesson", key, line, values, record)
        if course_slug in course_ids:
            change.refs["course_id"] = course_ids[course_slug]
        out.append(change)
    return out
