"""Re-runs of an unchanged file: recognised from the bytes and the audit log, skipped.

A cron job importing the same export every night should cost a checksum, not an import:
:func:`unchanged_since` finds the applied run of these very bytes when nothing the import
reads changed since (``--recheck`` reads the file anyway). Split from :mod:`runs`, which
calls it before opening the file. A plan applied again (:func:`applied_plan`) is found by
the name of its file, which the run records.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from lms_core.db import SessionFactory, unit_of_work
from lms_core.imports.options import ImportOptions
from lms_core.imports.plan.changes import new_counts
from lms_core.imports.report import ImportReport
from lms_core.models import ImportStatus


def file_sha256(*paths: Path) -> str:
    """Of the bytes of ``paths``, one after the other (what ``Opened.sha256`` records)."""
    digest = hashlib.sha256()
    for path in paths:
        if path.is_file():
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def input_sha256(entity: str, path: Path, options: ImportOptions) -> str | None:
    """The SHA-256 the run will record, from the bytes alone, before any file is opened
    (opening a 100k-row workbook takes a second); None for a OneRoster bundle (known once
    it is opened) and when the check does not apply (see ``unchanged_since``)."""
    if (
        options.recheck
        or options.dry_run
        or options.plan_out is not None
        or options.sheet is not None
        or options.encoding is not None
        or entity == "oneroster"
        or not path.is_file()
    ):
        return None
    paths = [path]
    if entity == "courses" and options.lessons is not None and options.lessons != path:
        paths.append(options.lessons)
    return file_sha256(*paths)


#: The tables whose records an import of each kind reads or writes: a change to any of them
#: since the last run (seen in the audit log) means the same file may now plan changes.
_READS = {
    "users": ("users",),
    "courses": ("courses", "lessons", "users"),
    "enrollments": ("enrollments", "users", "courses"),
    "oneroster": ("users", "courses", "lessons", "enrollments"),
}


def unchanged_since(
    factory: SessionFactory, entity: str, options: ImportOptions, sha256: str | None
) -> int | None:
    """The run that applied these very bytes, as the latest applied run of this kind, when
    nothing it reads changed since.

    A re-run of the same file in the same mode then has nothing to do. Not when the latest
    run of the kind was undone or read another file; not when the audit log shows a change
    since to a record of a kind the import reads (an edit by hand, which a re-run would put
    back) or another import or undo; nor for a dry run (it shows the plan), a sheet or
    encoding chosen by hand (the ledger does not record them), ``--plan-out``, or a recheck.
    """
    if not sha256 or options.dry_run:
        return None
    from sqlalchemy import and_, exists, or_, select

    from lms_core.models import AuditEntry, ImportRun

    with unit_of_work(factory, write=False) as session:
        last = session.scalars(
            select(ImportRun)
            .where(
                ImportRun.entity == entity,
                ImportRun.status.in_([ImportStatus.applied.value, ImportStatus.undone.value]),
            )
            .order_by(ImportRun.id.desc())
            .limit(1)
        ).first()
        if (
            last is not None
            and last.status == ImportStatus.applied.value
            and last.file_sha256 == sha256
            and last.mode == options.mode
            and last.finished_at is not None
        ):
            changed = session.scalar(
                select(
                    exists().where(
                        AuditEntry.created_at > last.finished_at,
                        or_(
                            AuditEntry.entity_type.in_(_READS.get(entity, ())),
                            and_(
                                AuditEntry.entity_type == "import_run",
                                AuditEntry.entity_id != last.id,
                            ),
                        ),
                    )
                )
            )
            if not changed:
                return last.id
    return None


def skipped(report: ImportReport, run_id: int, started: float) -> ImportReport:
    """Nothing read, nothing written, no run recorded; zero counts (scripts read them)."""
    report.unchanged_since = run_id
    report.counts = dict(new_counts())
    report.duration_ms = int((time.monotonic() - started) * 1000)
    return report


#: ``ImportRun.file_name``'s length.
_NAME_CHARS = 500


def plan_run_name(file: str, plan: str) -> str:
    """The name a plan's run is recorded under, ``<file> (plan <plan file>)``: the input's
    name is shortened, never the plan's, so that :func:`applied_plan` finds it whole."""
    suffix = f" (plan {plan})"
    return f"{file[: max(_NAME_CHARS - len(suffix), 0)]}{suffix}"[:_NAME_CHARS]


def applied_plan(factory: SessionFactory, plan: str) -> tuple[int, dict[str, Any]] | None:
    """The run that applied the plan file named ``plan`` (undone since, or not), with its counts.

    Only meaningful for a name no other plan has (the back office's ``plan-<stage>.json``):
    the CLI's ``plan.json`` is anyone's. A run still under way is recorded as failed until
    its commit (:func:`lms_core.imports.ledger.record_start`), so it is not found.
    """
    from sqlalchemy import select

    from lms_core.models import ImportRun

    suffix = f" (plan {plan})"
    with unit_of_work(factory, write=False) as session:
        found = session.execute(
            select(ImportRun.id, ImportRun.counts)
            .where(
                ImportRun.file_name.endswith(suffix, autoescape=True),
                ImportRun.status.in_([ImportStatus.applied.value, ImportStatus.undone.value]),
            )
            .order_by(ImportRun.id)
            .limit(1)
        ).first()
    return None if found is None else (found.id, dict(found.counts or {}))
