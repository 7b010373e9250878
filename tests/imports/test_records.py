"""Every kind of problem in an import file, by file, line and column, and nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lms_core.models import ImportRun
from tests.cli.helpers import count, db_state
from tests.imports.importing import Importer, messages, problems


@pytest.fixture
def imp(session_factory: Any, settings: Any, operator: Any, tmp_path: Path) -> Importer:
    return Importer(session_factory, settings, operator, tmp_path)


def _refused_unchanged(session: Session, imp: Importer, entity: str, path: Path, **kw: Any):
    before = db_state(session)
    runs = count(session, ImportRun)
    report = imp(entity, path, **kw)
    assert report.refused, "expected problems"
    after = db_state(session)
    # Only the refused run's ledger row is new; every other table is exactly as before.
    assert count(session, ImportRun) == runs + 1
    after.pop("import_runs")
    before.pop("import_runs")
    assert after == before
    return report


def test_every_users_cell_problem_named_by_line_and_column(session: Session, imp: Importer) -> None:
    path = imp.file(
        "staff.csv",
        """
external_id,email,full_name,role,is_active
1.23E+05,ok1@x.org,Ada,student,yes
002,not-an-email,Bo,student,
003,cy@x.org,,teacher,maybe
004,dee\u00a0@x.org,ZoÃ© Dee,student,1
004,ed@x.org,Ed,student,0
005,ok1@x.org,Fay,student,true
006,trailing@x.org ,Gus,student,false
""",
    )
    report = _refused_unchanged(session, imp, "users", path)

    assert problems(report) == [
        ("staff.csv", 2, "external_id", "1.23E+05"),
        ("staff.csv", 3, "email", "not-an-email"),
        ("staff.csv", 4, "full_name", ""),
        ("staff.csv", 4, "role", "teacher"),
        ("staff.csv", 4, "is_active", "maybe"),
        ("staff.csv", 5, "email", "dee\u00a0@x.org"),
        ("staff.csv", 5, "full_name", "ZoÃ© Dee"),
        ("staff.csv", 6, "external_id", "004"),
        ("staff.csv", 7, "email", "ok1@x.org"),
        # line 8: spaces around an address are removed, as by `users create`
    ]
    text = messages(report)
    assert "scientific notation" in text
    assert "must be one of admin, instructor, student" in text
    assert "non-breaking space" in text
    assert "lines 5 and 6" in text and "lines 2 and 7" in text
    assert report.run_id is None


def test_problems_use_the_users_own_column_names(session: Session, imp: Importer) -> None:
    path = imp.file("s.csv", "External ID,Email,Full Name,Role\n1,bad,,Student\n")
    report = _refused_unchanged(session, imp, "users", path)
    assert problems(report) == [("s.csv", 2, "Email", "bad"), ("s.csv", 2, "Full Name", "")]


def test_weak_password_is_a_problem_without_showing_it(session: Session, imp: Importer) -> None:
    path = imp.file("p.csv", "email,full_name,role,password\nann@x.org,Ann,student,short\n")
    report = _refused_unchanged(session, imp, "users", path)
    assert problems(report) == [("p.csv", 2, "password", "(hidden)")]
    assert "short" not in messages(report)


def test_references_to_unknown_users_and_courses(
    session: Session, imp: Importer, make: Any
) -> None:
    learner = make.user("student", email="known@x.org")
    course = make.course(slug="known-course", lessons=1, published=True)
    assert learner and course
    path = imp.file(
        "enr.csv",
        """
user_email,course_slug,status
known@x.org,known-course,active
ghost@x.org,known-course,
known@x.org,no-such-course,
known@x.org,known-course,paused
""",
    )
    report = _refused_unchanged(session, imp, "enrollments", path)
    assert problems(report) == [
        ("enr.csv", 5, "status", "paused"),
        ("enr.csv", 3, "user_email", "ghost@x.org"),
        ("enr.csv", 4, "course_slug", "no-such-course"),
    ]
    assert "in the file or the database" in messages(report)


def test_enrollment_rows_need_a_user_and_a_course(session: Session, imp: Importer) -> None:
    path = imp.file("e.csv", "user_email,course_slug\n,intro\nann@x.org,\n")
    report = _refused_unchanged(session, imp, "enrollments", path)
    assert problems(report) == [("e.csv", 2, "user_email", ""), ("e.csv", 3, "course_slug", "")]


def test_courses_and_lessons_problems(session: Session, imp: Importer, make: Any) -> None:
    make.user("instructor", email="teach@x.org")
    make.user("student", email="pupil@x.org")
    courses = imp.file(
        "courses.csv",
        """
slug,title,instructor_email,difficulty_level,estimated_duration_minutes,is_published
intro,Intro,teach@x.org,expert,-5,true
Bad Slug,Title,teach@x.org,,,
other,Other,pupil@x.org,,,
third,Third,nobody@x.org,,,
intro,Dup,teach@x.org,,,
""",
    )
    lessons = imp.file(
        "lessons.csv",
        """
course_slug,slug,title,lesson_type,order_index,is_preview
intro,one,One,podcast,0,
intro,one,Again,,,
missing,two,Two,,,sometimes
""",
    )
    report = _refused_unchanged(session, imp, "courses", courses, lessons=lessons)
    assert problems(report) == [
        ("courses.csv", 2, "difficulty_level", "expert"),
        ("courses.csv", 2, "estimated_duration_minutes", "-5"),
        ("courses.csv", 3, "slug", "Bad Slug"),
        ("courses.csv", 6, "slug", "intro"),
        ("courses.csv", 4, "instructor_email", "pupil@x.org"),
        ("courses.csv", 5, "instructor_email", "nobody@x.org"),
        ("lessons.csv", 2, "lesson_type", "podcast"),
        ("lessons.csv", 2, "order_index", "0"),
        ("lessons.csv", 3, "slug", "intro/one"),
        ("lessons.csv", 4, "is_preview", "sometimes"),
    ]


def test_published_course_without_lessons_is_refused(
    session: Session, imp: Importer, make: Any
) -> None:
    make.user("instructor", email="teach@x.org")
    path = imp.file(
        "c.csv", "slug,title,instructor_email,is_published\nempty,Empty,teach@x.org,yes\n"
    )
    report = _refused_unchanged(session, imp, "courses", path)
    assert problems(report) == [("c.csv", 2, "is_published", "true")]
    assert "no lessons" in messages(report)


def test_missing_required_column_names_file_and_column(session: Session, imp: Importer) -> None:
    path = imp.file("u.csv", "email,full_name\nann@x.org,Ann\n")
    report = _refused_unchanged(session, imp, "users", path)
    assert [(e.file, e.column) for e in report.errors] == [("u.csv", "role")]


def test_conflicting_keys_with_the_database(session: Session, imp: Importer, make: Any) -> None:
    make.user("student", email="taken@x.org", external_id="S-1")
    path = imp.file("u.csv", "external_id,email,full_name,role\nS-2,taken@x.org,Other,student\n")
    report = _refused_unchanged(session, imp, "users", path)
    assert problems(report) == [("u.csv", 2, "email", "taken@x.org")]
    assert "external_id S-1" in messages(report)


def test_import_needs_an_administrator(session: Session, imp: Importer, make: Any) -> None:
    from lms_core.actor import Actor
    from lms_core.errors import PermissionDenied

    teacher = make.user("instructor")
    path = imp.file("u.csv", "email,full_name,role\nann@x.org,Ann,student\n")
    before = db_state(session)
    with pytest.raises(PermissionDenied):
        imp("users", path, actor=Actor.for_user(teacher))
    assert db_state(session) == before
