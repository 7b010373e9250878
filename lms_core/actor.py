"""Who is acting. Every service takes one explicitly; none reads a web or CLI global."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lms_core.models.users import Role

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from lms_core.models.users import User


@dataclass(frozen=True)
class Actor:
    """The acting party: a user with that user's rights, or an operator/job with admin rights."""

    label: str
    role: Role
    user_id: int | None = None

    @classmethod
    def operator(cls, os_user: str) -> Actor:
        """The person at the shell with no ``--as``: admin rights, recorded as ``cli:<os user>``."""
        return cls(label=f"cli:{os_user}", role=Role.admin)

    @classmethod
    def system(cls, name: str) -> Actor:
        """A scheduled job or the demo seeder."""
        return cls(label=f"system:{name}", role=Role.admin)

    @classmethod
    def for_user(cls, user: User) -> Actor:
        return cls(label=user.email, role=Role(user.role), user_id=user.id)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    def is_user(self, user_id: int | None) -> bool:
        return self.user_id is not None and self.user_id == user_id


def actor_for_email(connection: Connection, email: str) -> Actor:
    """The user ``email`` as an actor, read whatever state the schema is in.

    For the commands that run before or around migrations (``init``, ``doctor``, ``db``),
    where the ORM's ``User`` may not match the table yet: only columns the first migration
    created are read. A database without a users table has nobody to act as, and says so.
    """
    from sqlalchemy import inspect, text

    from lms_core.errors import NotFound, PermissionDenied

    wanted = email.replace("\u00a0", " ").strip().lower()
    if not inspect(connection).has_table("users"):
        raise PermissionDenied(
            f"cannot act as {email}: the database has no users yet (it is not initialised); "
            "act as the operator, who has an administrator's rights",
            value=email,
        )
    row = connection.execute(
        text(
            "SELECT id, email, role, is_active FROM users "
            "WHERE email = :email AND deleted_at IS NULL"
        ),
        {"email": wanted},
    ).first()
    if row is None:
        raise NotFound(f"no user with e-mail {email} to act as", field="as", value=email)
    if not row.is_active:
        raise PermissionDenied(f"{row.email} is deactivated and cannot act", value=email)
    return Actor(label=row.email, role=Role(row.role), user_id=row.id)
