"""Renaming certificate PDFs after the numbers the check-symbol migration gave them.

A run of its own (it takes each course's issue-run lock and commits per batch), kept apart
from issuing: ``lmsctl db upgrade`` and ``lmsctl init`` call it once the schema is current.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import inspect, select

from lms_core.db import SessionFactory, unit_of_work
from lms_core.files_identity import claim_files_dir
from lms_core.formats.atomic import fsync_folder, write_bytes
from lms_core.locks import run_lock
from lms_core.models import Certificate, Enrollment
from lms_core.settings import Settings


@dataclass
class RenameReport:
    """What :func:`rename_legacy_pdfs` did."""

    renamed: int = 0
    #: Numbers of certificates whose PDF is under neither name (left as they are).
    missing: list[str] = field(default_factory=list)


def rename_legacy_pdfs(
    factory: SessionFactory, settings: Settings, *, batch_size: int = 500, wait: float = 300
) -> RenameReport:
    """Run: name the PDFs of renumbered certificates after their current number, not the legacy one.

    The migration to the current check symbols gave certificates new numbers but cannot
    reach the files (``LMS-P758-DXF0-*.pdf``); ``lmsctl db upgrade`` runs this after it. Per
    course, holding its issue-run lock (``certificates-<course id>``, waiting up to ``wait``
    seconds for a run to end: a run removes PDFs no row names), and per batch: each PDF gets
    a hard link (or a copy) under its new name, ``pdf_path`` names that, the batch commits,
    and only then the old names go. Killed at any point, nothing is lost: before the commit
    the rows still name the old files (a new name left behind is replaced by the next run,
    or removed as an orphan by the next issue run); after it, an old name left behind is
    such an orphan. Running it again renames what is left; once done, nothing.
    """
    report = RenameReport()
    with unit_of_work(factory, write=False) as session:
        schema = inspect(session.connection())
        if not schema.has_table("certificates") or not any(
            column["name"] == "legacy_number" for column in schema.get_columns("certificates")
        ):
            return report  # the schema is older than the legacy numbers: nothing to rename
        todo: dict[int, list[int]] = {}
        for cert_id, course_id, path, number in session.execute(
            select(Certificate.id, Enrollment.course_id, Certificate.pdf_path, Certificate.number)
            .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
            .where(Certificate.legacy_number.is_not(None))
            .order_by(Certificate.id)
        ):
            if Path(path).name != f"{number}.pdf":
                todo.setdefault(course_id, []).append(cert_id)
    if todo:  # the PDFs are renamed in place: only in this database's own folder
        with unit_of_work(factory, write=False) as session:
            claim_files_dir(session, settings)
    for course_id, ids in todo.items():
        with run_lock(
            factory, f"certificates-{course_id}", holder="renaming certificate PDFs", wait=wait
        ):
            for start in range(0, len(ids), batch_size):
                _rename_batch(factory, settings, ids[start : start + batch_size], report)
    return report


def _rename_batch(
    factory: SessionFactory, settings: Settings, ids: list[int], report: RenameReport
) -> None:
    stale: list[Path] = []
    with unit_of_work(factory) as session:
        folders = set()
        for cert in session.scalars(select(Certificate).where(Certificate.id.in_(ids))):
            current = settings.files_dir / cert.pdf_path
            wanted = current.with_name(f"{cert.number}.pdf")
            if current.is_file():
                wanted.unlink(missing_ok=True)
                try:
                    wanted.hardlink_to(current)
                except OSError:  # no hard links on this file system: copy
                    write_bytes(wanted, current.read_bytes(), sync_folder=False)
                stale.append(current)
                folders.add(wanted.parent)
            elif not wanted.is_file():
                report.missing.append(cert.number)
                continue
            cert.pdf_path = str(wanted.relative_to(settings.files_dir))
            report.renamed += 1
        for folder in folders:
            fsync_folder(folder)
    for path in stale:
        path.unlink(missing_ok=True)
