"""Enrollments: who may enroll whom, idempotence, drop and re-enroll, lessons, reviews, listing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from lms_core.accounts import audit, users
from lms_core.catalog import courses, enrollments
from lms_core.catalog.fields import ENROLLMENT, LessonUpdate
from lms_core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from lms_core.models import Enrollment, LessonProgress
from tests.helpers import as_, audit_log, complete_lessons


@pytest.fixture
def teacher(make):
    return make.user("instructor", email="instructor@x.org")


@pytest.fixture
def course(make, teacher):
    return make.course(slug="python", instructor=teacher, lessons=3, published=True)


def enroll(session, actor, user, course):
    return enrollments.enroll(session, actor=actor, email=user.email, course_slug=course.slug)


# --- enroll -----------------------------------------------------------------------------------


def test_a_student_enrolls_in_a_published_course(session, course, learner):
    result = enroll(session, as_(learner), learner, course)
    assert result.outcome == "created"
    e = result.enrollment
    assert (e.student_id, e.course_id, e.status) == (learner.id, course.id, "active")
    assert e.progress_percentage == Decimal("0")
    assert e.enrolled_at is not None
    assert e.student.email == learner.email
    assert e.course.slug == "python"


@pytest.mark.parametrize(
    ("email", "slug", "field"),
    [
        ("", "python", "user_email"),
        ("  ", "python", "user_email"),
        (None, "python", "user_email"),
        ("learner", "", "course_slug"),
        ("learner", " ", "course_slug"),
    ],
)
def test_an_empty_learner_or_course_is_required(
    session, operator, course, learner, email, slug, field
):
    """``enrollments enroll "" py`` once crashed and ``enroll a1@ex.org ""`` looked up the
    course "None": an empty key is refused before any lookup."""
    email = learner.email if email == "learner" else email
    with pytest.raises(ValidationError) as err:
        enrollments.enroll(session, actor=operator, email=email, course_slug=slug)
    assert (err.value.field, err.value.message) == (field, "is required")


@pytest.mark.parametrize(
    ("email", "slug", "field"), [("", "python", "user_email"), ("learner", "", "course_slug")]
)
def test_enroll_with_an_empty_argument_fails_cleanly_on_the_command_line(
    session, cli, course, learner, email, slug, field
):
    result = cli("enrollments", "enroll", learner.email if email == "learner" else email, slug)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"{field}: is required" in result.output
    assert "None" not in result.output and "Traceback" not in result.output
    assert session.scalar(select(func.count()).select_from(Enrollment)) == 0


def test_enroll_is_idempotent(session, course, learner):
    first = enroll(session, as_(learner), learner, course)
    second = enroll(session, as_(learner), learner, course)
    assert second.outcome == "unchanged"
    assert second.enrollment.id == first.enrollment.id
    assert session.scalar(select(func.count()).select_from(Enrollment)) == 1
    assert len(audit_log(session, "enrollment.create")) == 1


def test_enrolling_a_completed_learner_again_changes_nothing(session, operator, make, learner):
    course = make.course(lessons=1, published=True)
    enroll(session, operator, learner, course)
    complete_lessons(session, operator, learner, course, "lesson-1")
    result = enroll(session, operator, learner, course)
    assert result.outcome == "unchanged"
    assert result.enrollment.status == "completed"


def test_enroll_is_audited(session, course, learner):
    result = enroll(session, as_(learner), learner, course)
    [entry] = audit_log(session, "enrollment.create")
    assert (entry.actor_label, entry.entity_type, entry.entity_id) == (
        learner.email,
        "enrollments",
        result.enrollment.id,
    )
    assert entry.after == {"user_email": learner.email, "course_slug": "python"}


def test_a_dropped_learner_is_reenrolled_keeping_progress(session, operator, course, learner):
    enroll(session, operator, learner, course)
    complete_lessons(session, operator, learner, course, "lesson-1")
    enrollments.drop(session, actor=as_(learner), email=learner.email, course_slug="python")
    result = enroll(session, as_(learner), learner, course)
    assert result.outcome == "reenrolled"
    e = result.enrollment
    assert (e.status, e.dropped_at) == ("active", None)
    assert e.progress_percentage == Decimal("33.33")
    [entry] = audit_log(session, "enrollment.reenroll")
    assert entry.before["status"] == "dropped"
    assert entry.after["status"] == "active"


def test_a_student_cannot_enroll_in_an_unpublished_course(session, make, learner):
    draft = make.course(lessons=1)
    with pytest.raises(Conflict, match="is not published") as err:
        enroll(session, as_(learner), learner, draft)
    assert err.value.field == "course_slug"


def test_the_course_manager_may_enroll_learners_in_an_unpublished_course(
    session, make, teacher, learner
):
    draft = make.course(instructor=teacher, lessons=1)
    assert enroll(session, as_(teacher), learner, draft).outcome == "created"


def test_a_student_may_enroll_only_themselves(session, make, course, learner):
    other = make.user()
    with pytest.raises(PermissionDenied, match="may enroll this learner"):
        enroll(session, as_(learner), other, course)


def test_an_instructor_may_not_enroll_learners_in_someone_elses_course(session, make, learner):
    course = make.course(lessons=1, published=True)
    outsider = make.user("instructor")
    with pytest.raises(PermissionDenied):
        enroll(session, as_(outsider), learner, course)


def test_an_instructor_may_enroll_in_someone_elses_course(session, make, course):
    colleague = make.user("instructor")
    assert enroll(session, as_(colleague), colleague, course).outcome == "created"


def test_an_instructor_cannot_enroll_in_their_own_course(session, operator, course, teacher):
    with pytest.raises(Conflict, match="teaches python and cannot enroll") as err:
        enroll(session, operator, teacher, course)
    assert err.value.field == "user_email"


def test_a_deactivated_user_cannot_be_enrolled(session, operator, course, learner):
    users.deactivate_user(session, actor=operator, email=learner.email)
    with pytest.raises(ValidationError, match="is deactivated"):
        enroll(session, operator, learner, course)


def test_a_deleted_user_cannot_be_enrolled(session, operator, course, learner):
    users.delete_user(session, actor=operator, email=learner.email)
    with pytest.raises(NotFound):
        enroll(session, operator, learner, course)


def test_enroll_in_an_unknown_course_is_not_found(session, operator, learner):
    with pytest.raises(NotFound):
        enrollments.enroll(session, actor=operator, email=learner.email, course_slug="ghost")


# --- drop -------------------------------------------------------------------------------------


def test_drop_sets_status_and_time(session, course, learner):
    enroll(session, as_(learner), learner, course)
    e = enrollments.drop(session, actor=as_(learner), email=learner.email, course_slug="python")
    assert e.status == "dropped"
    assert e.dropped_at is not None
    [entry] = audit_log(session, "enrollment.drop")
    assert entry.before["status"] == "active"
    assert entry.after["status"] == "dropped"


def test_dropping_twice_is_refused(session, operator, course, learner):
    enroll(session, operator, learner, course)
    enrollments.drop(session, actor=operator, email=learner.email, course_slug="python")
    with pytest.raises(Conflict, match="already dropped"):
        enrollments.drop(session, actor=operator, email=learner.email, course_slug="python")


def test_a_completed_course_cannot_be_dropped(session, operator, make, learner):
    course = make.course(lessons=1, published=True)
    enroll(session, operator, learner, course)
    complete_lessons(session, operator, learner, course, "lesson-1")
    with pytest.raises(Conflict, match="a completed course cannot be dropped") as err:
        enrollments.drop(session, actor=operator, email=learner.email, course_slug=course.slug)
    assert err.value.field == "status"


def test_drop_without_enrollment_is_not_found(session, operator, course, learner):
    with pytest.raises(NotFound, match="is not enrolled in python"):
        enrollments.drop(session, actor=operator, email=learner.email, course_slug="python")


def test_drop_by_the_course_instructor_but_not_another_student(
    session, make, course, teacher, learner
):
    enroll(session, as_(learner), learner, course)
    other = make.user()
    with pytest.raises(PermissionDenied):
        enrollments.drop(session, actor=as_(other), email=learner.email, course_slug="python")
    assert (
        enrollments.drop(
            session, actor=as_(teacher), email=learner.email, course_slug="python"
        ).status
        == "dropped"
    )


# --- complete lessons -------------------------------------------------------------------------


def test_complete_lesson_records_progress(session, course, learner):
    enroll(session, as_(learner), learner, course)
    e, completed = complete_lessons(session, as_(learner), learner, course, "lesson-2")
    assert completed is False
    assert e.progress_percentage == Decimal("33.33")
    [entry] = audit_log(session, "enrollment.complete_lesson")
    assert entry.after["lesson_slug"] == "lesson-2"
    assert entry.after["progress_percentage"] == pytest.approx(33.33)


def test_complete_lesson_is_idempotent(session, course, learner):
    enroll(session, as_(learner), learner, course)
    complete_lessons(session, as_(learner), learner, course, "lesson-1")
    e, completed = complete_lessons(session, as_(learner), learner, course, "lesson-1")
    assert completed is False
    assert e.progress_percentage == Decimal("33.33")
    assert session.scalar(select(func.count()).select_from(LessonProgress)) == 1
    assert len(audit_log(session, "enrollment.complete_lesson")) == 1


def test_completing_the_last_lesson_completes_the_course_once(session, course, learner):
    enroll(session, as_(learner), learner, course)
    results = [
        complete_lessons(session, as_(learner), learner, course, s)[1]
        for s in ("lesson-1", "lesson-2", "lesson-3", "lesson-3")
    ]
    assert results == [False, False, True, False]
    e = enrollments.find_enrollment(session, learner.id, course.id)
    assert (e.status, e.progress_percentage) == ("completed", Decimal("100.00"))
    assert e.completed_at is not None


def test_completion_counts_required_lessons_only(session, operator, make, learner):
    course = make.course(lessons=3, published=True)
    from lms_core.catalog import lessons

    lessons.update_lesson(
        session,
        actor=operator,
        course_slug=course.slug,
        slug="lesson-2",
        data=LessonUpdate(is_required=False),
    )
    enroll(session, operator, learner, course)
    e, _ = complete_lessons(session, operator, learner, course, "lesson-2")
    assert e.progress_percentage == Decimal("0.00")
    complete_lessons(session, operator, learner, course, "lesson-1")
    assert e.progress_percentage == Decimal("50.00")
    _, completed = complete_lessons(session, operator, learner, course, "lesson-3")
    assert completed is True
    assert e.status == "completed"


def test_a_dropped_learner_cannot_complete_lessons(session, operator, course, learner):
    enroll(session, operator, learner, course)
    enrollments.drop(session, actor=operator, email=learner.email, course_slug="python")
    with pytest.raises(Conflict, match="re-enroll first"):
        complete_lessons(session, operator, learner, course, "lesson-1")


def test_complete_an_unknown_lesson_is_not_found(session, operator, course, learner):
    enroll(session, operator, learner, course)
    with pytest.raises(NotFound, match="has no lesson nope"):
        complete_lessons(session, operator, learner, course, "nope")


def test_complete_lesson_without_enrollment_is_not_found(session, operator, course, learner):
    with pytest.raises(NotFound, match="not enrolled"):
        complete_lessons(session, operator, learner, course, "lesson-1")


def test_only_the_learner_or_a_manager_records_progress(session, make, course, teacher, learner):
    enroll(session, as_(learner), learner, course)
    other = make.user()
    with pytest.raises(PermissionDenied, match="record progress"):
        complete_lessons(session, as_(other), learner, course, "lesson-1")
    assert (
        complete_lessons(session, as_(teacher), learner, course, "lesson-1")[0].progress_percentage
        > 0
    )


def test_progress_of_a_completed_enrollment_stays_completed_when_lessons_are_added(
    session, operator, make, learner
):
    course = make.course(lessons=1, published=True)
    enroll(session, operator, learner, course)
    complete_lessons(session, operator, learner, course, "lesson-1")
    make.lesson(course, slug="bonus")
    e, completed = complete_lessons(session, operator, learner, course, "bonus")
    assert completed is False
    assert e.status == "completed"


# --- reviews ----------------------------------------------------------------------------------


def test_a_learner_reviews_their_course(session, course, learner):
    enroll(session, as_(learner), learner, course)
    e = enrollments.review(
        session,
        actor=as_(learner),
        email=learner.email,
        course_slug="python",
        rating=4,
        text="  Clear and short. ",
    )
    assert (e.rating, e.review) == (4, "Clear and short.")
    assert e.reviewed_at is not None
    [entry] = audit_log(session, "enrollment.review")
    assert entry.after == {"rating": 4, "review": "Clear and short."}


def test_a_review_may_change_and_have_no_text(session, course, learner):
    enroll(session, as_(learner), learner, course)
    enrollments.review(
        session, actor=as_(learner), email=learner.email, course_slug="python", rating=2, text="meh"
    )
    e = enrollments.review(
        session, actor=as_(learner), email=learner.email, course_slug="python", rating=5
    )
    assert (e.rating, e.review) == (5, None)


@pytest.mark.parametrize("rating", [0, 6, -1, 100, 4.5, "5", None, True])
def test_rating_must_be_a_whole_number_from_1_to_5(session, course, learner, rating):
    enroll(session, as_(learner), learner, course)
    with pytest.raises(ValidationError, match="from 1 to 5") as err:
        enrollments.review(
            session, actor=as_(learner), email=learner.email, course_slug="python", rating=rating
        )
    assert err.value.field == "rating"


@pytest.mark.parametrize("rating", [1, 5])
def test_rating_bounds_are_accepted(session, course, learner, rating):
    enroll(session, as_(learner), learner, course)
    assert (
        enrollments.review(
            session, actor=as_(learner), email=learner.email, course_slug="python", rating=rating
        ).rating
        == rating
    )


def test_review_needs_an_enrollment(session, course, learner):
    with pytest.raises(NotFound):
        enrollments.review(
            session, actor=as_(learner), email=learner.email, course_slug="python", rating=5
        )


def test_a_dropped_learner_cannot_review(session, course, learner):
    enroll(session, as_(learner), learner, course)
    enrollments.drop(session, actor=as_(learner), email=learner.email, course_slug="python")
    with pytest.raises(Conflict, match="cannot review"):
        enrollments.review(
            session, actor=as_(learner), email=learner.email, course_slug="python", rating=5
        )


def test_a_completed_learner_may_review(session, operator, make, learner):
    course = make.course(lessons=1, published=True)
    enroll(session, operator, learner, course)
    complete_lessons(session, operator, learner, course, "lesson-1")
    assert (
        enrollments.review(
            session, actor=as_(learner), email=learner.email, course_slug=course.slug, rating=5
        ).rating
        == 5
    )


def test_only_the_learner_or_an_admin_reviews(session, operator, make, course, teacher, learner):
    enroll(session, as_(learner), learner, course)
    for someone in (teacher, make.user()):
        with pytest.raises(PermissionDenied, match="may review for this learner"):
            enrollments.review(
                session, actor=as_(someone), email=learner.email, course_slug="python", rating=1
            )
    assert (
        enrollments.review(
            session, actor=operator, email=learner.email, course_slug="python", rating=3
        ).rating
        == 3
    )


# --- list -------------------------------------------------------------------------------------


@pytest.fixture
def roster(session, operator, make, course, teacher):
    other_course = make.course(slug="sql", lessons=1, published=True)
    sam = make.user(email="sam@x.org")
    sue = make.user(email="sue@x.org")
    for student, c in ((sam, course), (sue, course), (sam, other_course), (teacher, other_course)):
        enroll(session, operator, student, c)
    enrollments.drop(session, actor=operator, email="sue@x.org", course_slug="python")
    return {"sam": sam, "sue": sue}


def pairs(page):
    return [(e.course.slug, e.student.email) for e in page.items]


def test_admins_list_every_enrollment_ordered_by_course_and_email(
    session, operator, roster, teacher
):
    assert pairs(enrollments.list_enrollments(session, actor=operator)) == [
        ("python", "sam@x.org"),
        ("python", "sue@x.org"),
        *sorted([("sql", "sam@x.org"), ("sql", teacher.email)]),
    ]


def test_learners_list_their_own_enrollments(session, roster):
    assert pairs(enrollments.list_enrollments(session, actor=as_(roster["sam"]))) == [
        ("python", "sam@x.org"),
        ("sql", "sam@x.org"),
    ]
    assert (
        pairs(enrollments.list_enrollments(session, actor=as_(roster["sam"]), email="sue@x.org"))
        == []
    )


def test_instructors_list_their_courses_and_their_own_enrollments(session, roster, teacher):
    assert pairs(enrollments.list_enrollments(session, actor=as_(teacher))) == [
        ("python", "sam@x.org"),
        ("python", "sue@x.org"),
        ("sql", teacher.email),
    ]


def test_list_enrollments_filters(session, operator, roster):
    assert sorted(
        pairs(enrollments.list_enrollments(session, actor=operator, course_slug="sql"))
    ) == [("sql", "instructor@x.org"), ("sql", "sam@x.org")]
    assert pairs(enrollments.list_enrollments(session, actor=operator, email="SAM@x.org")) == [
        ("python", "sam@x.org"),
        ("sql", "sam@x.org"),
    ]
    assert pairs(enrollments.list_enrollments(session, actor=operator, status="dropped")) == [
        ("python", "sue@x.org")
    ]
    with pytest.raises(ValidationError, match="active, completed, dropped") as err:
        enrollments.list_enrollments(session, actor=operator, status="paused")
    assert err.value.field == "status"
    with pytest.raises(NotFound):
        enrollments.list_enrollments(session, actor=operator, course_slug="ghost")


def test_list_enrollments_paginates(session, operator, roster):
    page = enrollments.list_enrollments(session, actor=operator, per_page=3, page=2)
    assert (page.total, page.pages, len(page.items)) == (4, 2, 1)


def test_enrollment_row(session, course, learner):
    e = enroll(session, as_(learner), learner, course).enrollment
    row = enrollments.enrollment_row(e)
    assert list(row) == list(ENROLLMENT.listing())
    assert (row["user_email"], row["course_slug"], row["status"]) == (
        learner.email,
        "python",
        "active",
    )


def test_enrollment_row_json_is_the_snapshot_it_replaced(session, course, learner):
    """The typed row prints the same JSON as the generic snapshot did (scripts parse it)."""
    e = enroll(session, as_(learner), learner, course).enrollment
    e.progress_percentage, e.rating, e.review = Decimal("33.33"), 4, "Good"
    e.completed_at = e.enrolled_at
    session.flush()
    fields = ENROLLMENT.listing()
    before = {
        **audit.snapshot(e, [f for f in fields if f not in ("user_email", "course_slug")]),
        "user_email": learner.email,
        "course_slug": course.slug,
    }
    expected = {f: before[f] for f in fields}
    assert json.dumps(enrollments.enrollment_row(e)) == json.dumps(expected)


def test_unpublishing_keeps_existing_enrollments_and_progress(session, operator, course, learner):
    enroll(session, as_(learner), learner, course)
    courses.unpublish_course(session, actor=operator, slug="python")
    assert pairs(enrollments.list_enrollments(session, actor=as_(learner))) == [
        ("python", learner.email)
    ]
    e, _ = complete_lessons(session, as_(learner), learner, course, "lesson-1")
    assert e.progress_percentage == Decimal("33.33")


def test_an_enrolled_learner_re_enrolling_in_an_unpublished_course_is_unchanged(
    session, make, operator
):
    learner = make.user()
    course = make.course(lessons=1, published=True)
    make.enroll(learner, course)
    courses.unpublish_course(session, actor=operator, slug=course.slug)
    result = enrollments.enroll(
        session, actor=as_(learner), email=learner.email, course_slug=course.slug
    )
    assert result.outcome == "unchanged"


def test_a_new_learner_cannot_self_enroll_in_an_unpublished_course(session, make):
    learner = make.user()
    course = make.course(lessons=1)
    with pytest.raises(Conflict, match="not published"):
        enrollments.enroll(
            session, actor=as_(learner), email=learner.email, course_slug=course.slug
        )


def test_a_boolean_is_not_a_rating(session, make, operator):
    enrollment = make.enroll()
    with pytest.raises(ValidationError) as caught:
        enrollments.review(
            session,
            actor=operator,
            email=enrollment.student.email,
            course_slug=enrollment.course.slug,
            rating=True,
        )  # type: ignore[arg-type]
    assert caught.value.field == "rating"
