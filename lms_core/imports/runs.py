"""Bulk imports, the front door for the CLI, the back office and jobs.

``import_file`` runs read → validate → resolve → plan → apply for a users, courses (with
lessons), enrollments or OneRoster file, in ONE transaction under the database's import lock;
``apply_plan_file`` applies a saved plan. These two are *runs* (docs/architecture.md): like
``issue_certificates`` they take the session *factory* and commit themselves, because a
refused run is recorded in a short transaction of its own after the rollback and the lock
lives outside the transaction. ``import_history`` and ``undo_import`` are *services*: they
take the caller's session, and an undo flushes inside the caller's one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.db import SessionFactory, unit_of_work
from lms_core.errors import FileProblem, FileRefused, ProblemCollector, ValidationError
from lms_core.imports import ledger
from lms_core.imports.context import Context
from lms_core.imports.invites import Invites
from lms_core.imports.options import ImportOptions as ImportOptions  # the front door re-exports it
from lms_core.imports.passwords import PasswordPool
from lms_core.imports.pipeline import CHUNK, Writer, run_stages
from lms_core.imports.plan.changes import ChangeLog
from lms_core.imports.plan.saved import read_plan, refuse_passwords, stale, write_plan
from lms_core.imports.records import Problems
from lms_core.imports.report import ImportReport
from lms_core.imports.rerun import (
    applied_plan,
    file_sha256,
    input_sha256,
    plan_run_name,
    skipped,
    unchanged_since,
)
from lms_core.imports.stages import ENTITIES, open_stages
from lms_core.locks import run_lock
from lms_core.models import ImportMode, ImportStatus
from lms_core.permissions import require_admin
from lms_core.settings import Settings

Progress = Callable[[str, int], None]


class _Refused(Exception):
    """Problems found: roll the run back, then record it as refused."""


def _check_options(entity: str, options: ImportOptions) -> None:
    if entity not in ENTITIES:
        raise ValidationError(f"must be one of {', '.join(ENTITIES)}", field="entity", value=entity)
    if options.mode not in {m.value for m in ImportMode}:
        raise ValidationError(
            "must be one of add, update, upsert, sync", field="mode", value=options.mode
        )
    if options.max_removals is not None and options.max_removals < 0:
        raise ValidationError("must be 0 or more", field="max_removals", value=options.max_removals)


def import_file(
    factory: SessionFactory,
    *,
    actor: Actor,
    settings: Settings,
    entity: str,
    path: Path,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Run: import ``path`` as ``entity`` (users, courses, enrollments, oneroster), all or nothing.

    Takes the ``import`` run lock (none for a dry run) and commits the whole import, ledger
    included, in ONE transaction; a refused or failed run is rolled back, then committed to
    the ledger as such in a short transaction of its own. Returns the report; a refused run
    (problems in the file, a sync over the threshold) comes back with ``errors`` and no change
    written. Raises ``Conflict`` when another import holds the lock.
    """
    require_admin(actor, "run imports")
    options = options or ImportOptions()
    _check_options(entity, options)
    tick = progress or (lambda _what, _n: None)
    started = time.monotonic()
    report = ImportReport(entity=entity, mode=options.mode, dry_run=options.dry_run)
    ctx = Context(
        actor=actor, mode=options.mode, problems=Problems(), remember_users=entity == "oneroster"
    )
    report.warnings = ctx.warnings  # unknown columns, found when the files are opened
    log = ChangeLog()
    report.log = log
    name = path.name
    since = unchanged_since(factory, entity, options, input_sha256(entity, path, options))
    if since is not None:
        return skipped(report, since, started)
    with ExitStack() as stack:
        try:
            opened = open_stages(entity, path, options, settings, ctx)
        except FileRefused as exc:
            problems = ProblemCollector()
            problems.extend(e for e in exc.errors if isinstance(e, FileProblem))
            return _refuse(
                factory, report, actor, name, file_sha256(path), problems, started, options
            )
        for table in opened.tables:
            stack.callback(table.close)
        name = opened.file_name
        if entity == "oneroster" and not (options.recheck or options.plan_out or options.dry_run):
            since = unchanged_since(factory, entity, options, opened.sha256())
            if since is not None:
                return skipped(report, since, started)
        if options.plan_out is not None:
            refuse_passwords(opened.columns, opened.main_file)
        invites = Invites(
            settings.public_base_url, None if options.dry_run else options.invites_out
        )
        stack.callback(invites.discard)
        pool = PasswordPool(settings) if opened.has_passwords and not options.dry_run else None
        if pool is not None:
            stack.callback(pool.close)
        lock = (
            nullcontext()
            if options.dry_run
            else run_lock(factory, "import", holder=actor.label, wait=options.wait)
        )
        with lock:
            # Recorded before it works, so that a killed run shows in the history.
            started_id = (
                None
                if options.dry_run
                else ledger.record_start(
                    factory, actor=actor, entity=entity, mode=options.mode, file_name=name
                )
            )
            try:
                with unit_of_work(factory, write=not options.dry_run) as session:
                    writer = None
                    run = None
                    if not options.dry_run:
                        run = ledger.start_run(
                            session,
                            actor=actor,
                            entity=entity,
                            mode=options.mode,
                            file_name=name,
                            sha256="",
                            run_id=started_id,
                        )
                        writer = Writer(
                            session,
                            run_id=run.id,
                            now=ctx.now,
                            pool=pool,
                            invites=invites,
                            progress=tick,
                        )
                    run_stages(session, ctx, opened.stages(options), log, writer, tick)
                    report.counts = log.summary(entity)
                    if ctx.problems:
                        raise _Refused
                    if writer is not None:
                        writer.analyze()
                    if run is not None:
                        ledger.finish_run(
                            session,
                            run,
                            actor=actor,
                            counts=report.counts,
                            sha256=opened.sha256(),
                            started=started,
                        )
                        report.run_id = run.id
            except _Refused:
                return _refuse(
                    factory,
                    report,
                    actor,
                    name,
                    opened.sha256(),
                    ctx.problems,
                    started,
                    options,
                    opened,
                    run_id=started_id,
                )
            except Exception as exc:
                if started_id is not None and isinstance(exc, ValidationError):
                    ledger.discard_start(factory, started_id)
                if not options.dry_run and not isinstance(exc, ValidationError):
                    ledger.record_outcome(
                        factory,
                        actor=actor,
                        entity=entity,
                        mode=options.mode,
                        file_name=name,
                        sha256=opened.sha256(),
                        status=ImportStatus.failed.value,
                        counts=report.counts,
                        message=f"{type(exc).__name__}: {exc}",
                        started=started,
                        run_id=started_id,
                    )
                raise
            # After the commit, outside the try: a failure here (the links file cannot be
            # moved into place) must not rewrite the applied run as failed.
            invites.commit()
            report.invites = invites.count
            report.uninvited = invites.needed
        if options.plan_out is not None:
            write_plan(
                options.plan_out,
                {
                    "entity": entity,
                    "mode": options.mode,
                    "file": name,
                    "sha256": opened.sha256(),
                    "counts": report.counts,
                },
                log,
            )
    report.duration_ms = int((time.monotonic() - started) * 1000)
    return report


def _refuse(
    factory: SessionFactory,
    report: ImportReport,
    actor: Actor,
    name: str,
    sha256: str,
    problems: ProblemCollector,
    started: float,
    options: ImportOptions,
    opened: Any = None,
    run_id: int | None = None,
) -> ImportReport:
    report.errors = list(problems.items)
    report.error_count = max(problems.count, 1)
    report.duration_ms = int((time.monotonic() - started) * 1000)
    message = problems.messages(5)
    if not options.dry_run:
        ledger.record_outcome(
            factory,
            actor=actor,
            entity=report.entity,
            mode=report.mode,
            file_name=name,
            sha256=sha256,
            status=ImportStatus.refused.value,
            counts=report.counts,
            message=message,
            started=started,
            run_id=run_id,
        )
    if options.errors_out is not None and opened is not None:
        from lms_core.imports.errors_file import write_errors

        write_errors(options.errors_out, opened, problems.items)
    return report


def apply_plan_file(
    factory: SessionFactory,
    *,
    actor: Actor,
    settings: Settings,
    path: Path,
    wait: float = 0,
    invites_out: Path | None = None,
    progress: Progress | None = None,
    once: bool = False,
) -> ImportReport:
    """Run: apply exactly the plan in ``path``; refused (and recorded) if any record changed since.

    Takes the ``import`` run lock and commits the plan in ONE transaction; a stale plan is
    rolled back and committed to the ledger as refused in a short transaction of its own.
    ``once``: the plan's file name is unique (the back office names it after its stage), so
    a run recorded as applying a plan of that name, found under the lock, means it was
    applied already (by an attempt killed before it said so, or a second worker): nothing is
    done or recorded and ``applied_by`` names that run, instead of a refusal by its own changes.
    """
    require_admin(actor, "run imports")
    tick = progress or (lambda _what, _n: None)
    started = time.monotonic()
    header, changes = read_plan(path)
    entity, mode = str(header.get("entity")), str(header.get("mode"))
    report = ImportReport(entity=entity, mode=mode, dry_run=False)
    log = ChangeLog()
    report.log = log
    name = plan_run_name(str(header.get("file")), path.name)
    invites = Invites(settings.public_base_url, invites_out)
    ctx = Context(actor=actor, mode=mode, problems=Problems())
    started_id: int | None = None
    try:
        with run_lock(factory, "import", holder=actor.label, wait=wait):
            before = applied_plan(factory, path.name) if once else None
            if before is not None:
                invites.discard()
                report.applied_by, report.counts = before
                return report
            # Recorded before it works, so that a killed run shows in the history.
            started_id = ledger.record_start(
                factory, actor=actor, entity=entity, mode=mode, file_name=name
            )
            with unit_of_work(factory) as session:
                problems = stale(session, changes, path.name)
                if problems:
                    report.counts = header.get("counts", {})
                    raise _Refused(problems)
                run = ledger.start_run(
                    session,
                    actor=actor,
                    entity=entity,
                    mode=mode,
                    file_name=name,
                    sha256=str(header.get("sha256", "")),
                    run_id=started_id,
                )
                writer = Writer(
                    session, run_id=run.id, now=ctx.now, pool=None, invites=invites, progress=tick
                )
                for i in range(0, len(changes), CHUNK):
                    chunk = changes[i : i + CHUNK]
                    writer.write(chunk)
                    for change in chunk:
                        log.add(change)
                    tick("changes", i + len(chunk))
                report.counts = _plan_counts(header.get("counts", {}), log.summary(entity))
                writer.analyze()
                ledger.finish_run(
                    session,
                    run,
                    actor=actor,
                    counts=report.counts,
                    sha256=str(header.get("sha256", "")),
                    started=started,
                )
                report.run_id = run.id
    except _Refused as exc:
        invites.discard()
        found = ProblemCollector()
        found.extend(exc.args[0])
        sha256 = str(header.get("sha256", ""))
        return _refuse(
            factory, report, actor, name, sha256, found, started, ImportOptions(), run_id=started_id
        )
    except BaseException as exc:
        invites.discard()
        if started_id is not None and isinstance(exc, ValidationError):
            ledger.discard_start(factory, started_id)
        elif started_id is not None and isinstance(exc, Exception):
            ledger.record_outcome(
                factory,
                actor=actor,
                entity=entity,
                mode=mode,
                file_name=name,
                sha256=str(header.get("sha256", "")),
                status=ImportStatus.failed.value,
                counts=report.counts,
                message=f"{type(exc).__name__}: {exc}",
                started=started,
                run_id=started_id,
            )
        raise
    invites.commit()  # after the commit, outside the try (see import_file)
    report.invites = invites.count
    report.uninvited = invites.needed
    report.duration_ms = int((time.monotonic() - started) * 1000)
    return report


def _plan_counts(planned: dict[str, Any], applied: dict[str, Any]) -> dict[str, Any]:
    """Applied counts, with the plan's ``unchanged`` (a plan file lists only changes)."""
    out = dict(applied)
    for key, value in planned.items():
        if key == "unchanged":
            out[key] = value
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], "unchanged": value.get("unchanged", 0)}
    return out


def import_history(session: Session, *, actor: Actor, limit: int = 20) -> list[dict[str, Any]]:
    require_admin(actor, "see the import history")
    return ledger.history(session, limit=limit)


def undo_import(
    session: Session, *, actor: Actor, run_id: int, dry_run: bool = False
) -> ledger.UndoReport:
    """Restore the records of an applied run (all or nothing); flushes, never commits."""
    require_admin(actor, "undo imports")
    return ledger.undo(session, actor=actor, run_id=run_id, dry_run=dry_run)
