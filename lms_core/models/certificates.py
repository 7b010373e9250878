"""Certificates issued for enrollments, with revocation and versioned reissues."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms_core.models.base import Base, utcnow
from lms_core.models.enrollments import Enrollment
from lms_core.models.partial_index import partial_unique_index

_VALID = "revoked_at IS NULL AND superseded_at IS NULL"


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        # At most one valid certificate per enrollment: two runs at once cannot issue twice.
        partial_unique_index("uq_certificates_valid_enrollment", "enrollment_id", where=_VALID),
        CheckConstraint("version >= 1", name="version_positive"),
        # An index, not a constraint: SQLite adds it without rebuilding the table.
        Index("uq_certificates_legacy_number", "legacy_number", unique=True),
        # Reports: certificates issued per month over a period.
        Index("ix_certificates_issued_at", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("enrollments.id", ondelete="CASCADE"), index=True
    )
    #: ``LMS-XXXX-XXXX-C`` (see lms_core.certificates.numbers).
    number: Mapped[str] = mapped_column(String(20), unique=True)
    #: The number it was issued with under the legacy mod-37 check (``LMS-P758-DXF0-*``), when
    #: the migration to the current check symbols renumbered it; printed on its PDF and QR
    #: code, so verification still finds it by this number.
    legacy_number: Mapped[str | None] = mapped_column(String(20))
    #: The template file name it was rendered with (``default`` for the bundled one).
    template: Mapped[str] = mapped_column(String(200), default="default")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The name and title as printed: verification shows what the paper says.
    learner_name: Mapped[str] = mapped_column(String(200))
    course_title: Mapped[str] = mapped_column(String(200))
    #: Path of the PDF relative to the files directory.
    pdf_path: Mapped[str] = mapped_column(String(500))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by: Mapped[str | None] = mapped_column(String(320))
    #: 1 for the first issue; a reissue is the previous version + 1 and supersedes it.
    version: Mapped[int] = mapped_column(default=1)
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="SET NULL")
    )
    superseded_at: Mapped[datetime | None]

    enrollment: Mapped[Enrollment] = relationship(lazy="joined")

    @property
    def status(self) -> str:
        return certificate_status(self.revoked_at, self.superseded_at)


def certificate_status(revoked_at: datetime | None, superseded_at: datetime | None) -> str:
    """``revoked``, ``superseded`` or ``valid``: the rule, for a row read as columns too."""
    if revoked_at is not None:
        return "revoked"
    if superseded_at is not None:
        return "superseded"
    return "valid"
