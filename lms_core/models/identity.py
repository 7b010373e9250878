"""The database's identity: one random UUID, made once, that names this database for ever.

Files on disk belong to one database (certificate PDFs, uploads), but a path such as
``var/files`` can be shared by mistake between two databases. The files folder is stamped
with this identity (``lms_core.files_identity``) so that a second database refuses to write
into, or clean up, a folder that is not its own. The URL cannot serve: the same database is
reached under several URLs, and two databases can have the same URL on two machines.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, func
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.models.base import Base, utcnow

#: The primary key of the one row the table holds.
IDENTITY_ROW = 1


class DatabaseIdentity(Base):
    __tablename__ = "database_identity"
    __table_args__ = (CheckConstraint(f"id = {IDENTITY_ROW}", name="single_row"),)

    #: Always 1: a second row would be a second identity.
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: A random UUID (``uuid4``, canonical text form), made by the migration or on first use.
    identity: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
