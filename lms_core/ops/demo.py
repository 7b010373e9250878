"""Demo data: a small seeded school (idempotent), and synthetic data at scale for benchmarks."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from lms_core.accounts import audit, users
from lms_core.accounts.fields import UserCreate
from lms_core.actor import Actor
from lms_core.catalog import courses, enrollments, lessons
from lms_core.catalog.fields import CourseCreate, LessonCreate
from lms_core.errors import Conflict
from lms_core.models import Course, Enrollment, Lesson, Role, User
from lms_core.permissions import require_admin
from lms_core.security import PasswordHasher
from lms_core.settings import Environment, Settings

#: The course whose demo certificate the seed issues (``lmsctl demo seed`` holds its lock).
DEMO_CERTIFICATE_COURSE = "demo-sql-essentials"
#: Printed by ``lmsctl demo seed`` and in the README; demo data never runs in production.
DEMO_USERS = (
    ("admin@demo.example.org", "Ada Admin", Role.admin, "Demo-Ops-2026!"),
    ("instructor@demo.example.org", "Ivan Instructor", Role.instructor, "Demo-Teach-2026!"),
    ("student@demo.example.org", "Sam Student", Role.student, "Demo-Learn-2026!"),
)
DEMO_COURSES = {
    "demo-python-basics": {
        "title": "Python Basics",
        "category": "programming",
        "difficulty_level": "beginner",
        "estimated_duration_minutes": 180,
        "description": "Variables, control flow and functions, with small exercises.",
        "lessons": [
            ("setup", "Setting up Python", "video", 10),
            ("variables", "Variables and types", "text", 20),
            ("control-flow", "If, for and while", "text", 25),
            ("functions", "Functions", "text", 30),
            ("checkpoint", "Checkpoint quiz", "quiz", 15),
        ],
        # The checkpoint quiz lesson is completed by passing it (see demo_quiz).
        "completed": ["setup", "variables"],
    },
    "demo-sql-essentials": {
        "title": "SQL Essentials",
        "category": "databases",
        "difficulty_level": "intermediate",
        "estimated_duration_minutes": 120,
        "description": "SELECT, JOIN and GROUP BY on a small school database.",
        "lessons": [
            ("select", "SELECT and WHERE", "text", 20),
            ("joins", "Joining tables", "text", 25),
            ("grouping", "GROUP BY and aggregates", "text", 25),
        ],
        # Completed, with the student's certificate issued by the seed.
        "completed": ["select", "joins", "grouping"],
    },
}


#: The demo student's SQL Essentials certificate (fixed, so that the README can name it).
DEMO_CERTIFICATE_NUMBER = "LMS-DEM0-0001-3"


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def note(self, what: str, created: bool) -> None:
        (self.created if created else self.unchanged).append(what)


def refuse_in_production(settings: Settings) -> None:
    if settings.environment is Environment.production:
        raise Conflict(
            "demo data is refused in production",
            field="environment",
            value=settings.environment.value,
        )


def seed(
    session: Session, *, actor: Actor, hasher: PasswordHasher, settings: Settings
) -> SeedReport:
    """Create the demo school; running it again changes nothing. Administrators only."""
    require_admin(actor, "seed demo data")
    refuse_in_production(settings)
    report = SeedReport()
    for email, name, role, password in DEMO_USERS:
        if users.find_user(session, email) is None:
            users.create_user(
                session,
                actor=actor,
                data=UserCreate(email=email, full_name=name, role=role.value),
                password=password,
                hasher=hasher,
            )
            report.note(f"user {email}", True)
        else:
            report.note(f"user {email}", False)
    student = DEMO_USERS[2][0]
    for slug, spec in DEMO_COURSES.items():
        exists = session.scalars(select(Course).where(Course.slug == slug)).first()
        if exists is None:
            courses.create_course(
                session,
                actor=actor,
                data=CourseCreate(
                    slug=slug,
                    title=str(spec["title"]),
                    instructor_email=DEMO_USERS[1][0],
                    description=str(spec["description"]),
                    category=str(spec["category"]),
                    difficulty_level=str(spec["difficulty_level"]),
                    estimated_duration_minutes=int(spec["estimated_duration_minutes"]),  # type: ignore[call-overload]
                ),
            )
        report.note(f"course {slug}", exists is None)
        course = courses.get_course(session, slug)
        have = {lesson.slug for lesson in course.lessons}
        for lesson_slug, title, kind, minutes in spec["lessons"]:  # type: ignore[attr-defined]
            if lesson_slug not in have:
                lessons.add_lesson(
                    session,
                    actor=actor,
                    course_slug=slug,
                    data=LessonCreate(
                        slug=lesson_slug,
                        title=title,
                        lesson_type=kind,
                        duration_minutes=minutes,
                        content=f"Demo content for {title}.",
                        is_preview=lesson_slug == "setup",
                    ),
                )
                report.note(f"lesson {slug}/{lesson_slug}", True)
        if not course.is_published:
            courses.publish_course(session, actor=actor, slug=slug)
        result = enrollments.enroll(session, actor=actor, email=student, course_slug=slug)
        report.note(f"enrollment {student} in {slug}", result.outcome == "created")
        for lesson_slug in spec["completed"]:  # type: ignore[attr-defined]
            _, _ = enrollments.complete_lesson(
                session, actor=actor, email=student, course_slug=slug, lesson_slug=lesson_slug
            )
    _issue_demo_certificate(session, actor=actor, settings=settings, report=report)
    _seed_assessments(session, actor=actor, settings=settings, report=report)
    return report


def _seed_assessments(
    session: Session, *, actor: Actor, settings: Settings, report: SeedReport
) -> None:
    """demo-python-basics: the checkpoint quiz with the student's graded attempt, and homework."""
    from lms_core.ops.demo_quiz import seed_demo_quiz

    instructor, student = DEMO_USERS[1][0], DEMO_USERS[2][0]
    for what, created in seed_demo_quiz(
        session, actor=actor, instructor_email=instructor, student_email=student
    ):
        report.note(what, created)
    from lms_core.ops.demo_assignment import seed_demo_assignment

    course = courses.get_course(session, "demo-python-basics")
    before = session.scalar(select(func.count()).select_from(Lesson))
    seed_demo_assignment(
        session,
        course=course,
        instructor=users.get_user(session, instructor),
        student=users.get_user(session, student),
        actor=actor,
        settings=settings,
    )
    created = session.scalar(select(func.count()).select_from(Lesson)) != before
    report.note("assignment demo-python-basics/homework", created)


def _issue_demo_certificate(
    session: Session, *, actor: Actor, settings: Settings, report: SeedReport
) -> None:
    """The student completed demo-sql-essentials: give them its certificate, once, numbered
    ``DEMO_CERTIFICATE_NUMBER`` (the README's examples use it) unless that is taken."""
    from lms_core.certificates.issue import default_renderer, issue_one, unused_number
    from lms_core.certificates.registry import eligibility

    for row in eligibility(session, actor=actor, course_slug=DEMO_CERTIFICATE_COURSE):
        if row.enrollment.student.email != DEMO_USERS[2][0] or not row.eligible:
            continue
        if row.certificate is None:
            cert = issue_one(
                session,
                actor=actor,
                enrollment=row.enrollment,
                settings=settings,
                renderer=default_renderer(settings),
                number=unused_number(session, DEMO_CERTIFICATE_NUMBER),
            )
            report.note(f"certificate {cert.number}", True)
        else:
            report.note(f"certificate {row.certificate}", False)


@dataclass
class GenerateReport:
    tag: str
    users: int
    instructors: int
    courses: int
    lessons: int
    enrollments: int


def plan_generate(
    settings: Settings,
    *,
    actor: Actor,
    n_users: int,
    n_courses: int,
    n_enrollments: int,
    lessons_per_course: int = 5,
) -> GenerateReport:
    """What :func:`generate` would insert (for ``--dry-run``), refusing impossible requests."""
    require_admin(actor, "generate demo data")
    refuse_in_production(settings)
    if n_enrollments > n_users * n_courses:
        raise Conflict(
            f"cannot make {n_enrollments} distinct enrollments from {n_users} users "
            f"and {n_courses} courses",
            field="enrollments",
            value=n_enrollments,
        )
    instructors = max(1, n_courses // 20) if n_courses else 0
    return GenerateReport(
        "(dry run)", n_users, instructors, n_courses, n_courses * lessons_per_course, n_enrollments
    )


def generate(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    n_users: int,
    n_courses: int,
    n_enrollments: int,
    lessons_per_course: int = 5,
    batch_size: int = 5000,
    progress: Callable[[str, int], None] | None = None,
    seed_value: int | None = None,
) -> GenerateReport:
    """Bulk-insert synthetic learners, courses, lessons and enrollments.

    Core ``INSERT ... RETURNING`` in batches, not one ORM object at a time; synthetic users
    get no password (nothing to hash, nobody can log in as them). A service, not a run: the
    batches share the caller's one transaction, so an interrupted generate leaves nothing.
    """
    plan = plan_generate(
        settings,
        actor=actor,
        n_users=n_users,
        n_courses=n_courses,
        n_enrollments=n_enrollments,
        lessons_per_course=lessons_per_course,
    )
    rng = random.Random(seed_value)  # noqa: S311 - synthetic data, not security
    tag = secrets.token_hex(3)
    tick = progress or (lambda _what, _n: None)
    # Timestamps come from the database (server defaults, CURRENT_TIMESTAMP): binding the
    # same Python datetime per row was ~40% of the insert time on SQLite (bench/demo_generate.py).
    stamped = {"created_at": func.current_timestamp(), "updated_at": func.current_timestamp()}

    def insert_all(
        model: Any,
        rows: list[dict[str, object]],
        what: str,
        *,
        want_ids: bool = False,
        **values: Any,
    ) -> list[int]:
        """Core inserts in batches (not the ORM's per-row bookkeeping); ids only when needed."""
        table = model.__table__
        stmt = insert(table).values(**stamped, **values)
        ids: list[int] = []
        for i in range(0, len(rows), batch_size):
            chunk = rows[i : i + batch_size]
            if want_ids:
                ids.extend(session.scalars(stmt.returning(table.c.id), chunk))
            else:
                session.execute(stmt, chunk)
            tick(what, len(chunk))
        return ids

    n_instructors = plan.instructors
    user_defaults = {"is_active": True, "failed_login_attempts": 0}
    instructor_ids = insert_all(
        User,
        [
            {
                "email": f"synthetic-{tag}-teacher-{i:05d}@example.invalid",
                "full_name": f"Synthetic Teacher {i}",
                "role": Role.instructor.value,
            }
            for i in range(n_instructors)
        ],
        "instructors",
        want_ids=True,
        **user_defaults,
    )
    student_ids = insert_all(
        User,
        [
            {
                "email": f"synthetic-{tag}-{i:07d}@example.invalid",
                "full_name": f"Synthetic Learner {i}",
            }
            for i in range(n_users)
        ],
        "users",
        want_ids=True,
        role=Role.student.value,
        **user_defaults,
    )
    course_ids = insert_all(
        Course,
        [
            {
                "slug": f"synthetic-{tag}-{i:05d}",
                "title": f"Synthetic Course {i}",
                "instructor_id": instructor_ids[i % n_instructors],
            }
            for i in range(n_courses)
        ],
        "courses",
        want_ids=True,
        difficulty_level="beginner",
        is_published=True,
    )
    lesson_rows = [
        {
            "course_id": cid,
            "slug": f"lesson-{j + 1}",
            "title": f"Lesson {j + 1}",
            "order_index": j + 1,
        }
        for cid in course_ids
        for j in range(lessons_per_course)
    ]
    insert_all(
        Lesson, lesson_rows, "lessons", lesson_type="text", is_preview=False, is_required=True
    )
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < n_enrollments:
        pairs.add((rng.choice(student_ids), rng.choice(course_ids)))
    # Sorted, so each insert lands next to the previous one in the unique and foreign-key indexes.
    insert_all(
        Enrollment,
        [{"student_id": s, "course_id": c} for s, c in sorted(pairs)],
        "enrollments",
        status="active",
        progress_percentage=0,
        enrolled_at=func.current_timestamp(),
    )
    report = GenerateReport(tag, n_users, n_instructors, n_courses, len(lesson_rows), n_enrollments)
    audit.record(session, actor, "demo.generate", _Marker(), after=report.__dict__)
    return report


class _Marker:
    """Lets the audit log name the generate run as its entity."""

    __tablename__ = "demo"
    id = None
