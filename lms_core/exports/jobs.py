"""The scheduled-export jobs: ``exports.dispatch`` queues due slots, ``exports.scheduled``
writes one file.

Exactly once, by the slot: a slot's job has the key ``export:<name>:<slot minute>`` (queued
once however many workers or crons look) and its file the name
``<name>-<slot, UTC>.<ext>``, written atomically (a temporary file renamed into place). A
worker killed mid-export leaves no file, or a whole one; the job's retry writes the same
name again, so a slot never leaves two files. Retention then deletes the oldest files of
*this* schedule beyond ``keep``: only names ``<name>-<timestamp>.<ext>``, never another
schedule's or anyone else's file in the folder, nor a file a mail still to be sent attaches
(a report schedule's ``--mail``, read when the mail goes out: SMTP down for a few slots must
not make those mails fail for good); the next run after the mail is sent deletes it.

A run that fails (the folder was removed, the course deleted) records its error on the
schedule (``schedules list`` shows it) and fails the job, which the ledger retries.
"""

from __future__ import annotations

import os
import re
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lms_core.actor import Actor
from lms_core.db import SessionFactory, unit_of_work
from lms_core.errors import LmsError, ValidationError
from lms_core.exports.schedules import due_slots, get_schedule, slot_key
from lms_core.jobs import ledger
from lms_core.jobs.registry import JobContext, handler
from lms_core.models import utcnow
from lms_core.models.jobs import Job
from lms_core.models.schedules import ExportKind, ExportSchedule
from lms_core.settings import Settings

#: Big exports take minutes: a lease shorter than the longest would run one twice at once.
LEASE_SECONDS = 3600
MAX_ATTEMPTS = 3
STAMP = "%Y%m%dT%H%M%SZ"
STAMP_RE = r"\d{8}T\d{6}Z"
MAX_ERROR_CHARS = 2000


def file_name(name: str, at: datetime, fmt: str) -> str:
    """``<name>-<UTC timestamp>.<ext>``: sorts by time, and names its schedule."""
    return f"{name}-{at.astimezone(UTC):{STAMP}}.{fmt}"


def own_files(folder: Path, name: str) -> list[Path]:
    """This schedule's files in ``folder``, newest first (by the timestamp in the name)."""
    pattern = re.compile(rf"{re.escape(name)}-({STAMP_RE})\.(csv|xlsx|json)")
    found: list[tuple[str, Path]] = []
    for entry in os.scandir(folder):
        match = pattern.fullmatch(entry.name)
        if match and entry.is_file(follow_symlinks=False):
            found.append((match.group(1), Path(entry.path)))
    return [path for _, path in sorted(found, key=lambda item: item[0], reverse=True)]


def awaiting_mail(session: Session, folder: Path) -> frozenset[str]:
    """Names of the files in ``folder`` that a mail still queued (or being sent) attaches."""
    from lms_core.models.mail import MailStatus, OutboxMail

    waiting = (MailStatus.queued.value, MailStatus.sending.value)
    stmt = select(OutboxMail.attachment_path).where(
        OutboxMail.status.in_(waiting), OutboxMail.attachment_path.is_not(None)
    )
    here = folder.resolve()
    paths = [Path(text) for text in session.scalars(stmt) if text]
    return frozenset(path.name for path in paths if path.resolve().parent == here)


def prune(folder: Path, name: str, keep: int, held: frozenset[str] = frozenset()) -> list[str]:
    """Delete this schedule's files beyond the ``keep`` newest, except the ``held`` ones (a
    queued mail's attachment); the names deleted."""
    gone: list[str] = []
    for path in own_files(folder, name)[keep:]:
        if path.name in held:
            continue
        path.unlink(missing_ok=True)
        gone.append(path.name)
    return gone


def _open(path: Path, fmt: str) -> AbstractContextManager[IO[Any]]:
    """The gradebook's file, written whole or not at all (as ``lmsctl gradebook export -o``)."""
    from lms_core.formats.atomic import atomic_binary, atomic_text
    from lms_core.formats.output import csv_file

    if fmt == "csv":
        return csv_file(path)
    return atomic_text(path) if fmt == "json" else atomic_binary(path)


def write_export(
    session: Session, schedule: ExportSchedule, path: Path, at: datetime | None = None
) -> int:
    """Write the schedule's export to ``path`` with the same services (and the same
    formula-safe writers) as ``lmsctl gradebook export`` / ``lmsctl export`` / ``lmsctl
    reports`` (a report as at the slot ``at``); rows written."""
    actor = Actor.system(f"export-schedule:{schedule.name}")
    fmt = str(schedule.args.get("format", "csv"))
    course = schedule.args.get("course")
    if schedule.export_kind == ExportKind.report:
        from lms_core.exports.report_runs import build_report
        from lms_core.reports.output import write_report

        report = build_report(session, schedule, at or utcnow())
        with _open(path, fmt) as out:
            return write_report(session, report, fmt, out)
    if schedule.export_kind == ExportKind.gradebook:
        from lms_core.assignments.gradebook import export_gradebook

        with _open(path, fmt) as out:
            return export_gradebook(session, actor=actor, course_slug=str(course), fmt=fmt, out=out)
    from lms_core.exports.entities import export

    result = export(
        session,
        actor=actor,
        entity=schedule.export_kind,
        fmt=fmt,
        out=path,
        course_slug=course,
    )
    return sum(result.rows.values())


def _folder(schedule: ExportSchedule) -> Path:
    """The schedule's folder, which must still exist: an export never creates it (a folder
    gone is a mount missing or a mistake, and files written elsewhere would go unseen)."""
    folder = Path(schedule.folder)
    if not folder.is_dir():
        raise ValidationError(
            f"{folder} does not exist (removed, or not mounted?): create it, or remove "
            f"schedule {schedule.name}",
            field="folder",
            value=str(folder),
        )
    return folder


def _record_error(factory: SessionFactory, schedule_id: int, exc: BaseException) -> None:
    text = str(exc) if isinstance(exc, LmsError) else f"{type(exc).__name__}: {exc}"
    with unit_of_work(factory) as session:
        schedule = session.get(ExportSchedule, schedule_id)
        if schedule is not None:
            schedule.last_error = text[:MAX_ERROR_CHARS]
            schedule.last_run_at = utcnow()


def run_schedule(
    factory: SessionFactory,
    schedule_id: int,
    at: datetime,
    *,
    manual: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Write the file of the slot ``at``, prune, record it on the schedule (see the module
    docstring); a schedule removed (or disabled, unless ``manual``) since is skipped. A
    report schedule with ``mail`` queues its mails with that record (``settings``: the
    site's address for the mail's links; the process's settings when not given). A failure
    of any step, the mails' too, is recorded on the schedule; a schedule removed while its
    file was written records nothing and mails no one (removing it is how one stops it)."""
    try:
        with unit_of_work(factory, write=False) as session:
            schedule = session.get(ExportSchedule, schedule_id)
            if schedule is None:
                return {"skipped": "the schedule was removed"}
            if not schedule.enabled and not manual:
                return {"skipped": "the schedule is disabled"}
            name, keep, args = schedule.name, schedule.keep, dict(schedule.args)
            folder = _folder(schedule)
            path = folder / file_name(name, at, str(schedule.args.get("format", "csv")))
            rows = write_export(session, schedule, path, at)
            held = awaiting_mail(session, folder)
        pruned = prune(folder, name, keep, held)
        done: dict[str, Any] = {"schedule": name, "file": str(path), "rows": rows, "pruned": pruned}
        with unit_of_work(factory) as session:
            found = session.get(ExportSchedule, schedule_id)
            if found is None:
                done["skipped"] = "the schedule was removed during the run: nothing mailed"
                return done
            mailed = _mail(session, settings, name=name, args=args, path=path, at=at, rows=rows)
            found.last_run_at = utcnow()
            found.last_file = str(path)
            found.last_error = None
    except Exception as exc:
        _record_error(factory, schedule_id, exc)
        raise
    if mailed is not None:
        done["mails"] = mailed
    return done


def _mail(
    session: Session,
    settings: Settings | None,
    *,
    name: str,
    args: dict[str, Any],
    path: Path,
    at: datetime,
    rows: int,
) -> list[int] | None:
    """A report schedule's mails (their outbox ids), or None when it mails nothing."""
    if not args.get("mail"):
        return None
    from lms_core.exports.report_runs import mail_report
    from lms_core.settings import load_settings

    site = settings or load_settings()
    return mail_report(session, site, name=name, args=args, path=path, at=at, rows=rows)


@handler("exports.scheduled", max_attempts=MAX_ATTEMPTS, lease_seconds=LEASE_SECONDS)
def scheduled(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    at = datetime.fromisoformat(str(args["at"]))
    return run_schedule(
        ctx.session_factory,
        int(args["schedule_id"]),
        at,
        manual=bool(args.get("manual")),
        settings=ctx.settings,
    )


def _slot_jobs(session: Session, now: datetime | None) -> list[tuple[str, dict[str, Any]]]:
    """(key, args) of the export job of every due slot."""
    found: list[tuple[str, dict[str, Any]]] = []
    for schedule, slot in due_slots(session, now):
        args = {"schedule_id": schedule.id, "name": schedule.name, "at": slot.isoformat()}
        found.append((slot_key(schedule.name, slot), args))
    return found


def _enqueue_all(session: Session, due: list[tuple[str, dict[str, Any]]]) -> list[Job]:
    return [ledger.enqueue(session, "exports.scheduled", args, key=key) for key, args in due]


def queue_due(session: Session, now: datetime | None = None) -> list[Job]:
    """Queue the export job of every due slot (a slot already queued gives its job back)."""
    return _enqueue_all(session, _slot_jobs(session, now))


@handler("exports.dispatch", max_attempts=2, lease_seconds=120)
def dispatch(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """The periodic entry ``export-schedules`` (every minute): queue each due slot's job;
    the worker (or the same ``run-due``) then runs them. The slots are found in a read-only
    unit of work: on SQLite the write lock is held only while the jobs are queued."""
    with unit_of_work(ctx.session_factory, write=False) as session:
        due = _slot_jobs(session, None)
    if not due:
        return {"due_jobs": []}
    with unit_of_work(ctx.session_factory) as session:
        return {"due_jobs": [job.id for job in _enqueue_all(session, due)]}


def queue_run_now(session: Session, *, actor: Actor, name: str) -> Job:
    """``schedules run NAME``: a job for one run now (enabled or not), keyed by the second."""
    schedule = get_schedule(session, actor=actor, name=name)
    now = utcnow().replace(microsecond=0)
    args = {"schedule_id": schedule.id, "name": name, "at": now.isoformat(), "manual": True}
    key = f"export:{name}:now:{now:%Y-%m-%dT%H:%M:%S}"
    existing = session.scalars(select(Job).where(Job.key == key)).first()
    if existing is not None:  # twice in one second: the same file, run again
        key = f"{key}:{existing.id}"
    return ledger.enqueue(session, "exports.scheduled", args, key=key)
