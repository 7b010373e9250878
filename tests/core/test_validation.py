"""Shared field checks, errors, pagination, actors and role checks."""

from __future__ import annotations

import pytest

from lms_core.actor import Actor
from lms_core.errors import (
    AccountLocked,
    AuthenticationFailed,
    Conflict,
    ErrorList,
    LmsError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from lms_core.models import DifficultyLevel, Role, User
from lms_core.pagination import MAX_PER_PAGE, Page, paginate
from lms_core.permissions import can_manage_course, require_admin, require_course_manager
from lms_core.validation import (
    MAX_SLUG,
    check_slug,
    check_text,
    check_url,
    normalize_email,
    parse_choice,
)

# --- e-mail -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("ada@example.org", "ada@example.org"),
        ("  Ada@Example.ORG  ", "ada@example.org"),
        ("\u00a0ADA@example.org\u00a0", "ada@example.org"),
        ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org"),
        ("user@bücher.example", "user@bücher.example"),
    ],
)
def test_normalize_email(raw, clean):
    assert normalize_email(raw) == clean


@pytest.mark.parametrize(
    "raw", ["plain", "a@", "@b.org", "a b@c.org", "a@b", "a@@b.org", "a@b..org"]
)
def test_normalize_email_refuses_bad_addresses(raw):
    with pytest.raises(ValidationError, match="not a valid e-mail address") as err:
        normalize_email(raw, field="user_email")
    assert (err.value.field, err.value.value) == ("user_email", raw)


@pytest.mark.parametrize("raw", ["", "   ", "\u00a0", None])
def test_normalize_email_requires_a_value(raw):
    with pytest.raises(ValidationError, match="is required"):
        normalize_email(raw)


# --- choices, slugs, text, numbers, URLs ------------------------------------------------------


def test_parse_choice_is_case_and_space_insensitive():
    assert parse_choice(Role, " ADMIN ", field="role") is Role.admin
    assert parse_choice(DifficultyLevel, "Advanced", field="level") is DifficultyLevel.advanced


@pytest.mark.parametrize("raw", ["", "root", None, "admins"])
def test_parse_choice_lists_the_choices(raw):
    with pytest.raises(ValidationError) as err:
        parse_choice(Role, raw, field="role")
    assert err.value.message == "must be one of admin, instructor, student"
    assert err.value.field == "role"


@pytest.mark.parametrize(
    "slug", ["a", "abc", "a1", "intro-to-python", "2026-spring", "x" * MAX_SLUG]
)
def test_check_slug_accepts(slug):
    assert check_slug(f" {slug} ") == slug


@pytest.mark.parametrize(
    "slug", ["", " ", "A", "a_b", "a--b", "-a", "a-", "a b", "ü", "a.b", "x" * 101, None]
)
def test_check_slug_refuses(slug):
    with pytest.raises(ValidationError, match="single dashes") as err:
        check_slug(slug, field="course_slug")
    assert err.value.field == "course_slug"


def test_check_text():
    assert check_text("  hi  ", field="f", max_length=2) == "hi"
    assert check_text(None, field="f", max_length=2) is None
    assert check_text("   ", field="f", max_length=2) == ""
    with pytest.raises(ValidationError, match="is required"):
        check_text(None, field="f", max_length=2, required=True)
    with pytest.raises(ValidationError, match="is required"):
        check_text("  ", field="f", max_length=2, required=True)
    with pytest.raises(ValidationError, match="longer than 2 characters") as err:
        check_text("abc", field="f", max_length=2)
    assert err.value.field == "f"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("https://example.org/a.png", "https://example.org/a.png"),
        (" HTTP://example.org ", "HTTP://example.org"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_check_url_accepts(raw, clean):
    assert check_url(raw, field="u") == clean


@pytest.mark.parametrize(
    "raw",
    [
        "ftp://example.org",
        "javascript:alert(1)",
        "example.org",
        "http://",
        "https://exa mple.org",
        "https://example.org/" + "a" * 500,
    ],
)
def test_check_url_refuses(raw):
    with pytest.raises(ValidationError, match="http\\(s\\) URL"):
        check_url(raw, field="u")


# --- errors -----------------------------------------------------------------------------------


def test_errors_name_their_field_and_value():
    err = ValidationError("is required", field="email", value=" ")
    assert str(err) == "email: is required"
    assert err.as_dict() == {"field": "email", "value": " ", "message": "is required"}
    assert str(LmsError("plain")) == "plain"


def test_error_kinds_map_to_answers():
    kinds = {
        cls: cls("x").kind
        for cls in (
            ValidationError,
            NotFound,
            Conflict,
            PermissionDenied,
            AccountLocked,
            AuthenticationFailed,
        )
    }
    assert kinds == {
        ValidationError: "invalid",
        NotFound: "not_found",
        Conflict: "conflict",
        PermissionDenied: "forbidden",
        AccountLocked: "locked",
        AuthenticationFailed: "unauthorized",
    }


def test_error_list_joins_its_members():
    errors = [ValidationError("bad", field="a"), Conflict("taken", field="b")]
    err = ErrorList(errors)
    assert err.errors == errors
    assert str(err) == "a: bad; b: taken"
    assert isinstance(err, LmsError)


# --- pagination -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "per_page", "pages"), [(0, 10, 1), (1, 10, 1), (10, 10, 1), (11, 10, 2), (25, 5, 5)]
)
def test_page_count(total, per_page, pages):
    assert Page(items=[], total=total, page=1, per_page=per_page).pages == pages


def test_paginate_limits_bounds(session):
    from sqlalchemy import select

    stmt = select(User).order_by(User.id)
    assert paginate(session, stmt, page=1, per_page=MAX_PER_PAGE).per_page == MAX_PER_PAGE
    with pytest.raises(ValidationError, match="1 or more"):
        paginate(session, stmt, page=0, per_page=1)
    with pytest.raises(ValidationError, match=f"between 1 and {MAX_PER_PAGE}"):
        paginate(session, stmt, page=1, per_page=MAX_PER_PAGE + 1)


def test_paginate_counts_and_slices(session, make):
    from sqlalchemy import select

    made = [make.user() for _ in range(5)]
    stmt = select(User).where(User.id.in_([u.id for u in made])).order_by(User.id)
    page = paginate(session, stmt, page=2, per_page=2)
    assert (page.total, page.pages, [u.id for u in page.items]) == (5, 3, [made[2].id, made[3].id])


# --- actors and permissions -------------------------------------------------------------------


def test_operator_and_user_actors(make):
    op = Actor.operator("alice")
    assert (op.label, op.role, op.user_id, op.is_admin) == ("cli:alice", Role.admin, None, True)
    student = make.user()
    actor = Actor.for_user(student)
    assert (actor.label, actor.role, actor.user_id, actor.is_admin) == (
        student.email,
        Role.student,
        student.id,
        False,
    )
    assert actor.is_user(student.id)
    assert not actor.is_user(None)
    assert not op.is_user(None)


def test_require_admin(make):
    require_admin(Actor.operator("x"), "do it")
    require_admin(Actor.for_user(make.user("admin")), "do it")
    with pytest.raises(PermissionDenied, match=r"only an administrator may do it \(acting as"):
        require_admin(Actor.for_user(make.user("instructor")), "do it")


def test_course_managers(make, teacher):
    course = make.course(instructor=teacher)
    assert can_manage_course(Actor.for_user(teacher), course)
    assert can_manage_course(Actor.operator("x"), course)
    assert can_manage_course(Actor.for_user(make.user("admin")), course)
    assert not can_manage_course(Actor.for_user(make.user("instructor")), course)
    assert not can_manage_course(Actor.for_user(make.user("student")), course)
    with pytest.raises(PermissionDenied, match=f"course {course.slug}"):
        require_course_manager(Actor.for_user(make.user("student")), course, "edit")
