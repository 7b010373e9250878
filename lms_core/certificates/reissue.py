"""Reissuing a certificate (a new PDF and number, the old one superseded), and the course
lock a single issue holds.

A reissue writes its PDF before its row commits; an issue run starting meanwhile on the
same course would delete that PDF as an orphan. So :func:`reissue_certificate` is a run: it
takes the course's ``certificates-<course id>`` lock and commits before letting it go, and
:func:`certificates_lock` gives other single issues (demo seed) the same lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.accounts import audit
from lms_core.actor import Actor
from lms_core.certificates.issue import default_renderer, issue_one
from lms_core.certificates.registry import CertificateRow, certificate_row, get_certificate
from lms_core.db import SessionFactory, unit_of_work
from lms_core.errors import Conflict
from lms_core.files_identity import claim_files_dir
from lms_core.locks import run_lock
from lms_core.models import Certificate, Course, utcnow
from lms_core.permissions import require_course_manager
from lms_core.settings import Settings


def reissue(
    session: Session, *, actor: Actor, number: str, settings: Settings, template: Path | None = None
) -> tuple[Certificate, Certificate]:
    """A new PDF and number (e.g. after a name change); the old one stays verifiable as superseded.

    The caller must hold the course's ``certificates-<course id>`` lock until it commits, or an
    issue run starting meanwhile deletes the new PDF as an orphan: use the run
    :func:`reissue_certificate`.
    """
    old = get_certificate(session, number)
    require_course_manager(actor, old.enrollment.course, "reissue its certificates")
    claim_files_dir(session, settings)
    if old.status != "valid":
        raise Conflict(
            f"{old.number} is {old.status}; only a valid certificate can be reissued",
            field="number",
            value=number,
        )
    old.superseded_at = utcnow()
    session.flush()
    new = issue_one(
        session,
        actor=actor,
        enrollment=old.enrollment,
        settings=settings,
        renderer=default_renderer(settings, template),
        template_name=template.name if template else "default",
        version=old.version + 1,
        supersedes_id=old.id,
    )
    audit.record(
        session,
        actor,
        "certificate.supersede",
        old,
        before={"status": "valid"},
        after={"status": "superseded", "by": new.number},
    )
    return old, new


#: How long ``reissue_certificate`` waits, by default, for an issue run on the course to end.
REISSUE_WAIT = 30.0


def reissue_certificate(
    factory: SessionFactory,
    *,
    actor: Actor,
    number: str,
    settings: Settings,
    template: Path | None = None,
    wait: float = REISSUE_WAIT,
) -> tuple[CertificateRow, str]:
    """Run: :func:`reissue` under the course's ``certificates-<course id>`` lock, committed.

    The lock is held from before the new PDF is written until its row has committed, so an
    issue run starting meanwhile waits instead of deleting that PDF as an orphan. Waits up to
    ``wait`` seconds for an issue run in progress, then refuses (Conflict, field ``lock``).
    Returns the new certificate's row and the superseded number.
    """
    with unit_of_work(factory, write=False) as session:
        old = get_certificate(session, number)
        course = old.enrollment.course
        require_course_manager(actor, course, "reissue its certificates")
        slug = course.slug
    with (
        certificates_lock(factory, slug, holder=actor.label, wait=wait),
        unit_of_work(factory) as session,
    ):
        old_cert, new = reissue(
            session, actor=actor, number=number, settings=settings, template=template
        )
        row = certificate_row(new)
        superseded = old_cert.number
    return row, superseded


@contextmanager
def certificates_lock(
    factory: SessionFactory, course_slug: str, *, holder: str, wait: float = REISSUE_WAIT
) -> Iterator[None]:
    """The course's ``certificates-<course id>`` lock, for a caller whose own unit of work
    writes a PDF (:func:`issue_one`): open that unit inside the block, so that it commits
    before the lock is let go. Waits up to ``wait`` seconds for an issue run on the course,
    then refuses (Conflict, field ``lock``). A course not created yet needs no lock: no run
    can find it, and its certificates commit with it.
    """
    with unit_of_work(factory, write=False) as session:
        course_id = session.scalar(select(Course.id).where(Course.slug == course_slug))
    if course_id is None:
        yield
        return
    name = f"certificates-{course_id}"
    with ExitStack() as stack:
        try:
            stack.enter_context(run_lock(factory, name, holder=holder, wait=wait))
        except Conflict:
            raise Conflict(
                f"an issue run on {course_slug} is in progress; try again when it ends"
                f" (waited {wait:g} s)",
                field="lock",
                value=name,
            ) from None
        yield
