"""A course's valid certificates as one zip: every PDF and a manifest CSV, for archives and
for handing to a registrar."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.certificates.registry import list_certificates
from lms_core.errors import Conflict
from lms_core.formats.atomic import atomic_binary
from lms_core.formats.output import csv_bytes
from lms_core.formats.safe_cells import safe_cell
from lms_core.permissions import require_course_manager
from lms_core.settings import Settings


def export_zip(
    session: Session, *, actor: Actor, course_slug: str, settings: Settings, out: Path
) -> int:
    """All valid PDFs of a course and a manifest CSV, written atomically to ``out``."""
    course = get_course(session, course_slug)
    require_course_manager(actor, course, "export its certificates")
    certs = list_certificates(session, actor=actor, course_slug=course_slug, status="valid")
    # legacy_number: the number printed on a PDF issued before the current check symbols.
    manifest: list[list[object]] = [
        ["learner", "email", "number", "issued_at", "sha256", "legacy_number"]
    ]
    # Streamed to a temporary file (one PDF in memory at a time), then renamed into place.
    with (
        atomic_binary(out) as stream,
        zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for cert in certs:
            try:
                pdf = (settings.files_dir / cert.pdf_path).read_bytes()
            except OSError as exc:  # removed, or unreadable: the archive would lack it
                raise Conflict(
                    f"the stored PDF of {cert.number} is missing; reissue it "
                    f"({exc.strerror or type(exc).__name__})",
                    field="number",
                    value=cert.number,
                ) from None
            if hashlib.sha256(pdf).hexdigest() != cert.pdf_sha256:
                raise Conflict(
                    f"the stored PDF of {cert.number} is not the one issued "
                    f"(SHA-256 differs); reissue it",
                    field="number",
                    value=cert.number,
                )
            archive.writestr(f"{cert.number}.pdf", pdf)
            manifest.append(
                [
                    safe_cell(v)
                    for v in (
                        cert.learner_name,
                        cert.enrollment.student.email,
                        cert.number,
                        cert.issued_at.isoformat(),
                        cert.pdf_sha256,
                        cert.legacy_number or "",
                    )
                ]
            )
        # Encoded as every CSV file we write: UTF-8 with a BOM (lms_core.formats.output).
        archive.writestr("manifest.csv", csv_bytes(manifest))
    return len(certs)
