"""The administrators' rule, in one place: the last active administrator stays one.

The users service checks it for every change of one user (set role, deactivate, delete, an
update of an existing user); imports and syncs, which change users in bulk, never change an
administrator's role or state at all (``lms_core.imports.plan.users``).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms_core.errors import Conflict
from lms_core.models import Role, User


def admin_change_refused(user_role: str, user_active: bool, *, active_admins: int | None) -> bool:
    """Whether taking the admin role or the active state from this user is refused.

    ``active_admins`` is the number of active administrators when a service changes one
    user (the last one keeps the role and stays active); ``None`` for bulk changes (imports,
    syncs), which never change an administrator: administrators are changed one at a time,
    where this rule is checked against the count.
    """
    if user_role != Role.admin.value:
        return False
    if active_admins is None:
        return True
    return user_active and active_admins <= 1


def active_admins(session: Session) -> int:
    stmt = (
        select(func.count())
        .select_from(User)
        .where(User.role == Role.admin.value, User.is_active.is_(True), User.deleted_at.is_(None))
    )
    return session.scalar(stmt) or 0


def guard_last_admin(session: Session, user: User, what: str) -> None:
    """Refuse to ``what`` (deactivate, delete, remove the admin role) the last active admin."""
    count = active_admins(session) if user.role == Role.admin.value else 0
    if admin_change_refused(user.role, user.is_active, active_admins=count):
        raise Conflict(
            f"{user.email} is the last active administrator; cannot {what}",
            field="email",
            value=user.email,
        )
