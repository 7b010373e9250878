"""lmsctl enrollments: enroll, drop, list, complete-lesson, review."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from lms_core.models import Enrollment, LessonProgress
from tests.cli.helpers import audit_count, count, ok, ok_json, refused, refused_json, usage_error

ENROLLMENT_KEYS = {
    "user_email",
    "course_slug",
    "status",
    "progress_percentage",
    "enrolled_at",
    "completed_at",
    "dropped_at",
    "rating",
    "review",
}


def fresh(session: Session, enrollment_id: int) -> Enrollment:
    session.expire_all()
    return session.get(Enrollment, enrollment_id)


# --- enroll -------------------------------------------------------------------------------------


def test_enroll_then_again_then_after_a_drop(cli, make, session):
    student = make.user()
    course = make.course(lessons=2, published=True)

    result = ok(cli("enrollments", "enroll", student.email, course.slug))
    assert result.stdout.strip() == f"enrolled {student.email} in {course.slug}"
    assert (
        ok_json(cli("enrollments", "enroll", student.email, course.slug, "--json"))["outcome"]
        == "unchanged"
    )
    ok(cli("enrollments", "drop", student.email, course.slug))
    data = ok_json(cli("enrollments", "enroll", student.email, course.slug, "--json"))

    assert data["outcome"] == "reenrolled"
    assert (data["status"], data["dropped_at"]) == ("active", None)
    assert count(session, Enrollment, Enrollment.student_id == student.id) == 1
    assert (
        audit_count(session, "enrollment.create")
        == audit_count(session, "enrollment.reenroll")
        == 1
    )


def test_enroll_json(cli, make):
    student = make.user()
    course = make.course(lessons=2, published=True)

    data = ok_json(cli("enrollments", "enroll", student.email.upper(), course.slug, "--json"))

    assert set(data) >= ENROLLMENT_KEYS
    assert (data["user_email"], data["course_slug"], data["status"], data["outcome"]) == (
        student.email,
        course.slug,
        "active",
        "created",
    )
    assert data["progress_percentage"] == 0


def test_enrolling_an_unknown_user_is_refused(cli, make, unchanged):
    course = make.course(lessons=1, published=True)

    with unchanged():
        result = cli("enrollments", "enroll", "ghost@example.org", course.slug)
    refused(result, "email", contains="no user with e-mail ghost@example.org")
    with unchanged():
        result = cli("enrollments", "enroll", "ghost@example.org", course.slug, "--json")
    assert refused_json(result, "email")["value"] == "ghost@example.org"


def test_enrolling_in_an_unknown_course_is_refused(cli, make, unchanged):
    student = make.user()

    with unchanged():
        result = cli("enrollments", "enroll", student.email, "nope")
    refused(result, "course_slug", contains="no course with slug nope")
    with unchanged():
        result = cli("enrollments", "enroll", student.email, "nope", "--json")
    assert refused_json(result, "course_slug")["value"] == "nope"


def test_enrolling_in_an_unpublished_course_is_refused_to_learners(cli, make, unchanged):
    student = make.user()
    course = make.course(lessons=1)

    with unchanged():
        result = cli("enrollments", "enroll", student.email, course.slug, as_=student.email)
    refused(result, "course_slug", contains="not published")
    ok(cli("enrollments", "enroll", student.email, course.slug, as_=course.instructor.email))


def test_enrolling_a_deactivated_user_is_refused(cli, make, unchanged):
    student = make.user()
    course = make.course(lessons=1, published=True)
    ok(cli("users", "deactivate", student.email))

    with unchanged():
        result = cli("enrollments", "enroll", student.email, course.slug)
    refused(result, "user_email", contains="deactivated")


def test_an_instructor_cannot_enroll_in_their_own_course(cli, make, unchanged):
    course = make.course(lessons=1, published=True)

    with unchanged():
        result = cli("enrollments", "enroll", course.instructor.email, course.slug)
    refused(result, "user_email", contains="teaches")


def test_learners_enroll_themselves_but_not_others(cli, make, unchanged):
    me, other = make.user(), make.user()
    course = make.course(lessons=1, published=True)

    ok(cli("enrollments", "enroll", me.email, course.slug, as_=me.email))
    with unchanged():
        result = cli("enrollments", "enroll", other.email, course.slug, as_=me.email)
    refused(result, None, contains="enroll this learner")


def test_enroll_needs_both_arguments(cli, make):
    usage_error(cli("enrollments", "enroll", make.user().email), "Missing argument")


# --- drop ---------------------------------------------------------------------------------------


def test_drop_keeps_progress(cli, make, session):
    enrollment = make.enroll()
    email, slug = enrollment.student.email, enrollment.course.slug
    ok(cli("enrollments", "complete-lesson", email, slug, "lesson-1"))

    result = ok(cli("enrollments", "drop", email, slug))

    assert result.stdout.strip() == f"dropped {email} from {slug}"
    dropped = fresh(session, enrollment.id)
    assert (dropped.status, dropped.progress_percentage) == ("dropped", 50)
    assert dropped.dropped_at is not None
    assert count(session, LessonProgress, LessonProgress.enrollment_id == enrollment.id) == 1


def test_drop_json(cli, make):
    enrollment = make.enroll()

    data = ok_json(
        cli("enrollments", "drop", enrollment.student.email, enrollment.course.slug, "--json")
    )

    assert data["status"] == "dropped" and data["dropped_at"] is not None


def test_drop_twice_is_refused(cli, make, unchanged):
    enrollment = make.enroll()
    ok(cli("enrollments", "drop", enrollment.student.email, enrollment.course.slug))

    with unchanged():
        result = cli("enrollments", "drop", enrollment.student.email, enrollment.course.slug)
    refused(result, "status", contains="already dropped")


def test_drop_a_completed_course_is_refused(cli, make, unchanged):
    enrollment = make.enroll(course=make.course(lessons=1, published=True))
    email, slug = enrollment.student.email, enrollment.course.slug
    ok(cli("enrollments", "complete-lesson", email, slug, "lesson-1"))

    with unchanged():
        result = cli("enrollments", "drop", email, slug, "--json")
    refused_json(result, "status", contains="completed")


def test_drop_when_not_enrolled_is_refused(cli, make, unchanged):
    student = make.user()
    course = make.course(lessons=1, published=True)

    with unchanged():
        result = cli("enrollments", "drop", student.email, course.slug)
    refused(result, "user_email", contains="not enrolled")
    with unchanged():
        result = cli("enrollments", "drop", "ghost@example.org", course.slug)
    refused(result, "email")
    with unchanged():
        result = cli("enrollments", "drop", student.email, "nope")
    refused(result, "course_slug")


def test_drop_someone_elses_enrollment_is_refused(cli, make, unchanged):
    enrollment = make.enroll()
    other = make.user()

    with unchanged():
        result = cli(
            "enrollments", "drop", enrollment.student.email, enrollment.course.slug, as_=other.email
        )
    refused(result, None, contains="drop this enrollment")


# --- list ---------------------------------------------------------------------------------------


def test_list_json_is_an_array_keyed_by_column(cli, make):
    course = make.course(slug="alpha", lessons=2, published=True)
    ann = make.user(email="ann@example.org")
    zed = make.user(email="zed@example.org")
    make.enroll(zed, course)
    make.enroll(ann, course)

    data = ok_json(cli("enrollments", "list", "--json"))

    assert [(row["course_slug"], row["user_email"]) for row in data] == [
        ("alpha", "ann@example.org"),
        ("alpha", "zed@example.org"),
    ]
    for row in data:
        assert set(row) >= ENROLLMENT_KEYS
        assert row["status"] == "active" and row["progress_percentage"] == 0


def test_list_table(cli, make):
    enrollment = make.enroll()

    done = ok(cli("enrollments", "list"))

    for column in ("user_email", "course_slug", "status", "progress_percentage"):
        assert column in done.stdout
    assert enrollment.student.email in done.stdout and done.stderr == "1 enrollment(s)\n"


def test_list_filters(cli, make):
    first = make.course(slug="first", lessons=1, published=True)
    second = make.course(slug="second", lessons=1, published=True)
    ann, bob = make.user(email="ann@example.org"), make.user(email="bob@example.org")
    make.enroll(ann, first)
    make.enroll(ann, second)
    make.enroll(bob, first)
    ok(cli("enrollments", "drop", bob.email, first.slug))

    def pairs(*args):
        data = ok_json(cli("enrollments", "list", "--json", *args))
        return [
            (r["course_slug"], r["user_email"])
            for r in (data["items"] if "--page" in args else data)
        ]

    assert pairs("--course", "second") == [("second", "ann@example.org")]
    assert pairs("--user", "ann@example.org") == [
        ("first", "ann@example.org"),
        ("second", "ann@example.org"),
    ]
    assert pairs("--status", "dropped") == [("first", "bob@example.org")]
    assert pairs("--status", "active", "--course", "first") == [("first", "ann@example.org")]
    assert pairs("--per-page", "1", "--page", "2") == [("first", "bob@example.org")]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--status", "paused"], "status"),
        (["--course", "nope"], "course_slug"),
        (["--user", "ghost@example.org"], "email"),
    ],
)
def test_list_bad_filters_are_refused(cli, args, field):
    refused(cli("enrollments", "list", *args), field)
    refused_json(cli("enrollments", "list", *args, "--json"), field)


def test_list_shows_each_actor_what_they_may_see(cli, make):
    course = make.course(lessons=1, published=True)
    other_course = make.course(lessons=1, published=True)
    me, other = make.user(), make.user()
    make.enroll(me, course)
    make.enroll(other, course)
    make.enroll(other, other_course)

    def pairs(actor):
        return {
            (r["course_slug"], r["user_email"])
            for r in ok_json(cli("enrollments", "list", "--json", as_=actor))
        }

    assert pairs(me.email) == {(course.slug, me.email)}
    assert pairs(course.instructor.email) == {(course.slug, me.email), (course.slug, other.email)}
    assert len(pairs(None)) == 3


# --- complete-lesson ----------------------------------------------------------------------------


def test_complete_lessons_until_the_course_is_done(cli, make, session):
    enrollment = make.enroll()
    email, slug = enrollment.student.email, enrollment.course.slug

    result = ok(cli("enrollments", "complete-lesson", email, slug, "lesson-1"))
    assert result.stdout.strip() == f"{email}: completed {slug}/lesson-1; {slug} at 50%"
    again = ok_json(cli("enrollments", "complete-lesson", email, slug, "lesson-1", "--json"))
    assert (again["progress_percentage"], again["course_completed_now"]) == (50, False)
    data = ok_json(cli("enrollments", "complete-lesson", email, f"{slug}/lesson-2", "--json"))

    assert set(data) >= ENROLLMENT_KEYS
    assert (data["status"], data["progress_percentage"], data["course_completed_now"]) == (
        "completed",
        100,
        True,
    )
    assert data["completed_at"] is not None
    assert fresh(session, enrollment.id).status == "completed"
    assert audit_count(session, "enrollment.complete_lesson") == 2  # the repeat changed nothing


def test_complete_lesson_says_when_the_course_is_completed(cli, make):
    enrollment = make.enroll(course=make.course(lessons=1, published=True))

    result = ok(
        cli(
            "enrollments",
            "complete-lesson",
            enrollment.student.email,
            enrollment.course.slug,
            "lesson-1",
        )
    )

    assert result.stdout.strip().endswith("at 100% - course completed")


@pytest.mark.parametrize(
    ("kind", "way"),
    [("quiz", "passing its quiz"), ("assignment", "a graded submission")],
)
def test_quiz_and_assignment_lessons_complete_only_through_the_work(
    cli, make, session, unchanged, kind, way
):
    course = make.course(lessons=1, published=True)
    make.lesson(course, slug="work", lesson_type=kind)
    enrollment = make.enroll(course=course)
    email = enrollment.student.email
    ok(cli("enrollments", "complete-lesson", email, course.slug, "lesson-1"))

    with unchanged():
        result = cli("enrollments", "complete-lesson", email, course.slug, "work")
    refused(result, "lesson_slug", contains=way)
    with unchanged():
        result = cli("enrollments", "complete-lesson", email, f"{course.slug}/work", "--json")
    assert refused_json(result, "lesson_slug", contains=f"{kind} lesson")["value"] == "work"
    assert fresh(session, enrollment.id).progress_percentage == 50
    assert fresh(session, enrollment.id).status == "active"


def test_complete_unknown_lesson_is_refused(cli, make, unchanged):
    enrollment = make.enroll()

    with unchanged():
        result = cli(
            "enrollments",
            "complete-lesson",
            enrollment.student.email,
            enrollment.course.slug,
            "nope",
        )
    refused(result, "lesson_slug", contains="has no lesson nope")


def test_complete_lesson_when_not_enrolled_or_dropped_is_refused(cli, make, unchanged):
    enrollment = make.enroll()
    email, slug = enrollment.student.email, enrollment.course.slug
    stranger = make.user()

    with unchanged():
        result = cli("enrollments", "complete-lesson", stranger.email, slug, "lesson-1", "--json")
    refused_json(result, "user_email", contains="not enrolled")
    ok(cli("enrollments", "drop", email, slug))
    with unchanged():
        result = cli("enrollments", "complete-lesson", email, slug, "lesson-1")
    refused(result, "status", contains="re-enroll first")


def test_complete_lesson_for_someone_else_is_refused(cli, make, unchanged):
    enrollment = make.enroll()
    other = make.user()

    with unchanged():
        result = cli(
            "enrollments",
            "complete-lesson",
            enrollment.student.email,
            enrollment.course.slug,
            "lesson-1",
            as_=other.email,
        )
    refused(result, None, contains="record progress")
    ok(
        cli(
            "enrollments",
            "complete-lesson",
            enrollment.student.email,
            enrollment.course.slug,
            "lesson-1",
            as_=enrollment.student.email,
        )
    )


# --- review -------------------------------------------------------------------------------------


def test_review(cli, make, session):
    enrollment = make.enroll()
    email, slug = enrollment.student.email, enrollment.course.slug

    result = ok(
        cli("enrollments", "review", email, slug, "--rating", "4", "--text", "Clear", as_=email)
    )
    assert result.stdout.strip() == f"{email} rated {slug} 4/5"
    data = ok_json(cli("enrollments", "review", email, slug, "--rating", "5", "--json"))

    assert (data["rating"], data["review"]) == (5, None)
    assert fresh(session, enrollment.id).rating == 5
    assert audit_count(session, "enrollment.review") == 2


@pytest.mark.parametrize("rating", ["6", "0", "-1"])
def test_review_rating_out_of_range_is_refused(cli, make, unchanged, rating):
    enrollment = make.enroll()
    email, slug = enrollment.student.email, enrollment.course.slug

    with unchanged():
        result = cli("enrollments", "review", email, slug, "--rating", rating)
    refused(result, "rating", contains="1 to 5")
    with unchanged():
        result = cli("enrollments", "review", email, slug, "--rating", rating, "--json")
    assert refused_json(result, "rating")["value"] == int(rating)


@pytest.mark.parametrize("args", [["--rating", "five"], ["--rating", "4.5"], []])
def test_review_rating_must_be_a_whole_number(cli, make, unchanged, args):
    enrollment = make.enroll()

    with unchanged():
        result = cli(
            "enrollments", "review", enrollment.student.email, enrollment.course.slug, *args
        )
    usage_error(result, "--rating")


def test_review_too_long_is_refused(cli, make, unchanged):
    enrollment = make.enroll()

    with unchanged():
        result = cli(
            "enrollments",
            "review",
            enrollment.student.email,
            enrollment.course.slug,
            "--rating",
            "3",
            "--text",
            "x" * 5001,
        )
    refused(result, "review", contains="longer than 5000")


def test_review_by_someone_else_is_refused(cli, make, unchanged):
    enrollment = make.enroll()

    with unchanged():
        result = cli(
            "enrollments",
            "review",
            enrollment.student.email,
            enrollment.course.slug,
            "--rating",
            "5",
            as_=enrollment.course.instructor.email,
        )
    refused(result, None, contains="may review for this learner")


def test_review_when_dropped_or_not_enrolled_is_refused(cli, make, unchanged):
    enrollment = make.enroll()
    email, slug = enrollment.student.email, enrollment.course.slug
    stranger = make.user()

    with unchanged():
        result = cli("enrollments", "review", stranger.email, slug, "--rating", "5")
    refused(result, "user_email", contains="not enrolled")
    ok(cli("enrollments", "drop", email, slug))
    with unchanged():
        result = cli("enrollments", "review", email, slug, "--rating", "5")
    refused(result, "status", contains="cannot review")
