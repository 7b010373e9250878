"""Rules tightened after review: each test failed before its fix."""

from __future__ import annotations

import pytest

from lms_core.accounts import users
from lms_core.catalog import courses, enrollments
from lms_core.errors import Conflict, PermissionDenied, ValidationError
from tests.helpers import as_


def test_update_existing_without_a_role_keeps_the_role(session, make, operator):
    teacher = make.user("instructor", email="teach@x.org")
    user, created = users.create_user(
        session, actor=operator, email="teach@x.org", full_name="New Name", update_existing=True
    )
    assert (created, user.id, user.role, user.full_name) == (
        False,
        teacher.id,
        "instructor",
        "New Name",
    )


def test_a_new_user_without_a_role_is_a_student(session, operator):
    user, _ = users.create_user(session, actor=operator, email="new@x.org", full_name="New")
    assert user.role == "student"


def test_a_purged_user_cannot_be_reactivated(session, make, operator):
    gone = make.user()
    users.delete_user(session, actor=operator, email=gone.email, purge=True)
    with pytest.raises(Conflict, match="purged"):
        users.reactivate_user(session, actor=operator, email=gone.email)
    assert gone.is_active is False


def test_a_soft_deleted_user_can_still_be_reactivated(session, make, operator):
    user = make.user()
    users.delete_user(session, actor=operator, email=user.email)
    assert users.reactivate_user(session, actor=operator, email=user.email).deleted_at is None


@pytest.mark.parametrize("search", ["_", "%", "\\"])
def test_search_matches_wildcards_literally(session, make, operator, search):
    make.user(email="plain@x.org", name="Plain Name")
    page = users.list_users(session, actor=operator, search=search)
    assert "plain@x.org" not in [u.email for u in page.items]
    found = courses.list_courses(session, actor=operator, search=search)
    assert all(search in c.slug or search in c.title.lower() for c in found.items)


def test_search_still_finds_a_literal_underscore(session, make, operator):
    make.user(email="with_underscore@x.org")
    make.user(email="withxunderscore@x.org")
    page = users.list_users(session, actor=operator, search="with_")
    assert [u.email for u in page.items] == ["with_underscore@x.org"]


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


def test_a_short_email_name_does_not_forbid_its_letters(hasher):
    hasher.check_strength("jolly-good-2026", email="j@x.org")
    with pytest.raises(ValidationError, match="e-mail name"):
        hasher.check_strength("my-janet-2026", email="janet@x.org")


def test_permission_errors_name_the_acting_identity(session, make):
    student = make.user()
    with pytest.raises(PermissionDenied) as caught:
        users.list_users(session, actor=as_(student))
    assert caught.value.field == "as"


def test_certificate_min_grade_is_set_checked_and_audited(session, make, operator):
    from decimal import Decimal

    course = make.course()
    courses.update_course(session, actor=operator, slug=course.slug, certificate_min_grade=75)
    assert course.certificate_min_grade == Decimal("75.00")
    for bad in (-1, 100.5, "abc", float("nan")):
        with pytest.raises(ValidationError) as caught:
            courses.update_course(
                session, actor=operator, slug=course.slug, certificate_min_grade=bad
            )
        assert caught.value.field == "certificate_min_grade"
    created = courses.create_course(
        session,
        actor=operator,
        slug="graded",
        title="G",
        instructor_email=course.instructor.email,
        certificate_min_grade=60,
    )
    assert courses.course_row(created)["certificate_min_grade"] == 60.0


def test_reset_tokens_are_for_admins_and_the_user_themself(session, make):
    from lms_core.accounts import tokens

    alice, bob = make.user(), make.user()
    user, raw = tokens.request_password_reset(session, actor=as_(alice), email=alice.email)
    assert user.id == alice.id and len(raw) >= 43
    with pytest.raises(PermissionDenied):
        tokens.request_password_reset(session, actor=as_(bob), email=alice.email)


def test_show_course_hides_unpublished_courses_from_learners(session, make, operator):
    course = make.course(lessons=2)
    row = courses.show_course(session, actor=operator, slug=course.slug)
    assert (row["lessons"], row["enrollments"], row["slug"]) == (2, 0, course.slug)
    with pytest.raises(PermissionDenied):
        courses.show_course(session, actor=as_(make.user()), slug=course.slug)


def test_ensure_admin_creates_once_and_refuses_another_role(session, make, operator, hasher):
    asked = []

    def password():
        asked.append(True)
        return "Adm1n-pass-phrase"

    user, created = users.ensure_admin(
        session,
        actor=operator,
        email="root@x.org",
        full_name="Root",
        password=password,
        hasher=hasher,
    )
    again, created_again = users.ensure_admin(
        session,
        actor=operator,
        email="root@x.org",
        full_name="Root",
        password=password,
        hasher=hasher,
    )
    assert (created, created_again, again.id, len(asked)) == (True, False, user.id, 1)
    student = make.user()
    with pytest.raises(Conflict, match="not an admin") as caught:
        users.ensure_admin(
            session,
            actor=operator,
            email=student.email,
            full_name="S",
            password=password,
            hasher=hasher,
        )
    assert caught.value.field == "admin_email" and len(asked) == 1
