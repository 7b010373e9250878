"""Issuing certificates: batch runs, single issues, reissues, and PDF storage.

Crash safety: a PDF is written to a temporary file, fsynced and renamed into place *before*
the row that names it is committed, one batch at a time. A run killed mid-way therefore
leaves only whole certificates (row and PDF) plus, at worst, PDFs whose batch never
committed; a later run removes those once they are older than a grace period
(:mod:`lms_core.certificates.orphans`, which also refuses a files folder of another
database) and the next run issues the rest. A run holds a per-course lock, and the database
allows one valid certificate per enrollment, so two runs at once never issue twice. A reissue (``reissue.reissue_certificate``) holds the same lock
until its row commits, so the orphan clean-up never sees its PDF unnamed.

Revoked certificates stay revoked: a run skips learners whose certificate was revoked and
counts them (``revoked``). ``include_revoked=True`` (administrators only) issues each of them
a *new* certificate (new number and PDF, version + 1, ``supersedes_id`` naming the revoked
one); the revoked one keeps verifying as revoked. To make the revoked certificate itself
valid again, use ``registry.reinstate``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core import events
from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.catalog.courses import get_course
from lms_core.certificates.numbers import new_number, normalize_number
from lms_core.certificates.orphans import certificates_dir, remove_orphans
from lms_core.certificates.registry import (
    Eligibility,
    eligibility,
)
from lms_core.db import SessionFactory, unit_of_work
from lms_core.errors import ValidationError
from lms_core.files_identity import claim_files_dir
from lms_core.formats.atomic import fsync_folder, write_bytes
from lms_core.locks import run_lock
from lms_core.mail.notify import queue_certificate_mails
from lms_core.models import Certificate, Enrollment, utcnow
from lms_core.permissions import require_admin, require_course_manager
from lms_core.settings import Settings

if TYPE_CHECKING:
    from lms_core.certificates.pdf.render import CertificateFields, Renderer


def fields_for(enrollment: Enrollment, settings: Settings, number: str) -> CertificateFields:
    from lms_core.certificates.pdf.render import CertificateFields

    return CertificateFields(
        learner=enrollment.student.full_name,
        course=enrollment.course.title,
        date=utcnow().strftime("%d %B %Y"),
        instructor=enrollment.course.instructor.full_name,
        number=number,
        verify_url=f"{settings.public_base_url.rstrip('/')}/verify/{number}",
    )


def uncovered(renderer: Renderer, fields: CertificateFields) -> list[str]:
    """Characters of the printed names that no font can draw (never print them as boxes)."""
    return renderer.missing_glyphs(fields.learner + fields.course + fields.instructor)


def _certificate(
    settings: Settings,
    enrollment_id: int,
    fields: CertificateFields,
    pdf: bytes,
    path: Path,
    template: str,
    **extra: Any,
) -> Certificate:
    return Certificate(
        enrollment_id=enrollment_id,
        number=fields.number,
        template=template,
        learner_name=fields.learner,
        course_title=fields.course,
        pdf_path=str(path.relative_to(settings.files_dir)),
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        **extra,
    )


def _audit_issue(session: Session, actor: Actor, cert: Certificate, *, flush: bool = True) -> None:
    audit.record(
        session,
        actor,
        "certificate.issue",
        cert,
        flush=flush,
        after={
            "number": cert.number,
            "enrollment_id": cert.enrollment_id,
            "version": cert.version,
            "sha256": cert.pdf_sha256,
        },
    )
    events.certificate_event(session, "certificate.issued", cert)


def _store(
    session: Session,
    actor: Actor,
    settings: Settings,
    enrollment: Enrollment,
    fields: CertificateFields,
    pdf: bytes,
    template: str,
    **extra: Any,
) -> Certificate:
    """One certificate: its PDF made durable, then its row and audit entry (caller commits)."""
    path = certificates_dir(settings, enrollment.course_id) / f"{fields.number}.pdf"
    write_bytes(path, pdf)
    cert = _certificate(settings, enrollment.id, fields, pdf, path, template, **extra)
    session.add(cert)
    session.flush()
    _audit_issue(session, actor, cert)
    queue_certificate_mails(session, settings, [(cert, enrollment.student.email)])
    return cert


@dataclass
class IssueReport:
    course: str
    dry_run: bool
    issued: list[dict[str, Any]] = field(default_factory=list)
    #: Learners whose names the fonts cannot draw: ``{learner, email, missing, characters}``.
    uncovered: list[dict[str, Any]] = field(default_factory=list)
    already: int = 0
    not_eligible: int = 0
    #: Learners skipped because their certificate was revoked (without ``include_revoked``).
    revoked: int = 0
    include_revoked: bool = False
    orphans_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The --json document; ``errors`` in the shape every command uses."""
        errors = [
            {
                "field": "learner",
                "value": u["learner"],
                "message": f"{u['email']}: the fonts cannot draw {u['missing']} character(s) "
                f"({u['characters']}); not issued",
            }
            for u in self.uncovered
        ]
        return {
            "course": self.course,
            "dry_run": self.dry_run,
            "issued": self.issued,
            "uncovered": self.uncovered,
            "errors": errors,
            "already": self.already,
            "not_eligible": self.not_eligible,
            "revoked": self.revoked,
            "include_revoked": self.include_revoked,
            "orphans_removed": self.orphans_removed,
        }


def issue_certificates(
    factory: SessionFactory,
    *,
    actor: Actor,
    course_slug: str,
    settings: Settings,
    template: Path | None = None,
    workers: int = 1,
    batch_size: int = 50,
    dry_run: bool = False,
    wait: float = 0,
    progress: Callable[[int, int], None] | None = None,
    include_revoked: bool = False,
) -> IssueReport:
    """Run: issue a certificate to every eligible learner who has none, committing each batch.

    Takes the ``certificates-<course id>`` run lock and commits one transaction per batch of
    ``batch_size`` certificates (each PDF written and fsynced before its row commits). A rerun
    issues nothing new; an interrupted run is finished by the next one. Learners whose
    certificate was revoked are skipped and counted, unless ``include_revoked`` (administrators
    only) issues them a new one.
    """
    from lms_core.certificates.pdf.render import RenderPool

    if workers < 1 or batch_size < 1:
        raise ValidationError("must be 1 or more", field="workers" if workers < 1 else "batch_size")
    template_name = template.name if template else "default"
    with unit_of_work(factory, write=False) as session:
        course = get_course(session, course_slug)
        require_course_manager(actor, course, "issue its certificates")
        if include_revoked:
            require_admin(actor, "issue certificates to learners whose certificate was revoked")
        course_id = course.id
    # Before the lock: refused without waiting for it. A claim only reads the database.
    with unit_of_work(factory, write=False) as session:
        claim_files_dir(session, settings, stamp=not dry_run)
    report = IssueReport(course=course_slug, dry_run=dry_run, include_revoked=include_revoked)
    with (
        run_lock(factory, f"certificates-{course_id}", holder=actor.label, wait=wait),
        RenderPool(
            template,
            page_size=settings.certificate_page_size.value,
            extra_fonts_dir=settings.fonts_dir,
            workers=1 if dry_run else workers,
        ) as pool,
    ):
        with unit_of_work(factory) as session:
            if not dry_run:
                report.orphans_removed = remove_orphans(session, settings, course_id)
            pending = _pending(session, actor, settings, course_slug, pool.renderer, report)
        if dry_run:
            report.issued = [
                {"number": None, "learner": p.fields.learner, "email": p.email}
                | ({"replaces": p.replaces} if p.replaces else {})
                for p in pending
            ]
            return report
        # One stream over every pending certificate keeps the workers busy across batch
        # boundaries; each batch of results is stored and committed as one unit.
        pdfs = pool.map(p.fields for p in pending)
        folder = certificates_dir(settings, course_id)
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            with unit_of_work(factory) as session:
                certs = []
                for item, pdf in zip(batch, islice(pdfs, len(batch)), strict=True):
                    path = folder / f"{item.fields.number}.pdf"
                    write_bytes(path, pdf, sync_folder=False)
                    certs.append(
                        _certificate(
                            settings,
                            item.enrollment_id,
                            item.fields,
                            pdf,
                            path,
                            template_name,
                            **item.extra,
                        )
                    )
                fsync_folder(folder)
                session.add_all(certs)
                session.flush()
                for item, cert in zip(batch, certs, strict=True):
                    _audit_issue(session, actor, cert, flush=False)
                    report.issued.append(
                        {"number": cert.number, "learner": cert.learner_name, "email": item.email}
                        | ({"replaces": item.replaces} if item.replaces else {})
                    )
                queue_certificate_mails(
                    session, settings, [(c, i.email) for i, c in zip(batch, certs, strict=True)]
                )
            if progress:
                progress(start + len(batch), len(pending))
    return report


@dataclass(frozen=True)
class _Pending:
    enrollment_id: int
    email: str
    fields: CertificateFields
    #: The revoked certificate this one is issued in place of (``include_revoked``).
    replaces: str | None = None
    #: Extra columns: the version and ``supersedes_id`` of a certificate replacing a revoked one.
    extra: dict[str, Any] = field(default_factory=dict)


def _pending(
    session: Session,
    actor: Actor,
    settings: Settings,
    course_slug: str,
    renderer: Renderer,
    report: IssueReport,
) -> list[_Pending]:
    """Eligible learners without a certificate, with their fields; counts the others.

    A learner whose certificate was revoked is counted in ``report.revoked`` and skipped,
    unless ``report.include_revoked``: then, if eligible, they get a new certificate.
    """
    pending: list[_Pending] = []
    for row in eligibility(session, actor=actor, course_slug=course_slug):
        if row.certificate_status == "valid":
            report.already += 1
        elif row.certificate_status == "revoked" and not report.include_revoked:
            report.revoked += 1
        elif not row.eligible:
            report.not_eligible += 1
        else:
            fields = fields_for(row.enrollment, settings, new_number())
            missing = uncovered(renderer, fields)
            if missing:
                report.uncovered.append(
                    {
                        "learner": fields.learner,
                        "email": row.enrollment.student.email,
                        "missing": len(missing),
                        "characters": "".join(sorted(set(missing))),
                    }
                )
            else:
                replaces, extra = _replacing(session, row)
                pending.append(
                    _Pending(
                        row.enrollment.id, row.enrollment.student.email, fields, replaces, extra
                    )
                )
    return pending


def _replacing(session: Session, row: Eligibility) -> tuple[str | None, dict[str, Any]]:
    """For a learner whose certificate was revoked: its number, and the new one's lineage."""
    if row.certificate_status != "revoked" or row.certificate is None:
        return None, {}
    revoked = session.scalars(
        select(Certificate).where(Certificate.number == row.certificate)
    ).one()
    return revoked.number, {"version": revoked.version + 1, "supersedes_id": revoked.id}


def issue_one(
    session: Session,
    *,
    actor: Actor,
    enrollment: Enrollment,
    settings: Settings,
    renderer: Renderer,
    template_name: str = "default",
    number: str | None = None,
    **extra: Any,
) -> Certificate:
    """Render and store one certificate inside the caller's transaction (demo seed, reissue).

    ``number``: a given number (the demo's fixed one, see :func:`unused_number`) instead of a
    fresh random one. Until the caller commits, the PDF has no row: an issue run on the course
    starting meanwhile would remove it as an orphan, so hold the course lock (as
    ``reissue.reissue_certificate`` does) where such a run may overlap.
    """
    claim_files_dir(session, settings)
    fields = fields_for(enrollment, settings, number or new_number())
    missing = uncovered(renderer, fields)
    if missing:
        raise ValidationError(
            f"the fonts cannot draw {len(missing)} character(s) of {fields.learner!r}: "
            f"{''.join(sorted(set(missing)))}; add a font to LMS_FONTS_DIR",
            field="learner",
            value=fields.learner,
        )
    return _store(
        session,
        actor,
        settings,
        enrollment,
        fields,
        renderer.render(fields),
        template_name,
        **extra,
    )


def unused_number(session: Session, preferred: str) -> str:
    """``preferred`` (in canonical form) if no certificate has it yet, else a fresh number."""
    canonical = normalize_number(preferred)
    taken = session.scalar(
        select(Certificate.id).where(
            (Certificate.number == canonical) | (Certificate.legacy_number == canonical)
        )
    )
    return new_number() if taken is not None else canonical


def default_renderer(settings: Settings, template: Path | None = None) -> Renderer:
    from lms_core.certificates.pdf.render import Renderer
    from lms_core.certificates.pdf.templates import load_template

    spec = load_template(template, page_size=settings.certificate_page_size.value)
    return Renderer(spec, extra_fonts_dir=settings.fonts_dir)


def render_preview(
    settings: Settings,
    *,
    name: str,
    course_title: str = "Sample Course",
    template: Path | None = None,
) -> bytes:
    """A sample certificate for checking a template or a name's script; no database."""
    from lms_core.certificates.pdf.render import CertificateFields

    number = "LMS-0000-0000-0"
    fields = CertificateFields(
        learner=name,
        course=course_title,
        date="1 January 2026",
        instructor="Sample Instructor",
        number=number,
        verify_url=f"{settings.public_base_url.rstrip('/')}/verify/{number}",
    )
    renderer = default_renderer(settings, template)
    missing = renderer.missing_glyphs(name + course_title)
    if missing:
        raise ValidationError(
            f"the fonts cannot draw {len(missing)} character(s): "
            f"{''.join(sorted(set(missing)))}; add a font to LMS_FONTS_DIR",
            field="name",
            value=name,
        )
    return renderer.render(fields)
