"""Uploaded files: course material and assignment submissions, stored by content hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lms_core.models.base import Base, utcnow


class StoredFile(Base):
    __tablename__ = "files"
    __table_args__ = (CheckConstraint("file_size >= 0", name="file_size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The name the uploader gave, for display and downloads only (never a path on disk).
    original_filename: Mapped[str] = mapped_column(String(255))
    #: ``<sha256>.<ext>``: the blob's name under the files directory.
    stored_filename: Mapped[str] = mapped_column(String(100))
    #: Path relative to the files directory (``ab/cd/<sha256>.<ext>``); never user-supplied.
    file_path: Mapped[str] = mapped_column(String(500))
    file_size: Mapped[int]
    #: Decided from the content (magic bytes), not the extension or the client.
    mime_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Set when the file is course material.
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
