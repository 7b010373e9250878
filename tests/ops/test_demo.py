"""Demo data: an idempotent seeded school, and synthetic bulk data; both refused in production."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from lms_core.accounts import auth
from lms_core.actor import Actor
from lms_core.catalog import enrollments
from lms_core.certificates import registry
from lms_core.errors import Conflict
from lms_core.models import Course, Enrollment, Lesson, User
from lms_core.ops import demo
from lms_core.settings import Environment
from tests.helpers import audit_count, audit_log


@pytest.fixture
def seeder():
    return Actor.system("demo")


@pytest.fixture
def production(settings):
    return settings.model_copy(update={"environment": Environment.production})


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def seed(session, seeder, hasher, settings):
    return demo.seed(session, actor=seeder, hasher=hasher, settings=settings)


def test_seed_creates_the_demo_school(session, seeder, hasher, settings):
    report = seed(session, seeder, hasher, settings)
    assert report.unchanged == []
    assert "user admin@demo.example.org" in report.created
    assert "course demo-python-basics" in report.created
    assert "lesson demo-sql-essentials/joins" in report.created
    assert "enrollment student@demo.example.org in demo-sql-essentials" in report.created
    assert count(session, User) == 3
    assert count(session, Course, Course.is_published.is_(True)) == 2
    # 7 lessons, plus demo-python-basics' checkpoint quiz and homework assignment
    assert count(session, Lesson) == 9
    page = enrollments.list_enrollments(session, actor=seeder, email="student@demo.example.org")
    progress = {e.course.slug: e.progress_percentage for e in page.items}
    # python-basics: setup, variables, the passed checkpoint quiz, the graded homework (4 of 6)
    assert progress == {
        "demo-python-basics": Decimal("66.67"),
        "demo-sql-essentials": Decimal("100.00"),
    }
    (cert,) = registry.list_certificates(session, actor=seeder)
    assert (cert.status, cert.enrollment.course.slug) == ("valid", "demo-sql-essentials")
    assert f"certificate {cert.number}" in report.created


def test_seed_twice_creates_nothing_and_writes_no_audit_entry(session, seeder, hasher, settings):
    first = seed(session, seeder, hasher, settings)
    entries = audit_count(session)
    rows = (
        count(session, User),
        count(session, Course),
        count(session, Lesson),
        count(session, Enrollment),
    )
    second = seed(session, seeder, hasher, settings)
    assert second.created == []
    assert len(second.unchanged) == len([c for c in first.created if not c.startswith("lesson ")])
    assert audit_count(session) == entries
    assert (
        count(session, User),
        count(session, Course),
        count(session, Lesson),
        count(session, Enrollment),
    ) == rows


def test_seed_entries_name_the_seeder(session, seeder, hasher, settings):
    seed(session, seeder, hasher, settings)
    # The demo instructor grades the student's essay and homework; the seeder does the rest.
    assert {e.actor_label for e in audit_log(session)} == {
        "system:demo",
        "instructor@demo.example.org",
    }


def test_seed_has_a_quiz_of_every_type_and_a_graded_passed_attempt(
    session, seeder, hasher, settings
):
    from lms_core.models import Attempt, LessonProgress, Question, Quiz

    report = seed(session, seeder, hasher, settings)
    assert "quiz demo-python-basics/checkpoint" in report.created
    quiz = session.scalars(select(Quiz)).one()
    assert quiz.is_published and quiz.lesson.slug == "checkpoint"
    types = session.scalars(select(Question.question_type).where(Question.quiz_id == quiz.id))
    assert sorted(types) == sorted(
        [
            "multiple_choice",
            "multiple_response",
            "true_false",
            "short_answer",
            "numerical",
            "matching",
            "essay",
        ]
    )
    attempt = session.scalars(select(Attempt)).one()
    assert (attempt.status, attempt.score, attempt.passed) == ("graded", Decimal("100.00"), True)
    instructor = session.scalars(
        select(User).where(User.email == "instructor@demo.example.org")
    ).one()
    assert attempt.graded_by_id == instructor.id
    assert count(session, LessonProgress, LessonProgress.lesson_id == quiz.lesson_id) == 1


def test_seed_demo_assignment_is_idempotent(session, make, teacher, operator, settings):
    """The homework alone, in a course that is not the demo's: kept, not doubled, graded once."""
    from lms_core.models import Submission
    from lms_core.ops.demo_assignment import seed_demo_assignment

    course = make.course(instructor=teacher, lessons=1, published=True)
    student = make.user()
    make.enroll(student, course)
    kwargs = dict(
        course=course, instructor=teacher, student=student, actor=operator, settings=settings
    )
    a = seed_demo_assignment(session, **kwargs)
    entries = audit_count(session)
    again = seed_demo_assignment(session, **kwargs)
    assert again.id == a.id and audit_count(session) == entries
    subs = session.scalars(select(Submission).where(Submission.assignment_id == a.id)).all()
    assert len(subs) == 1 and subs[0].grade == Decimal("9.00")
    assert subs[0].grader_id == teacher.id


@pytest.mark.parametrize(("email", "password"), [(e, p) for e, _, _, p in demo.DEMO_USERS])
def test_demo_users_can_log_in_with_the_printed_passwords(
    session, seeder, hasher, settings, email, password
):
    seed(session, seeder, hasher, settings)
    assert auth.authenticate(
        session, email=email, password=password, hasher=hasher, settings=settings
    ).ok


def test_seed_is_refused_in_production(session, seeder, hasher, production):
    with pytest.raises(Conflict, match="refused in production") as err:
        seed(session, seeder, hasher, production)
    assert err.value.field == "environment"
    assert count(session, User) == 0


def generate(session, seeder, settings, **kwargs):
    return demo.generate(session, actor=seeder, settings=settings, **kwargs)


def test_generate_inserts_exactly_the_numbers_asked(session, seeder, settings):
    report = generate(
        session,
        seeder,
        settings,
        n_users=7,
        n_courses=3,
        n_enrollments=10,
        lessons_per_course=2,
        batch_size=4,
        seed_value=1,
    )
    synthetic = User.email.like(f"synthetic-{report.tag}-%")
    assert (
        report.users,
        report.instructors,
        report.courses,
        report.lessons,
        report.enrollments,
    ) == (7, 1, 3, 6, 10)
    assert count(session, User, synthetic, User.role == "student") == 7
    assert count(session, User, synthetic, User.role == "instructor") == 1
    assert count(session, User, synthetic, User.password_hash.is_not(None)) == 0
    course_ids = select(Course.id).where(Course.slug.like(f"synthetic-{report.tag}-%"))
    assert count(session, Course, Course.id.in_(course_ids)) == 3
    assert count(session, Lesson, Lesson.course_id.in_(course_ids)) == 6
    assert count(session, Enrollment, Enrollment.course_id.in_(course_ids)) == 10


def test_generate_lessons_are_ordered_and_courses_published(session, seeder, settings):
    report = generate(
        session, seeder, settings, n_users=2, n_courses=2, n_enrollments=1, lessons_per_course=3
    )
    course = session.scalars(
        select(Course).where(Course.slug == f"synthetic-{report.tag}-00001")
    ).one()
    assert course.is_published
    assert [(lesson.slug, lesson.order_index) for lesson in course.lessons] == [
        ("lesson-1", 1),
        ("lesson-2", 2),
        ("lesson-3", 3),
    ]


def test_generate_reports_progress_per_batch(session, seeder, settings):
    ticks = []
    generate(
        session,
        seeder,
        settings,
        n_users=5,
        n_courses=1,
        n_enrollments=3,
        lessons_per_course=1,
        batch_size=2,
        progress=lambda what, n: ticks.append((what, n)),
    )
    assert [n for what, n in ticks if what == "users"] == [2, 2, 1]
    assert sum(n for what, n in ticks if what == "enrollments") == 3


def test_generate_is_audited_once(session, seeder, settings):
    before = audit_count(session)
    report = generate(session, seeder, settings, n_users=3, n_courses=1, n_enrollments=2)
    assert audit_count(session) == before + 1
    [entry] = audit_log(session, "demo.generate")
    assert (entry.entity_type, entry.entity_id, entry.actor_label) == ("demo", None, "system:demo")
    assert entry.after["tag"] == report.tag
    assert entry.after["users"] == 3


def test_generate_twice_does_not_collide(session, seeder, settings):
    a = generate(session, seeder, settings, n_users=2, n_courses=1, n_enrollments=2)
    b = generate(session, seeder, settings, n_users=2, n_courses=1, n_enrollments=2)
    assert a.tag != b.tag
    assert count(session, User, User.email.like("synthetic-%")) == 6


def test_generate_refuses_more_enrollments_than_pairs(session, seeder, settings):
    with pytest.raises(Conflict, match="cannot make 7 distinct enrollments") as err:
        generate(session, seeder, settings, n_users=2, n_courses=3, n_enrollments=7)
    assert err.value.field == "enrollments"
    assert count(session, User) == 0


def test_generate_is_refused_in_production(session, seeder, production):
    with pytest.raises(Conflict, match="refused in production"):
        generate(session, seeder, production, n_users=1, n_courses=1, n_enrollments=1)
