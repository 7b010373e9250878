"""The user's fields, written once: the users service, the users import, the export and the
template read them from here (``lms_core.fields`` says what each attribute means)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypedDict

from lms_core.fields import EntitySpec, FieldSpec
from lms_core.models.users import Role

ROLES: Final = tuple(r.value for r in Role)

USER: Final = EntitySpec(
    "user",
    (
        FieldSpec(
            "email",
            "email",
            max_length=320,
            required=True,
            in_file=True,
            aliases=("e-mail", "mail", "email address", "e-mail address"),
        ),
        #: ``name``: what sign-up sheets and mail-merge lists call it (``full name`` and
        #: ``Full-Name`` match the column itself).
        FieldSpec(
            "full_name", "text", max_length=200, required=True, in_file=True, aliases=("name",)
        ),
        FieldSpec(
            "role",
            "choice",
            choices=ROLES,
            default=Role.student.value,
            column_required=True,
            in_file=True,
        ),
        FieldSpec("is_active", "bool", default=True, in_file=True),
        FieldSpec("external_id", "identifier", max_length=255, in_file=True),
        FieldSpec("bio", "text", max_length=5000, multiline=True),
        FieldSpec("avatar_url", "url", max_length=500),
        FieldSpec("email_verified_at", "datetime", audited=False),
        FieldSpec("failed_login_attempts", "int"),
        FieldSpec("locked_until", "datetime"),
        FieldSpec("last_login_at", "datetime", audited=False),
        #: Kept by lms_core.accounts.activity (logins, lessons, attempts, submissions).
        FieldSpec("last_activity_at", "datetime", audited=False),
        FieldSpec("deleted_at", "datetime"),
        #: Import only: checked by the password policy, hashed, never listed or exported.
        FieldSpec("password", "text", in_file=True, secret=True),
    ),
    columns=("external_id", "email", "full_name", "role", "password", "is_active"),
)


class UserRow(TypedDict):
    """A user in listings and ``--json`` output: the keys of ``USER.listing()``, in its order
    (a test holds them together), timestamps as ISO 8601 text."""

    id: int
    email: str
    full_name: str
    role: str
    is_active: bool
    external_id: str | None
    bio: str | None
    avatar_url: str | None
    email_verified_at: str | None
    failed_login_attempts: int
    locked_until: str | None
    last_login_at: str | None
    last_activity_at: str | None
    deleted_at: str | None
    created_at: str | None
    updated_at: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserCreate:
    """A new user (or, with ``update_existing``, the values for the user with this e-mail).

    ``role`` None means student for a new user and "keep the current role" for an existing
    one, so that updating a name never demotes anybody.
    """

    email: str
    full_name: str
    role: str | None = None
    external_id: str | None = None
    is_active: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class UserUpdate:
    """Profile changes: a field left ``None`` is not changed; an empty text clears it."""

    email: str | None = None
    full_name: str | None = None
    bio: str | None = None
    avatar_url: str | None = None
    external_id: str | None = None
