"""Who is acting. Every service takes one explicitly; none reads a web or CLI global."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lms_core.models.users import Role

if TYPE_CHECKING:
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
