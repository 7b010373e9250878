"""lmsctl courses: create, list, show, update, publish, unpublish, delete."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import Course, Enrollment, Lesson
from tests.cli.helpers import audit_count, count, ok, ok_json, refused, refused_json, usage_error

COURSE_KEYS = {
    "slug",
    "title",
    "instructor_email",
    "category",
    "difficulty_level",
    "is_published",
    "description",
    "thumbnail_url",
    "estimated_duration_minutes",
    "external_id",
}


def fresh(session: Session, slug: str) -> Course:
    session.expire_all()
    return session.scalars(select(Course).where(Course.slug == slug)).one()


# --- create -------------------------------------------------------------------------------------


def test_create_for_an_instructor(cli, make, session):
    teacher = make.user("instructor")

    result = ok(
        cli(
            "courses",
            "create",
            "intro-to-python",
            "--title",
            "Intro to Python",
            "--instructor",
            teacher.email,
        )
    )

    assert result.stdout.strip() == "created course intro-to-python (unpublished)"
    course = fresh(session, "intro-to-python")
    assert (course.title, course.instructor_id, course.is_published) == (
        "Intro to Python",
        teacher.id,
        False,
    )
    assert audit_count(session, "course.create") == 1


def test_create_json_with_every_field(cli, make):
    teacher = make.user("instructor")

    data = ok_json(
        cli(
            "courses",
            "create",
            "sql-101",
            "--title",
            "SQL",
            "--instructor",
            teacher.email,
            "--description",
            "Tables",
            "--category",
            "databases",
            "--difficulty",
            "Advanced",
            "--thumbnail-url",
            "https://img.example.org/sql.png",
            "--duration",
            "90",
            "--external-id",
            "SIS-C1",
            "--json",
        )
    )

    assert set(data) >= COURSE_KEYS
    assert data["instructor_email"] == teacher.email
    assert (data["difficulty_level"], data["estimated_duration_minutes"], data["is_published"]) == (
        "advanced",
        90,
        False,
    )
    assert data["external_id"] == "SIS-C1"


def test_an_instructor_creates_their_own_course_with_as(cli, make):
    teacher = make.user("instructor")

    data = ok_json(cli("courses", "create", "mine", "--title", "Mine", "--json", as_=teacher.email))

    assert data["instructor_email"] == teacher.email


def test_create_without_an_instructor_as_operator_is_refused(cli, unchanged):
    with unchanged():
        result = cli("courses", "create", "orphan", "--title", "Orphan")
    refused(result, "instructor_email", contains="required")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["Bad Slug!", "--title", "T"], "slug"),
        (["ok-slug", "--title", "  "], "title"),
        (["ok-slug", "--title", "T", "--difficulty", "expert"], "difficulty_level"),
        (["ok-slug", "--title", "T", "--thumbnail-url", "javascript:alert(1)"], "thumbnail_url"),
    ],
)
def test_create_bad_values_are_refused(cli, make, unchanged, args, field):
    teacher = make.user("instructor")

    with unchanged():
        result = cli("courses", "create", *args, "--instructor", teacher.email)
    refused(result, field)
    with unchanged():
        result = cli("courses", "create", *args, "--instructor", teacher.email, "--json")
    refused_json(result, field)


def test_create_negative_duration_is_a_usage_error(cli, make, unchanged):
    teacher = make.user("instructor")

    with unchanged():
        result = cli(
            "courses",
            "create",
            "c",
            "--title",
            "T",
            "--instructor",
            teacher.email,
            "--duration",
            "-5",
        )
    usage_error(result, "--duration")


def test_create_duplicate_slug_is_refused(cli, make, unchanged):
    course = make.course()

    with unchanged():
        result = cli(
            "courses",
            "create",
            course.slug,
            "--title",
            "Again",
            "--instructor",
            course.instructor.email,
        )
    refused(result, "slug", contains="already exists")


def test_create_taken_external_id_is_refused(cli, make, unchanged):
    course = make.course(external_id="SIS-C1")

    with unchanged():
        result = cli(
            "courses",
            "create",
            "other",
            "--title",
            "Other",
            "--instructor",
            course.instructor.email,
            "--external-id",
            "SIS-C1",
            "--json",
        )
    refused_json(result, "external_id", contains=course.slug)


@pytest.mark.parametrize("who", ["student", "nobody"])
def test_create_with_an_instructor_who_cannot_teach_is_refused(cli, make, unchanged, who):
    email = make.user("student").email if who == "student" else "ghost@example.org"

    with unchanged():
        result = cli("courses", "create", "c", "--title", "T", "--instructor", email)
    refused(result, "instructor_email" if who == "student" else "email")


def test_create_as_a_student_is_refused(cli, make, unchanged):
    student = make.user("student")

    with unchanged():
        result = cli("courses", "create", "c", "--title", "T", as_=student.email)
    refused(result, None, contains="students cannot create courses")


def test_an_instructor_cannot_create_a_course_for_another(cli, make, unchanged):
    me, other = make.user("instructor"), make.user("instructor")

    with unchanged():
        result = cli(
            "courses", "create", "c", "--title", "T", "--instructor", other.email, as_=me.email
        )
    refused(result, None, contains="only create courses they teach")


def test_create_without_title_is_a_usage_error(cli):
    usage_error(cli("courses", "create", "c"), "--title")


# --- list ---------------------------------------------------------------------------------------


def test_list_json_is_an_array_of_courses_keyed_by_column(cli, make):
    teacher = make.user("instructor")
    make.course(slug="zeta", instructor=teacher, category="databases")
    make.course(slug="alpha", instructor=teacher, lessons=1, published=True)

    data = ok_json(cli("courses", "list", "--json"))

    assert [row["slug"] for row in data] == ["alpha", "zeta"]
    for row in data:
        assert set(row) >= COURSE_KEYS
        assert row["instructor_email"] == teacher.email
    assert [row["is_published"] for row in data] == [True, False]


def test_list_table(cli, make):
    make.course(slug="alpha", lessons=1, published=True)

    done = ok(cli("courses", "list"))

    for column in ("slug", "title", "instructor_email", "is_published"):
        assert column in done.stdout
    assert "alpha" in done.stdout and done.stderr == "1 course(s)\n"


def test_list_filters(cli, make):
    teacher = make.user("instructor")
    make.course(
        slug="py-basics", instructor=teacher, lessons=1, published=True, category="programming"
    )
    make.course(slug="py-draft", category="programming")
    make.course(slug="sql-basics", instructor=teacher, category="databases")

    def slugs(*args):
        data = ok_json(cli("courses", "list", "--json", *args))
        return [row["slug"] for row in (data["items"] if "--page" in args else data)]

    assert slugs("--published") == ["py-basics"]
    assert slugs("--unpublished") == ["py-draft", "sql-basics"]
    assert slugs("--search", "PY-") == ["py-basics", "py-draft"]
    assert slugs("--instructor", teacher.email) == ["py-basics", "sql-basics"]
    assert slugs("--category", "databases") == ["sql-basics"]
    assert slugs("--per-page", "1", "--page", "3") == ["sql-basics"]


def test_list_shows_each_actor_what_they_may_see(cli, make):
    teacher = make.user("instructor")
    student = make.user("student")
    make.course(slug="public", lessons=1, published=True)
    make.course(slug="teachers-draft", instructor=teacher)
    make.course(slug="someone-elses-draft")

    def slugs(actor):
        return [row["slug"] for row in ok_json(cli("courses", "list", "--json", as_=actor))]

    assert slugs(student.email) == ["public"]
    assert slugs(teacher.email) == ["public", "teachers-draft"]
    assert slugs(None) == ["public", "someone-elses-draft", "teachers-draft"]


def test_list_by_an_unknown_instructor_is_refused(cli):
    refused(
        cli("courses", "list", "--instructor", "ghost@example.org"), "email", contains="no user"
    )
    refused_json(cli("courses", "list", "--instructor", "ghost@example.org", "--json"), "email")


# --- show ---------------------------------------------------------------------------------------


def test_show_json_counts_lessons_and_enrollments(cli, make):
    course = make.course(lessons=3, published=True)
    make.enroll(course=course)

    data = ok_json(cli("courses", "show", course.slug, "--json"))

    assert data["slug"] == course.slug
    assert (data["lessons"], data["enrollments"]) == (3, 1)
    assert set(data) >= COURSE_KEYS


def test_show_table(cli, make):
    course = make.course(lessons=1)

    out = ok(cli("courses", "show", course.slug)).stdout

    assert "instructor_email" in out and course.instructor.email in out


def test_show_unknown_course_exits_1(cli):
    refused(cli("courses", "show", "nope"), "course_slug", contains="no course with slug nope")
    assert refused_json(cli("courses", "show", "nope", "--json"), "course_slug")["value"] == "nope"


def test_show_unpublished_course_only_to_its_managers(cli, make):
    course = make.course()
    student = make.user("student")

    ok(cli("courses", "show", course.slug, as_=course.instructor.email))
    refused(cli("courses", "show", course.slug, as_=student.email), None, contains="unpublished")


# --- update -------------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields(cli, make, session):
    course = make.course(category="programming")

    data = ok_json(
        cli(
            "courses",
            "update",
            course.slug,
            "--title",
            "New title",
            "--difficulty",
            "intermediate",
            "--duration",
            "240",
            "--json",
        )
    )

    assert (data["title"], data["difficulty_level"], data["estimated_duration_minutes"]) == (
        "New title",
        "intermediate",
        240,
    )
    assert fresh(session, course.slug).category == "programming"
    assert audit_count(session, "course.update") == 1


def test_update_slug_and_instructor(cli, make, session):
    course = make.course()
    other = make.user("instructor")

    result = ok(
        cli("courses", "update", course.slug, "--slug", "renamed", "--instructor", other.email)
    )

    assert result.stdout.strip() == "updated course renamed"
    assert fresh(session, "renamed").instructor_id == other.id


def test_an_instructor_updates_their_own_course(cli, make, session):
    course = make.course()

    ok(cli("courses", "update", course.slug, "--title", "Mine", as_=course.instructor.email))

    assert fresh(session, course.slug).title == "Mine"


def test_an_instructor_cannot_update_someone_elses_course(cli, make, unchanged, session):
    course = make.course()
    intruder = make.user("instructor")

    with unchanged():
        result = cli("courses", "update", course.slug, "--title", "Hijacked", as_=intruder.email)
    refused(result, "as", contains=f"acting as {intruder.email}")
    with unchanged():
        result = cli(
            "courses", "update", course.slug, "--title", "Hijacked", "--json", as_=intruder.email
        )
    refused_json(result, "as", contains="only the course's instructor")
    assert fresh(session, course.slug).title != "Hijacked"


def test_an_instructor_cannot_hand_their_course_to_another(cli, make, unchanged):
    course = make.course()
    other = make.user("instructor")

    with unchanged():
        result = cli(
            "courses",
            "update",
            course.slug,
            "--instructor",
            other.email,
            as_=course.instructor.email,
        )
    refused(result, None, contains="only an administrator may change")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ([], "fields"),
        (["--slug", "Not A Slug"], "slug"),
        (["--difficulty", "expert"], "difficulty_level"),
        (["--title", " "], "title"),
    ],
)
def test_update_bad_values_are_refused(cli, make, unchanged, args, field):
    course = make.course()

    with unchanged():
        result = cli("courses", "update", course.slug, *args)
    refused(result, field)


def test_update_to_a_taken_slug_is_refused(cli, make, unchanged):
    course, other = make.course(), make.course()

    with unchanged():
        result = cli("courses", "update", course.slug, "--slug", other.slug)
    refused(result, "slug", contains="already exists")


def test_update_unknown_course_is_refused(cli, unchanged):
    with unchanged():
        result = cli("courses", "update", "nope", "--title", "T", "--json")
    refused_json(result, "course_slug")


# --- publish, unpublish -------------------------------------------------------------------------


def test_publish_and_unpublish(cli, make, session):
    course = make.course(lessons=1)

    assert (
        ok(cli("courses", "publish", course.slug)).stdout.strip()
        == f"published course {course.slug}"
    )
    assert fresh(session, course.slug).is_published is True
    data = ok_json(cli("courses", "unpublish", course.slug, "--json"))
    assert data["is_published"] is False
    assert fresh(session, course.slug).is_published is False
    assert ok_json(cli("courses", "publish", course.slug, "--json"))["is_published"] is True
    assert audit_count(session, "course.publish") == 2


def test_publishing_an_empty_course_is_refused(cli, make, unchanged, session):
    course = make.course(lessons=0)

    with unchanged():
        result = cli("courses", "publish", course.slug)
    refused(result, "course_slug", contains="no lessons")
    with unchanged():
        result = cli("courses", "publish", course.slug, "--json")
    assert refused_json(result, "course_slug", contains="no lessons")["value"] == course.slug
    assert fresh(session, course.slug).is_published is False


@pytest.mark.parametrize("action", ["publish", "unpublish"])
def test_publish_unknown_course_is_refused(cli, unchanged, action):
    with unchanged():
        result = cli("courses", action, "nope")
    refused(result, "course_slug")


@pytest.mark.parametrize("action", ["publish", "unpublish"])
def test_publish_someone_elses_course_is_refused(cli, make, unchanged, action):
    course = make.course(lessons=1)
    intruder = make.user("instructor")

    with unchanged():
        result = cli("courses", action, course.slug, as_=intruder.email)
    refused(result, None, contains=f"{action} this course")


# --- delete -------------------------------------------------------------------------------------


def test_delete_a_course_without_enrollments_takes_its_lessons(cli, make, session):
    course = make.course(lessons=2)

    result = ok(cli("courses", "delete", course.slug))

    assert result.stdout.strip() == f"deleted course {course.slug}"
    assert count(session, Course, Course.id == course.id) == 0
    assert count(session, Lesson, Lesson.course_id == course.id) == 0
    assert audit_count(session, "course.delete") == 1


def test_delete_with_enrollments_needs_force(cli, make, unchanged, session):
    course = make.course(lessons=1, published=True)
    make.enroll(course=course)

    with unchanged():
        result = cli("courses", "delete", course.slug)
    refused(result, "course_slug", contains="--force")
    with unchanged():
        result = cli("courses", "delete", course.slug, "--json")
    refused_json(result, "course_slug", contains="1 enrollment(s)")

    data = ok_json(cli("courses", "delete", course.slug, "--force", "--json"))

    assert data == {"slug": course.slug, "deleted": True}
    assert count(session, Course, Course.id == course.id) == 0
    assert count(session, Enrollment, Enrollment.course_id == course.id) == 0


def test_delete_unknown_course_is_refused(cli, unchanged):
    with unchanged():
        result = cli("courses", "delete", "nope", "--force")
    refused(result, "course_slug", contains="no course")


def test_delete_someone_elses_course_is_refused(cli, make, unchanged):
    course = make.course()
    intruder = make.user("instructor")

    with unchanged():
        result = cli("courses", "delete", course.slug, as_=intruder.email)
    refused(result, None, contains="delete this course")


def test_update_certificate_min_grade(cli, make):
    course = make.course()
    row = ok_json(cli("courses", "update", course.slug, "--certificate-min-grade", "80", "--json"))
    assert row["certificate_min_grade"] == 80.0
    assert cli("courses", "update", course.slug, "--certificate-min-grade", "101").exit_code == 2


def test_create_with_certificate_min_grade(cli, make):
    teacher = make.user("instructor")
    row = ok_json(
        cli(
            "courses",
            "create",
            "graded-course",
            "--title",
            "G",
            "--instructor",
            teacher.email,
            "--certificate-min-grade",
            "70",
            "--json",
        )
    )
    assert row["certificate_min_grade"] == 70.0
