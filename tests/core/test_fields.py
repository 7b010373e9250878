"""Field specs: one check per kind, the same for a typed value and its text in a file cell."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lms_core.accounts.admins import admin_change_refused
from lms_core.accounts.fields import USER, UserCreate, UserRow, UserUpdate
from lms_core.accounts.users import PURGED_DOMAIN
from lms_core.catalog.fields import (
    COURSE,
    ENROLLMENT,
    LESSON,
    TITLE_MAX,
    CourseCreate,
    CourseDetail,
    CourseRow,
    CourseUpdate,
    EnrollmentRow,
    LessonCreate,
    LessonRow,
    LessonUpdate,
)
from lms_core.errors import ErrorList, ValidationError
from lms_core.fields import EntitySpec, FieldSpec, Invalid, check_values, command_values
from lms_core.validation import normalize_email


@pytest.mark.parametrize(
    ("spec", "typed", "text", "stored"),
    [
        (FieldSpec("n", "int"), 12, " 12.0 ", 12),
        (FieldSpec("b", "bool"), True, "Yes", True),
        (FieldSpec("b", "bool"), False, "0", False),
        (FieldSpec("c", "choice", choices=("a", "b")), "a", " A ", "a"),
        (FieldSpec("e", "email"), "Ann@X.org", " ann@x.org", "ann@x.org"),
        (FieldSpec("d", "decimal", maximum=100), Decimal("70"), "70", Decimal("70.00")),
    ],
)
def test_a_typed_value_and_its_text_store_the_same(spec, typed, text, stored):
    assert spec.check(typed) == spec.check(text) == stored


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        (FieldSpec("t", "text", max_length=3), "abcd", "is longer than 3 characters"),
        (FieldSpec("t", "text", required=True), "  ", "is required"),
        (FieldSpec("n", "int"), -1, "must be 0 or more"),
        (FieldSpec("n", "int"), "-1", "must be 0 or more"),
        (FieldSpec("n", "int", minimum=1), "x", "must be a whole number, 1 or more"),
        (FieldSpec("n", "int"), 3_000_000_000, "is too large"),
        (FieldSpec("r", "int", minimum=1, maximum=5), 6, "must be a whole number from 1 to 5"),
        (FieldSpec("r", "int", minimum=1, maximum=5), True, "must be a whole number from 1 to 5"),
        (FieldSpec("c", "choice", choices=("a", "b")), "z", "must be one of a, b"),
        (FieldSpec("b", "bool"), "maybe", "must be true or false (also yes/no, 1/0)"),
        (FieldSpec("u", "url"), "ftp://x", "must be an http(s) URL"),
        (FieldSpec("d", "decimal", maximum=100), "101", "must be a number from 0 to 100"),
    ],
)
def test_refusals_say_why(spec, value, message):
    result = spec.check(value)
    assert isinstance(result, Invalid) and result.message == message


def test_empty_optional_values_clear_and_required_ones_are_required():
    assert FieldSpec("t", "text").check("  ") is None
    assert FieldSpec("s", "slug").check("") is None
    assert FieldSpec("s", "slug", required=True).check("").message == "is required"


def test_check_values_names_every_refused_field_at_once():
    with pytest.raises(ErrorList) as err:
        check_values(LESSON, {"slug": "Bad Slug", "title": "t" * (TITLE_MAX + 1)}, creating=True)
    assert {e.field for e in err.value.errors} == {"slug", "title"}
    with pytest.raises(ValidationError, match="is required") as one:
        check_values(COURSE, {"slug": "ok", "title": None}, creating=True)
    assert one.value.field == "title"
    assert check_values(COURSE, {"title": None, "category": ""}) == {"category": None}


def test_the_entity_specs_agree_with_the_files_and_listings():
    assert USER.columns == ("external_id", "email", "full_name", "role", "password", "is_active")
    assert "password" not in USER.exported_columns() + USER.listing() + USER.audited()
    assert USER.required_columns() == ("email", "full_name", "role")
    assert COURSE["title"].max_length == LESSON["title"].max_length == TITLE_MAX
    assert ENROLLMENT.listing()[:4] == ("id", "user_email", "course_slug", "status")
    with pytest.raises(ValueError, match="not imported"):
        EntitySpec("x", (FieldSpec("a", "text"),), columns=("a",))


@pytest.mark.parametrize(
    ("role", "active", "admins", "refused"),
    [
        ("admin", True, 1, True),  # the last active administrator
        ("admin", True, 2, False),
        ("admin", False, 1, False),  # an inactive admin is not the one keeping the keys
        ("admin", True, None, True),  # bulk changes never touch an administrator
        ("student", True, None, False),
        ("instructor", True, 0, False),
    ],
)
def test_the_last_administrator_rule(role, active, admins, refused):
    assert admin_change_refused(role, active, active_admins=admins) is refused


@pytest.mark.parametrize(
    ("spec", "name"),
    [(COURSE, "difficulty_level"), (COURSE, "certificate_min_grade"), (LESSON, "is_preview")],
)
def test_a_field_with_a_default_cannot_be_cleared(spec, name):
    """Such a column is never NULL: an empty value is refused rather than stored."""
    with pytest.raises(ValidationError, match="is required") as err:
        check_values(spec, {name: ""})
    assert err.value.field == name


@pytest.mark.parametrize(
    ("row", "spec"),
    [(UserRow, USER), (CourseRow, COURSE), (LessonRow, LESSON), (EnrollmentRow, ENROLLMENT)],
)
def test_the_typed_rows_have_the_listed_fields_in_order(row, spec):
    """A field added to a spec and not to its row (or the other way round) fails here; mypy
    checks the row functions against the TypedDicts."""
    assert tuple(row.__annotations__) == spec.listing()
    assert row.__required_keys__ == frozenset(spec.listing())


def test_course_detail_is_the_course_row_and_its_counts():
    assert tuple(CourseDetail.__annotations__) == (*COURSE.listing(), "lessons", "enrollments")


# --- e-mail: the shortcut never accepts what email-validator refuses ---------------------------


@pytest.mark.parametrize(
    "address",
    [
        f"deleted-9{PURGED_DOMAIN}",  # a purged user's address: nobody may take one
        "ann@x.invalid",
        "ann@printer.local",
        "ann@x.localhost",
        "ann@hidden.onion",
        "ann@1.0.168.192.in-addr.arpa",
        "Ann@Home.ARPA",
    ],
)
def test_special_use_domains_are_refused_as_email_validator_refuses_them(address):
    with pytest.raises(ValidationError) as expected:
        normalize_email(address, field="e")
    result = FieldSpec("e", "email").check(address)
    assert isinstance(result, Invalid) and result.message == expected.value.message
    assert "special-use or reserved name" in result.message


@pytest.mark.parametrize("address", ["ann@x.test", "ann@example.org", "ann@invalid.org"])
def test_test_domains_and_lookalikes_are_still_accepted(address):
    """``.test`` is allowed (``normalize_email`` runs email-validator in test mode), and a
    domain that merely contains a special-use name is an ordinary one."""
    assert FieldSpec("e", "email").check(address) == normalize_email(address) == address


# --- URL and slug kinds: the spec's own length limit -------------------------------------------


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        (FieldSpec("u", "url", max_length=30), "https://example.org/" + "a" * 11, 30),
        (COURSE["thumbnail_url"], "https://example.org/" + "a" * 481, 500),
        (FieldSpec("s", "slug", max_length=10), "a" * 11, 10),
        (COURSE["slug"], "x" * 101, 100),
    ],
)
def test_url_and_slug_kinds_keep_to_the_specs_length(spec, value, message):
    result = spec.check(value)
    assert isinstance(result, Invalid)
    assert result.message == f"is longer than {message} characters"
    assert spec.check(value[:-1]) == value[:-1]


# --- keys a service looks rows up by ----------------------------------------------------------


@pytest.mark.parametrize("empty", ["", "  ", None])
def test_a_required_key_is_never_cleared_to_none(empty):
    """``user_email`` is optional in the spec (a file may give ``user_external_id``) but a
    service that looks the learner up by it is told it "is required", never given None."""
    keys = ("user_email", "course_slug")
    values = {"user_email": empty, "course_slug": "py"}
    with pytest.raises(ValidationError) as err:
        check_values(ENROLLMENT, values, creating=True, required=keys)
    assert (err.value.field, err.value.message) == ("user_email", "is required")
    if empty is not None:  # not creating: None is "not given", an empty text is refused
        with pytest.raises(ValidationError, match="instructor_email: is required"):
            check_values(COURSE, {"instructor_email": empty}, required=("instructor_email",))
    assert check_values(COURSE, {"instructor_email": None}, required=("instructor_email",)) == {}
    assert check_values(COURSE, {"instructor_email": ""}) == {"instructor_email": None}


# --- typed commands: held to their spec --------------------------------------------------------

COMMANDS = [
    (UserCreate, USER),
    (UserUpdate, USER),
    (CourseCreate, COURSE),
    (CourseUpdate, COURSE),
    (LessonCreate, LESSON),
    (LessonUpdate, LESSON),
]


@pytest.mark.parametrize(("command", "spec"), COMMANDS)
def test_every_command_field_is_a_spec_field_or_a_declared_service_argument(command, spec):
    import dataclasses

    own = getattr(command, "service_args", frozenset())
    names = {f.name for f in dataclasses.fields(command)}
    assert names - set(spec.by_name) == set(own)
    assert not set(own) & set(spec.by_name)


def test_command_values_refuses_an_attribute_its_spec_does_not_know():
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Renamed:
        title: str = "T"
        titel: str = "typo"

    with pytest.raises(TypeError, match=r"Renamed\.titel is neither a field of lesson"):
        command_values(Renamed(), LESSON)
    lesson = LessonCreate(slug="a", title="A", position=2)
    assert "position" not in command_values(lesson, LESSON)
    assert command_values(lesson, LESSON)["slug"] == "a"
