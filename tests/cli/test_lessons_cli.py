"""lmsctl lessons: add, list, update, delete, reorder."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.models import Course, Enrollment, Lesson
from tests.cli.helpers import audit_count, ok, ok_json, refused, refused_json, usage_error

LESSON_KEYS = {
    "order_index",
    "slug",
    "title",
    "lesson_type",
    "duration_minutes",
    "is_required",
    "is_preview",
    "course_slug",
    "content",
    "video_url",
}


def order(session: Session, course: Course) -> list[str]:
    """The course's lesson slugs in order, as the database has them now."""
    session.expire_all()
    return list(
        session.scalars(
            select(Lesson.slug).where(Lesson.course_id == course.id).order_by(Lesson.order_index)
        )
    )


# --- add ----------------------------------------------------------------------------------------


def test_add_at_the_end(cli, make, session):
    course = make.course(lessons=2)

    result = ok(cli("lessons", "add", course.slug, "loops", "--title", "Loops"))

    assert result.stdout.strip() == f"added lesson {course.slug}/loops at position 3"
    assert order(session, course) == ["lesson-1", "lesson-2", "loops"]
    assert audit_count(session, "lesson.add") == 3


def test_add_json_with_every_field(cli, make):
    course = make.course()

    data = ok_json(
        cli(
            "lessons",
            "add",
            course.slug,
            "intro",
            "--title",
            "Intro",
            "--type",
            "Video",
            "--content",
            "<p>Hi</p>",
            "--duration",
            "12",
            "--video-url",
            "https://video.example.org/1",
            "--preview",
            "--optional",
            "--json",
        )
    )

    assert set(data) >= LESSON_KEYS
    assert (data["course_slug"], data["slug"], data["order_index"], data["lesson_type"]) == (
        course.slug,
        "intro",
        1,
        "video",
    )
    assert (data["duration_minutes"], data["is_preview"], data["is_required"]) == (12, True, False)


def test_add_at_a_position_shifts_the_rest(cli, make, session):
    course = make.course(lessons=2)

    data = ok_json(
        cli("lessons", "add", course.slug, "setup", "--title", "Setup", "--position", "1", "--json")
    )

    assert data["order_index"] == 1
    assert order(session, course) == ["setup", "lesson-1", "lesson-2"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["Bad Slug", "--title", "T"], "slug"),
        (["ok", "--title", " "], "title"),
        (["ok", "--title", "T", "--type", "podcast"], "lesson_type"),
        (["ok", "--title", "T", "--video-url", "not a url"], "video_url"),
        (["ok", "--title", "T", "--position", "4"], "position"),
        (["lesson-1", "--title", "T"], "slug"),  # taken
    ],
)
def test_add_bad_values_are_refused(cli, make, unchanged, args, field):
    course = make.course(lessons=2)

    with unchanged():
        result = cli("lessons", "add", course.slug, *args)
    refused(result, field)
    with unchanged():
        result = cli("lessons", "add", course.slug, *args, "--json")
    refused_json(result, field)


@pytest.mark.parametrize(
    "args",
    [
        ["ok", "--title", "T", "--position", "0"],
        ["ok", "--title", "T", "--duration", "-1"],
        ["ok"],  # no --title
    ],
)
def test_add_usage_errors(cli, make, unchanged, args):
    course = make.course()

    with unchanged():
        result = cli("lessons", "add", course.slug, *args)
    usage_error(result)


def test_add_to_an_unknown_course_is_refused(cli, unchanged):
    with unchanged():
        result = cli("lessons", "add", "nope", "intro", "--title", "Intro")
    refused(result, "course_slug", contains="no course")


def test_add_to_someone_elses_course_is_refused(cli, make, unchanged):
    course = make.course()
    intruder = make.user("instructor")

    with unchanged():
        result = cli("lessons", "add", course.slug, "intro", "--title", "Intro", as_=intruder.email)
    refused(result, None, contains="add lessons")
    ok(cli("lessons", "add", course.slug, "intro", "--title", "Intro", as_=course.instructor.email))


def test_adding_a_required_lesson_lowers_progress(cli, make, session):
    course = make.course(lessons=2, published=True)
    enrollment = make.enroll(course=course)
    ok(cli("enrollments", "complete-lesson", enrollment.student.email, course.slug, "lesson-1"))

    ok(cli("lessons", "add", course.slug, "more", "--title", "More"))

    session.expire_all()
    assert str(session.get(Enrollment, enrollment.id).progress_percentage) == "33.33"


# --- list ---------------------------------------------------------------------------------------


def test_list_json_in_order(cli, make):
    course = make.course(lessons=3)

    data = ok_json(cli("lessons", "list", course.slug, "--json"))

    assert [(row["order_index"], row["slug"]) for row in data] == [
        (1, "lesson-1"),
        (2, "lesson-2"),
        (3, "lesson-3"),
    ]
    for row in data:
        assert set(row) >= LESSON_KEYS


def test_list_table(cli, make):
    course = make.course(lessons=1)

    out = ok(cli("lessons", "list", course.slug)).stdout

    header, row = out.splitlines()  # not a terminal: tab-separated, a header line first
    for column in ("order_index", "lesson", "title", "lesson_type", "is_required"):
        assert column in header.split("\t")
    assert row.split("\t")[:2] == ["1", f"{course.slug}/lesson-1"]


def test_list_of_an_empty_course_is_an_empty_array(cli, make):
    assert ok_json(cli("lessons", "list", make.course().slug, "--json")) == []


def test_list_unknown_course_exits_1(cli):
    refused(cli("lessons", "list", "nope"), "course_slug")
    refused_json(cli("lessons", "list", "nope", "--json"), "course_slug")


def test_list_of_an_unpublished_course_only_for_its_managers(cli, make):
    course = make.course(lessons=1)
    student = make.user()

    refused(cli("lessons", "list", course.slug, as_=student.email), None, contains="unpublished")
    assert (
        len(ok_json(cli("lessons", "list", course.slug, "--json", as_=course.instructor.email)))
        == 1
    )
    ok(cli("courses", "publish", course.slug))
    assert len(ok_json(cli("lessons", "list", course.slug, "--json", as_=student.email))) == 1


# --- update -------------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields(cli, make, session):
    course = make.course(lessons=2)

    data = ok_json(
        cli(
            "lessons",
            "update",
            course.slug,
            "lesson-2",
            "--title",
            "Renamed",
            "--type",
            "quiz",
            "--duration",
            "20",
            "--json",
        )
    )

    assert (data["title"], data["lesson_type"], data["duration_minutes"], data["order_index"]) == (
        "Renamed",
        "quiz",
        20,
        2,
    )
    assert audit_count(session, "lesson.update") == 1


def test_update_slug(cli, make, session):
    course = make.course(lessons=2)

    result = ok(cli("lessons", "update", course.slug, "lesson-1", "--slug", "setup"))

    assert result.stdout.strip() == f"updated lesson {course.slug}/setup"
    assert order(session, course) == ["setup", "lesson-2"]


def test_making_the_last_lesson_optional_completes_the_course(cli, make, session):
    course = make.course(lessons=2, published=True)
    enrollment = make.enroll(course=course)
    ok(cli("enrollments", "complete-lesson", enrollment.student.email, course.slug, "lesson-1"))

    ok(cli("lessons", "update", course.slug, "lesson-2", "--optional"))

    session.expire_all()
    changed = session.get(Enrollment, enrollment.id)
    assert (changed.progress_percentage, changed.status) == (100, "completed")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ([], "fields"),
        (["--slug", "lesson-2"], "slug"),
        (["--slug", "No Good"], "slug"),
        (["--type", "podcast"], "lesson_type"),
        (["--title", ""], "title"),
    ],
)
def test_update_bad_values_are_refused(cli, make, unchanged, args, field):
    course = make.course(lessons=2)

    with unchanged():
        result = cli("lessons", "update", course.slug, "lesson-1", *args)
    refused(result, field)


def test_update_unknown_lesson_or_course_is_refused(cli, make, unchanged):
    course = make.course(lessons=1)

    with unchanged():
        result = cli("lessons", "update", course.slug, "nope", "--title", "T")
    refused(result, "lesson_slug", contains=f"course {course.slug} has no lesson nope")
    with unchanged():
        result = cli("lessons", "update", "nope", "lesson-1", "--title", "T", "--json")
    refused_json(result, "course_slug")


def test_update_someone_elses_lesson_is_refused(cli, make, unchanged):
    course = make.course(lessons=1)
    intruder = make.user("instructor")

    with unchanged():
        result = cli(
            "lessons", "update", course.slug, "lesson-1", "--title", "T", as_=intruder.email
        )
    refused(result, None, contains="update lessons")


# --- delete -------------------------------------------------------------------------------------


def test_delete_closes_the_gap(cli, make, session):
    course = make.course(lessons=3)

    result = ok(cli("lessons", "delete", course.slug, "lesson-2"))

    assert result.stdout.strip() == f"deleted lesson {course.slug}/lesson-2"
    assert order(session, course) == ["lesson-1", "lesson-3"]
    session.expire_all()
    assert [lesson.order_index for lesson in session.get(Course, course.id).lessons] == [1, 2]
    assert audit_count(session, "lesson.delete") == 1


def test_delete_json(cli, make):
    course = make.course(lessons=1)

    assert ok_json(cli("lessons", "delete", f"{course.slug}/lesson-1", "--json")) == {
        "lesson": f"{course.slug}/lesson-1",
        "course_slug": course.slug,
        "slug": "lesson-1",
        "deleted": True,
    }


def test_delete_recomputes_progress(cli, make, session):
    course = make.course(lessons=2, published=True)
    enrollment = make.enroll(course=course)
    ok(cli("enrollments", "complete-lesson", enrollment.student.email, course.slug, "lesson-1"))

    ok(cli("lessons", "delete", course.slug, "lesson-2"))

    session.expire_all()
    assert session.get(Enrollment, enrollment.id).status == "completed"


def test_delete_unknown_lesson_is_refused(cli, make, unchanged):
    course = make.course(lessons=1)

    with unchanged():
        result = cli("lessons", "delete", course.slug, "nope")
    refused(result, "lesson_slug")
    with unchanged():
        result = cli("lessons", "delete", "nope", "lesson-1", "--json")
    refused_json(result, "course_slug")


def test_delete_someone_elses_lesson_is_refused(cli, make, unchanged):
    course = make.course(lessons=1)
    intruder = make.user("instructor")

    with unchanged():
        result = cli("lessons", "delete", course.slug, "lesson-1", as_=intruder.email)
    refused(result, None, contains="delete lessons")


# --- reorder ------------------------------------------------------------------------------------


def test_reorder(cli, make, session):
    course = make.course(lessons=3)

    data = ok_json(
        cli("lessons", "reorder", course.slug, "lesson-3", "lesson-1", "lesson-2", "--json")
    )

    assert [(row["order_index"], row["slug"]) for row in data] == [
        (1, "lesson-3"),
        (2, "lesson-1"),
        (3, "lesson-2"),
    ]
    assert order(session, course) == ["lesson-3", "lesson-1", "lesson-2"]
    assert audit_count(session, "course.reorder_lessons") == 1


def test_reorder_table(cli, make):
    course = make.course(lessons=2)

    out = ok(cli("lessons", "reorder", course.slug, "lesson-2", "lesson-1")).stdout

    assert out.index("lesson-2") < out.index("lesson-1")


@pytest.mark.parametrize(
    ("slugs", "why"),
    [
        (["lesson-3", "lesson-1"], "missing: lesson-2"),
        (["lesson-3", "lesson-1", "lesson-2", "extra"], "unknown: extra"),
        (["lesson-1", "lesson-1", "lesson-2", "lesson-3"], "named twice: lesson-1"),
    ],
)
def test_reorder_must_name_every_lesson_once(cli, make, unchanged, session, slugs, why):
    course = make.course(lessons=3)

    with unchanged():
        result = cli("lessons", "reorder", course.slug, *slugs)
    refused(result, "slugs", contains=why)
    with unchanged():
        result = cli("lessons", "reorder", course.slug, *slugs, "--json")
    assert refused_json(result, "slugs", contains=why)["value"] == " ".join(slugs)
    assert order(session, course) == ["lesson-1", "lesson-2", "lesson-3"]


def test_reorder_needs_slugs(cli, make):
    usage_error(cli("lessons", "reorder", make.course(lessons=1).slug), "Missing argument")


def test_reorder_unknown_course_or_someone_elses_is_refused(cli, make, unchanged):
    course = make.course(lessons=2)
    intruder = make.user("instructor")

    with unchanged():
        result = cli("lessons", "reorder", "nope", "lesson-2", "lesson-1")
    refused(result, "course_slug")
    with unchanged():
        result = cli("lessons", "reorder", course.slug, "lesson-2", "lesson-1", as_=intruder.email)
    refused(result, None, contains="reorder lessons")
