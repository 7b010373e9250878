"""Staff and integrations: users (list, create with an invitation, deactivate) and
enrollments (enroll many, drop). The services' role rules decide (administrators for users,
a course's instructor or an administrator for its enrollments); a token's scopes narrow them.

A bulk enrollment is one unit of work: every e-mail is tried, and if any is refused nothing
is written and every refusal is listed (``errors[i].field`` is ``emails[i]``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from admin_ui.api.blueprint import api
from admin_ui.api.caller import caller
from admin_ui.api.endpoint import Answer, commit, endpoint
from admin_ui.api.models import Certificate, PageInfo, PageQuery, twin
from admin_ui.api.problems import STATUS_BY_KIND, ApiProblem, error_entry
from lms_core.accounts.fields import UserRow
from lms_core.errors import LmsError
from lms_core.models import Role

#: The most e-mails one bulk request names (a larger roster goes in several requests, or
#: through an import): about 4 s of work on SQLite, well inside a worker's timeout.
MAX_BULK = 1000
EMAIL = "<string(maxlength=320):email>"

User = twin("User", UserRow)
#: The roles, in the document only: the service checks a role and says which ones exist, as
#: for the CLI (with null: "the default", in a body). Least rights first: the first is what
#: example bodies (the Postman export) show.
_ROLES: dict[str, Any] = {
    "enum": [Role.student.value, Role.instructor.value, Role.admin.value, None]
}


class UsersQuery(PageQuery):
    model_config = ConfigDict(extra="forbid")
    search: str | None = Field(None, max_length=200)
    role: str | None = Field(None, max_length=20, json_schema_extra=_ROLES)
    active: bool | None = None


class UserPage(BaseModel):
    items: list[User]  # type: ignore[valid-type]  # a model made from UserRow
    meta: PageInfo


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    full_name: str = Field(max_length=200)
    role: str | None = Field(None, max_length=20, json_schema_extra=_ROLES)
    external_id: str | None = Field(None, max_length=255)
    #: Mail an invitation link to choose a password (the token is never in the answer).
    invite: bool = True


class UserChanges(BaseModel):
    """Profile changes: a field left out is not changed; an empty text clears it."""

    model_config = ConfigDict(extra="forbid")
    email: str | None = Field(None, max_length=320)
    full_name: str | None = Field(None, max_length=200)
    bio: str | None = Field(None, max_length=10_000)
    avatar_url: str | None = Field(None, max_length=500)
    external_id: str | None = Field(None, max_length=255)


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000)


class Bulk(BaseModel):
    model_config = ConfigDict(extra="forbid")
    course_slug: str = Field(max_length=200)
    emails: list[str] = Field(min_length=1, max_length=MAX_BULK)


class BulkDone(BaseModel):
    #: E-mail → ``created``, ``reenrolled``, ``unchanged`` (enroll) or ``dropped``.
    outcomes: dict[str, str]


@api.get("/users")
@endpoint(scope="users:read", tag="staff", ok=UserPage, query=UsersQuery)
def users(query: UsersQuery) -> Answer:
    """Users by e-mail or name words, role and state, a page at a time (administrators)."""
    from admin_ui.db import request_session
    from lms_core.accounts.users import list_users, user_row

    page = list_users(
        request_session(),
        actor=caller().actor,
        search=query.search,
        role=query.role,
        active=query.active,
        page=query.page,
        per_page=query.per_page,
    )
    meta = PageInfo(page=page.page, per_page=page.per_page, total=page.total, pages=page.pages)
    return UserPage(items=[user_row(u) for u in page.items], meta=meta)


@api.post("/users")
@endpoint(scope="users:write", tag="staff", ok=User, status=201, json=NewUser)
def create_user(json: NewUser) -> Answer:
    """Create a user without a password; with ``invite``, the invitation mail is queued."""
    from admin_ui.app import state
    from admin_ui.db import request_session
    from lms_core.accounts.fields import UserCreate
    from lms_core.accounts.users import create_user as create
    from lms_core.accounts.users import user_row
    from lms_core.imports.invites import invite_users

    db = request_session()
    who = caller().actor
    data = UserCreate(
        email=json.email, full_name=json.full_name, role=json.role, external_id=json.external_id
    )
    user, _ = create(db, actor=who, data=data)
    if json.invite:
        invite_users(db, actor=who, base_url=state().settings.public_base_url, emails=[user.email])
    row = user_row(user)
    commit()
    return User.model_validate(row), 201


@api.post(f"/users/{EMAIL}/deactivation")
@endpoint(scope="users:write", tag="staff", ok=User)
def deactivate(email: str) -> Answer:
    """Deactivate a user: their logins and tokens stop at once (administrators)."""
    from admin_ui.db import request_session
    from lms_core.accounts.users import deactivate_user, user_row

    row = user_row(deactivate_user(request_session(), actor=caller().actor, email=email))
    commit()
    return User.model_validate(row)


@api.patch(f"/users/{EMAIL}")
@endpoint(scope="users:write", tag="staff", ok=User, json=UserChanges)
def update_user(email: str, json: UserChanges) -> Answer:
    """Change a user's profile (the user themself, or an administrator; external_id: admins)."""
    from admin_ui.db import request_session
    from lms_core.accounts.fields import UserUpdate
    from lms_core.accounts.users import update_user as update
    from lms_core.accounts.users import user_row

    changes = UserUpdate(**json.model_dump(exclude_unset=True))
    row = user_row(update(request_session(), actor=caller().actor, email=email, data=changes))
    commit()
    return User.model_validate(row)


@api.post("/certificates/<string(maxlength=64):number>/revocation")
@endpoint(scope="certificates:write", tag="staff", ok=Certificate, json=Revocation)
def revoke_certificate(number: str, json: Revocation) -> Answer:
    """Revoke a valid certificate with a reason (its course's instructor or an administrator);
    it stays verifiable, as revoked."""
    from admin_ui.db import request_session
    from lms_core.certificates.registry import certificate_row, revoke

    cert = revoke(request_session(), actor=caller().actor, number=number, reason=json.reason)
    row = certificate_row(cert)
    commit()
    return Certificate.model_validate(row)


def _each(body: Bulk, action: str) -> BulkDone:
    from admin_ui.db import request_session
    from lms_core.catalog.courses import get_course
    from lms_core.catalog.enrollments import drop, enroll
    from lms_core.permissions import can_manage_course

    db = request_session()
    who = caller().actor
    emails = list(dict.fromkeys(e.strip().lower() for e in body.emails))  # once each, in order
    course = get_course(db, body.course_slug)
    if not can_manage_course(who, course) and emails != [who.label]:
        # A learner may name only themself: refused at once, not e-mail by e-mail.
        message = (
            f"only the course's instructor or an administrator may {action} other learners "
            f"(acting as {who.label})"
        )
        raise ApiProblem(403, message, [error_entry("emails", None, message)])
    outcomes: dict[str, str] = {}
    errors = []
    statuses: set[int] = set()
    for index, email in enumerate(emails):
        try:
            with db.begin_nested():
                if action == "enroll":
                    outcome = enroll(db, actor=who, email=email, course_slug=body.course_slug)
                    outcomes[email] = outcome.outcome
                else:
                    drop(db, actor=who, email=email, course_slug=body.course_slug)
                    outcomes[email] = "dropped"
        except LmsError as exc:
            errors.append(error_entry(f"emails[{index}]", email, exc.message))
            statuses.add(STATUS_BY_KIND.get(exc.kind, 422))
    if errors:
        # One kind of refusal keeps its status (all forbidden: 403); a mix is a 422.
        status = statuses.pop() if len(statuses) == 1 else 422
        detail = f"{len(errors)} of {len(emails)} refused; nothing was changed"
        raise ApiProblem(status, detail, errors)
    commit()
    return BulkDone(outcomes=outcomes)


@api.post("/enrollments")
@endpoint(scope="enrollments:write", tag="staff", ok=BulkDone, json=Bulk)
def enroll_many(json: Bulk) -> Answer:
    """Enroll learners in a course (all or none); enrolling again changes nothing."""
    return _each(json, "enroll")


@api.post("/enrollments/drop")
@endpoint(scope="enrollments:write", tag="staff", ok=BulkDone, json=Bulk)
def drop_many(json: Bulk) -> Answer:
    """Drop learners from a course (all or none); their progress is kept for a re-enrollment."""
    return _each(json, "drop")
