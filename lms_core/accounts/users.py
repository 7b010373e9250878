"""Users: create, update, roles, activation, passwords, lockout reset, deletion and purge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from lms_core.models import AuditEntry, Enrollment, OneTimeToken, Role, User, utcnow
from lms_core.pagination import Page, paginate
from lms_core.permissions import require_admin
from lms_core.security import PasswordHasher
from lms_core.validation import (
    check_text,
    check_url,
    collect,
    like_pattern,
    normalize_email,
    parse_choice,
)

#: The columns of a user everywhere: listings, --json keys, CSV exports, audit snapshots.
USER_FIELDS = (
    "id",
    "email",
    "full_name",
    "role",
    "is_active",
    "external_id",
    "bio",
    "avatar_url",
    "email_verified_at",
    "failed_login_attempts",
    "locked_until",
    "last_login_at",
    "deleted_at",
    "created_at",
    "updated_at",
)
_AUDITED = (
    "email",
    "full_name",
    "role",
    "is_active",
    "external_id",
    "bio",
    "avatar_url",
    "locked_until",
    "failed_login_attempts",
    "deleted_at",
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
    email: str,
    full_name: str,
    role: str | None = None,
    password: str | None = None,
    hasher: PasswordHasher | None = None,
    external_id: str | None = None,
    is_active: bool = True,
    update_existing: bool = False,
) -> tuple[User, bool]:
    """Create a user (or, with ``update_existing``, update the one with that e-mail).

    ``role`` defaults to student for a new user and to the current role for an existing one,
    so updating a name never demotes anybody. Returns the user and whether it was created.
    A user without a password cannot log in until one is set (invitations, synthetic users).
    """
    require_admin(actor, "create users")
    values = collect(
        [
            ("email", lambda: normalize_email(email)),
            (
                "full_name",
                lambda: check_text(full_name, field="full_name", max_length=200, required=True),
            ),
            ("role", lambda: parse_choice(Role, role, field="role") if role is not None else None),
            (
                "external_id",
                lambda: check_text(external_id, field="external_id", max_length=255) or None,
            ),
            ("password", lambda: _check_password(hasher, password, email)),
        ]
    )
    existing = find_user(session, values["email"], include_deleted=True)
    if existing is not None:
        if not update_existing or existing.deleted_at is not None:
            state = " (deleted; reactivate or purge it)" if existing.deleted_at else ""
            raise Conflict(
                f"a user with e-mail {values['email']} already exists{state}",
                field="email",
                value=email,
            )
        if values["role"] is not None and values["role"] is not Role.admin:
            _guard_last_admin(session, existing, "remove the admin role")
        before = audit.snapshot(existing, _AUDITED)
        existing.full_name = values["full_name"]
        if values["role"] is not None:
            existing.role = values["role"].value
        if values["external_id"] is not None:
            _check_external_id_free(session, values["external_id"], existing.id)
            existing.external_id = values["external_id"]
        if password is not None and hasher is not None:
            existing.password_hash = hasher.hash(password)
        session.flush()
        audit.record(
            session,
            actor,
            "user.update",
            existing,
            before=before,
            after=audit.changed(before, audit.snapshot(existing, _AUDITED)),
        )
        return existing, False
    if values["external_id"] is not None:
        _check_external_id_free(session, values["external_id"], None)
    user = User(
        email=values["email"],
        full_name=values["full_name"],
        role=(values["role"] or Role.student).value,
        external_id=values["external_id"],
        is_active=is_active,
        password_hash=hasher.hash(password) if password is not None and hasher else None,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", user, after=audit.snapshot(user, _AUDITED))
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
            email=email,
            full_name=full_name,
            role="admin",
            password=password(),
            hasher=hasher,
        )
    if existing.role != Role.admin.value:
        raise Conflict(
            f"{existing.email} exists as a {existing.role}, not an admin "
            f"(promote with: lmsctl users set-role {existing.email} admin)",
            field="admin_email",
            value=email,
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


def update_user(
    session: Session,
    *,
    actor: Actor,
    email: str,
    new_email: str | None = None,
    full_name: str | None = None,
    bio: str | None = None,
    avatar_url: str | None = None,
    external_id: str | None = None,
) -> User:
    """Change profile fields; only the given ones. Users may edit themselves, admins anyone."""
    user = get_user(session, email)
    _require_self_or_admin(actor, user, "update this user")
    if external_id is not None and not actor.is_admin:
        raise PermissionDenied("only an administrator may set external_id")
    checks: list[tuple[str, Any]] = []
    if new_email is not None:
        checks.append(("email", lambda: normalize_email(new_email)))
    if full_name is not None:
        checks.append(
            (
                "full_name",
                lambda: check_text(full_name, field="full_name", max_length=200, required=True),
            )
        )
    if bio is not None:
        checks.append(("bio", lambda: check_text(bio, field="bio", max_length=5000) or None))
    if avatar_url is not None:
        checks.append(("avatar_url", lambda: check_url(avatar_url, field="avatar_url")))
    if external_id is not None:
        checks.append(
            (
                "external_id",
                lambda: check_text(external_id, field="external_id", max_length=255) or None,
            )
        )
    values = collect(checks)
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
            value=new_email,
        )
    if values.get("external_id"):
        _check_external_id_free(session, values["external_id"], user.id)
    before = audit.snapshot(user, _AUDITED)
    for name, value in values.items():
        setattr(user, name, value)
    session.flush()
    after = audit.changed(before, audit.snapshot(user, _AUDITED))
    if after:
        audit.record(session, actor, "user.update", user, before=before, after=after)
    return user


def _active_admins(session: Session) -> int:
    stmt = (
        select(func.count())
        .select_from(User)
        .where(User.role == Role.admin.value, User.is_active.is_(True), User.deleted_at.is_(None))
    )
    return session.scalar(stmt) or 0


def _guard_last_admin(session: Session, user: User, what: str) -> None:
    if user.role == Role.admin.value and user.is_active and _active_admins(session) <= 1:
        raise Conflict(
            f"{user.email} is the last active administrator; cannot {what}",
            field="email",
            value=user.email,
        )


def _change(session: Session, actor: Actor, user: User, action: str, **values: Any) -> User:
    before = audit.snapshot(user, _AUDITED)
    for name, value in values.items():
        setattr(user, name, value)
    session.flush()
    after = audit.changed(before, audit.snapshot(user, _AUDITED))
    if after:
        audit.record(session, actor, action, user, before=before, after=after)
    return user


def set_role(session: Session, *, actor: Actor, email: str, role: str) -> User:
    require_admin(actor, "change roles")
    new_role = parse_choice(Role, role, field="role")
    user = get_user(session, email)
    if new_role is not Role.admin:
        _guard_last_admin(session, user, "remove the admin role")
    return _change(session, actor, user, "user.set_role", role=new_role.value)


def deactivate_user(session: Session, *, actor: Actor, email: str) -> User:
    require_admin(actor, "deactivate users")
    user = get_user(session, email)
    _guard_last_admin(session, user, "deactivate")
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
    _guard_last_admin(session, user, "delete")
    if not purge:
        return _change(session, actor, user, "user.delete", is_active=False, deleted_at=utcnow())
    anonymous = f"deleted-{user.id}{PURGED_DOMAIN}"
    session.execute(delete(OneTimeToken).where(OneTimeToken.user_id == user.id))
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
    require_admin(actor, "list users")
    stmt = select(User).order_by(User.email)
    if search:
        pattern = like_pattern(search)
        stmt = stmt.where(
            or_(
                User.email.like(pattern, escape="\\"),
                func.lower(User.full_name).like(pattern, escape="\\"),
            )
        )
    if role:
        stmt = stmt.where(User.role == parse_choice(Role, role, field="role").value)
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    if not include_deleted:
        stmt = stmt.where(User.deleted_at.is_(None))
    return paginate(session, stmt, page=page, per_page=per_page)
