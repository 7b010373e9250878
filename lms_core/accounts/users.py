"""Users: create, update, roles, activation, passwords, lockout reset, deletion and purge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from lms_core import events
from lms_core.accounts import audit
from lms_core.accounts.admins import guard_last_admin
from lms_core.accounts.api_tokens import revoke_user_tokens
from lms_core.accounts.fields import USER, UserCreate, UserRow, UserUpdate
from lms_core.accounts.mfa_policy import forget as forget_mfa
from lms_core.accounts.web_sessions import close_user_sessions
from lms_core.actor import Actor
from lms_core.errors import (
    Conflict,
    HintCode,
    LmsError,
    NotFound,
    PermissionDenied,
    ValidationError,
    hint,
)
from lms_core.fields import check_values, checked_values, command_values, iso, raise_all
from lms_core.models import AuditEntry, Enrollment, OneTimeToken, Role, User, utcnow
from lms_core.pagination import Page, paginate, search_filter
from lms_core.permissions import require_admin
from lms_core.security import PasswordHasher
from lms_core.validation import parse_choice

_AUDITED = USER.audited()


def user_row(user: User) -> UserRow:
    """The user as listings and ``--json`` show it (never the password hash)."""
    return UserRow(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        is_active=user.is_active,
        external_id=user.external_id,
        bio=user.bio,
        avatar_url=user.avatar_url,
        email_verified_at=iso(user.email_verified_at),
        failed_login_attempts=user.failed_login_attempts,
        locked_until=iso(user.locked_until),
        last_login_at=iso(user.last_login_at),
        last_activity_at=iso(user.last_activity_at),
        deleted_at=iso(user.deleted_at),
        created_at=iso(user.created_at),
        updated_at=iso(user.updated_at),
    )


def find_user(session: Session, email: str, *, include_deleted: bool = False) -> User | None:
    stmt = select(User).where(User.email == email.replace("\u00a0", " ").strip().lower())
    if not include_deleted:
        stmt = stmt.where(User.deleted_at.is_(None))
    return session.scalars(stmt).first()


def get_user(session: Session, email: str, *, include_deleted: bool = False) -> User:
    user = find_user(session, email, include_deleted=include_deleted)
    if user is None:
        raise NotFound(f"no user with e-mail {email}", field="email", value=email)
    return user


PURGED_DOMAIN = "@deleted.invalid"


def is_purged(user: User) -> bool:
    """Purged users keep their row with an address in the reserved ``.invalid`` domain."""
    return user.deleted_at is not None and user.email.endswith(PURGED_DOMAIN)


def create_user(
    session: Session,
    *,
    actor: Actor,
    data: UserCreate,
    password: str | None = None,
    hasher: PasswordHasher | None = None,
    update_existing: bool = False,
) -> tuple[User, bool]:
    """Create a user (or, with ``update_existing``, update the one with that e-mail).

    ``data.role`` defaults to student for a new user and to the current role for an existing
    one, so updating a name never demotes anybody. Returns the user and whether it was created.
    A user without a password cannot log in until one is set (invitations, synthetic users).
    """
    require_admin(actor, "create users")
    values, problems = checked_values(USER, command_values(data, USER), creating=True)
    try:
        _check_password(hasher, password, data.email)
    except LmsError as exc:
        problems.append(exc)
    raise_all(problems)
    role: str | None = values.get("role")
    external_id: str | None = values.get("external_id")
    existing = find_user(session, values["email"], include_deleted=True)
    if existing is not None:
        if not update_existing or existing.deleted_at is not None:
            state = " (deleted; reactivate or purge it)" if existing.deleted_at else ""
            raise Conflict(
                f"a user with e-mail {values['email']} already exists{state}",
                field="email",
                value=data.email,
            )
        if role is not None and role != Role.admin.value:
            guard_last_admin(session, existing, "remove the admin role")
        before = audit.snapshot(existing, _AUDITED)
        existing.full_name = values["full_name"]
        if role is not None:
            existing.role = role
        if external_id is not None:
            _check_external_id_free(session, external_id, existing.id)
            existing.external_id = external_id
        if password is not None and hasher is not None:
            existing.password_hash = hasher.hash(password)
        audit.record_change(
            session,
            actor,
            "user.update",
            existing,
            before=before,
            fields=_AUDITED,
            unchanged_too=True,
        )
        return existing, False
    if external_id is not None:
        _check_external_id_free(session, external_id, None)
    user = User(
        email=values["email"],
        full_name=values["full_name"],
        role=role or USER["role"].default,
        external_id=external_id,
        is_active=values["is_active"],
        password_hash=hasher.hash(password) if password is not None and hasher else None,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", user, after=audit.snapshot(user, _AUDITED))
    events.user_created(session, user)
    return user, True


def ensure_admin(
    session: Session,
    *,
    actor: Actor,
    email: str,
    full_name: str,
    password: Callable[[], str | None],
    hasher: PasswordHasher,
) -> tuple[User, bool]:
    """The first administrator for ``lmsctl init``: created once, found again on a rerun.

    ``password`` is asked for only when the admin is created. An existing user of another
    role is refused rather than promoted behind the operator's back.
    """
    existing = find_user(session, email)
    if existing is None:
        return create_user(
            session,
            actor=actor,
            data=UserCreate(email=email, full_name=full_name, role=Role.admin.value),
            password=password(),
            hasher=hasher,
        )
    if existing.role != Role.admin.value:
        raise Conflict(
            f"{existing.email} exists as a {existing.role}, not an admin: give them the admin role",
            field="admin_email",
            value=email,
            hint=hint(HintCode.promote_user, email=existing.email),
        )
    return existing, False


def _check_password(hasher: PasswordHasher | None, password: str | None, email: str) -> None:
    if password is not None:
        if hasher is None:
            raise ValueError("a password needs a hasher")  # a programming error, not user input
        hasher.check_strength(password, email=email)


def _check_external_id_free(session: Session, external_id: str, user_id: int | None) -> None:
    other = session.scalars(select(User).where(User.external_id == external_id)).first()
    if other is not None and other.id != user_id:
        raise Conflict(
            f"external_id {external_id} already belongs to {other.email}",
            field="external_id",
            value=external_id,
        )


def _require_self_or_admin(actor: Actor, user: User, what: str) -> None:
    if not (actor.is_admin or actor.is_user(user.id)):
        raise PermissionDenied(
            f"only an administrator or the user may {what} (acting as {actor.label})"
        )


def update_user(session: Session, *, actor: Actor, email: str, data: UserUpdate) -> User:
    """Change profile fields; only the given ones. Users may edit themselves, admins anyone."""
    user = get_user(session, email)
    _require_self_or_admin(actor, user, "update this user")
    if data.external_id is not None and not actor.is_admin:
        raise PermissionDenied("only an administrator may set external_id")
    values = check_values(USER, command_values(data, USER))
    if not values:
        raise ValidationError("nothing to change: give at least one field", field="fields")
    if (
        "email" in values
        and values["email"] != user.email
        and find_user(session, values["email"], include_deleted=True) is not None
    ):
        raise Conflict(
            f"a user with e-mail {values['email']} already exists",
            field="email",
            value=data.email,
        )
    if values.get("external_id"):
        _check_external_id_free(session, values["external_id"], user.id)
    return _change(session, actor, user, "user.update", **values)


def _change(session: Session, actor: Actor, user: User, action: str, **values: Any) -> User:
    audit.apply_change(session, actor, action, user, fields=_AUDITED, values=values)
    return user


def set_role(session: Session, *, actor: Actor, email: str, role: str) -> User:
    require_admin(actor, "change roles")
    new_role = parse_choice(Role, role, field="role").value
    user = get_user(session, email)
    if new_role != Role.admin.value:
        guard_last_admin(session, user, "remove the admin role")
    return _change(session, actor, user, "user.set_role", role=new_role)


def deactivate_user(session: Session, *, actor: Actor, email: str) -> User:
    require_admin(actor, "deactivate users")
    user = get_user(session, email)
    guard_last_admin(session, user, "deactivate")
    close_user_sessions(session, user.id)
    # Personal tokens too: reactivating the account must not bring any old token back.
    revoke_user_tokens(session, user.id, personal=True)
    return _change(session, actor, user, "user.deactivate", is_active=False)


def reactivate_user(session: Session, *, actor: Actor, email: str) -> User:
    """Reactivate a deactivated or soft-deleted (not purged) user."""
    require_admin(actor, "reactivate users")
    user = get_user(session, email, include_deleted=True)
    if is_purged(user):
        raise Conflict(
            f"{user.email} was purged; its personal data is gone for good",
            field="email",
            value=email,
        )
    return _change(session, actor, user, "user.reactivate", is_active=True, deleted_at=None)


def check_may_set_password(session: Session, *, actor: Actor, email: str) -> None:
    """Refuse before a front door asks anyone to type a password it would refuse anyway."""
    _require_self_or_admin(actor, get_user(session, email), "reset this password")


def set_password(
    session: Session, *, actor: Actor, email: str, password: str, hasher: PasswordHasher
) -> User:
    """Set a new password (admin for anyone, users for themselves); clears any lockout."""
    user = get_user(session, email)
    _require_self_or_admin(actor, user, "reset this password")
    hasher.check_strength(password, email=user.email)
    before = audit.snapshot(user, _AUDITED)
    user.password_hash = hasher.hash(password)
    user.failed_login_attempts = 0
    user.locked_until = None
    session.flush()
    close_user_sessions(session, user.id)  # logged in with the old password: no longer
    revoke_user_tokens(session, user.id, personal=False)
    # Always audited: the hash is not in the snapshot, so the change alone would leave no trace.
    after = audit.changed(before, audit.snapshot(user, _AUDITED))
    audit.record(
        session,
        actor,
        "user.reset_password",
        user,
        before=before,
        after={"password_changed": True, **after},
    )
    return user


def unlock_user(session: Session, *, actor: Actor, email: str) -> User:
    require_admin(actor, "unlock accounts")
    user = get_user(session, email)
    return _change(session, actor, user, "user.unlock", failed_login_attempts=0, locked_until=None)


def delete_user(session: Session, *, actor: Actor, email: str, purge: bool = False) -> User:
    """Soft-delete a user; with ``purge``, also anonymise every personal field for good.

    Purging rewrites the user's personal data in the audit log too, and keeps the rows
    (enrollments, grades) that statistics rely on, attached to an anonymous user.
    """
    require_admin(actor, "delete users")
    user = get_user(session, email, include_deleted=purge)
    if actor.is_user(user.id):
        raise Conflict("you cannot delete yourself", field="email", value=email)
    guard_last_admin(session, user, "delete")
    if not purge:
        return _change(session, actor, user, "user.delete", is_active=False, deleted_at=utcnow())
    anonymous = f"deleted-{user.id}{PURGED_DOMAIN}"
    session.execute(delete(OneTimeToken).where(OneTimeToken.user_id == user.id))
    forget_mfa(session, user)
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.entity_type == User.__tablename__, AuditEntry.entity_id == user.id)
        .values(before=None, after=None)
    )
    session.execute(
        update(AuditEntry).where(AuditEntry.actor_id == user.id).values(actor_label=anonymous)
    )
    # Enrollment entries name the learner by e-mail: rewrite it there too.
    enrollment_ids = select(Enrollment.id).where(Enrollment.student_id == user.id)
    for entry in session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == Enrollment.__tablename__,
            AuditEntry.entity_id.in_(enrollment_ids),
        )
    ):
        for side in ("before", "after"):
            data = getattr(entry, side)
            if data and data.get("user_email") == user.email:
                setattr(entry, side, {**data, "user_email": anonymous})
    user.password_hash = None
    _change(
        session,
        actor,
        user,
        "user.purge",
        email=anonymous,
        full_name="Deleted user",
        bio=None,
        avatar_url=None,
        external_id=None,
        is_active=False,
        deleted_at=user.deleted_at or utcnow(),
    )
    # The purge entry itself must not keep what it removed.
    last = session.scalars(
        select(AuditEntry).where(AuditEntry.entity_id == user.id, AuditEntry.action == "user.purge")
    ).first()
    if last is not None:
        last.before = None
        last.after = {"purged": True}
    session.flush()
    return user


def show_user(session: Session, *, actor: Actor, email: str) -> User:
    user = get_user(session, email, include_deleted=actor.is_admin)
    _require_self_or_admin(actor, user, "see this user")
    return user


def users_query(
    session: Session,
    *,
    actor: Actor,
    search: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    include_deleted: bool = False,
) -> Select[User]:
    """The query behind ``list_users`` (rights and filters checked), for a page or a stream
    (``lms_core.pagination.iter_rows``)."""
    require_admin(actor, "list users")
    stmt = select(User).order_by(User.email)
    if search:
        stmt = stmt.where(search_filter(search, User.email, func.lower(User.full_name)))
    if role:
        stmt = stmt.where(User.role == parse_choice(Role, role, field="role").value)
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    if not include_deleted:
        stmt = stmt.where(User.deleted_at.is_(None))
    return stmt


def list_users(
    session: Session,
    *,
    actor: Actor,
    search: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    include_deleted: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> Page[User]:
    """Users matching a search on e-mail or name, by role and state, ordered by e-mail."""
    stmt = users_query(
        session,
        actor=actor,
        search=search,
        role=role,
        active=active,
        include_deleted=include_deleted,
    )
    return paginate(session, stmt, page=page, per_page=per_page)
